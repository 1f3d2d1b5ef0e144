"""The processes a benchmark measures: ``povreg serve`` started on a free port, and the CPU
seconds spent by a process tree or by the database server's backends (read from ``/proc``)."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ServerCpu:
    """CPU seconds spent by the local PostgreSQL server's processes while the block runs
    (``with ServerCpu() as cpu: …; cpu.seconds``), read from ``/proc``. Backends come and go
    with the connection pools, so a thread samples them twice a second and keeps each one's
    last reading; what a process spends after its last sample is missed (at most half a
    second of it). ``seconds`` is None when not ``enabled`` or where ``/proc`` shows no
    PostgreSQL (a server on another host). With ``database``, only the backends serving that
    database count (on a machine shared with other work; the server's own background
    writers are then left out)."""

    def __init__(self, interval: float = 0.5, enabled: bool = True, database: str | None = None) -> None:
        self.interval = interval
        self.enabled = enabled
        self.prefix = b"postgres" if database is None else b"postgres: "
        self.database = None if database is None else f" {database} ".encode()
        self.seconds: float | None = None
        self._before: dict[int, float] = {}
        self._seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _sample(self) -> dict[int, float]:
        ticks = os.sysconf("SC_CLK_TCK")
        found: dict[int, float] = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read(200)
                if not cmdline.startswith(self.prefix) or (self.database and self.database not in cmdline):
                    continue
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            found[int(pid)] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        return found

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            self._seen.update(self._sample())

    def __enter__(self) -> ServerCpu:
        if self.enabled and os.path.isdir("/proc"):
            self._before = self._sample()
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        if not self._thread.is_alive():
            return
        self._stop.set()
        self._thread.join()
        self._seen.update(self._sample())
        if self._seen:
            self.seconds = round(sum(cpu - self._before.get(pid, 0.0) for pid, cpu in self._seen.items()), 1)


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its live descendants (uvicorn's workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    todo += [int(child) for child in f.read().split()]
        except OSError:  # gone meanwhile, or no /proc
            continue
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def povreg_argv() -> list[str]:
    """How to run this checkout's ``povreg`` script."""
    script = Path(sys.executable).parent / "povreg"
    if script.exists():
        return [str(script)]
    found = shutil.which("povreg")
    return [found] if found else [sys.executable, "-c", "from cli import app; app()"]


@contextmanager
def serve_process(url: str, env: dict[str, str] | None = None, workers: int = 1) -> Iterator[tuple[int, int]]:
    """``povreg serve`` on ``url`` at a free loopback port, in its own process group; yields its
    port and pid once it answers. A server that exits early raises with the end of its stderr."""
    port = free_port()
    argv = [*povreg_argv(), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    if workers > 1:
        argv += ["--workers", str(workers)]
    proc = subprocess.Popen(argv, env={**os.environ, "POVREG_DATABASE_URL": url, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"povreg serve exited with {proc.returncode}: "
                                   f"{(proc.stderr.read() if proc.stderr else b'').decode()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("povreg serve did not answer within 120 s")
            time.sleep(0.2)
        yield port, proc.pid
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
