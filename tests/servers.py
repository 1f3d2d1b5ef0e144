"""Servers the tests start on free loopback ports: the app in a uvicorn thread, or ``povreg serve``
as a user runs it, in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import uvicorn

#: The ``povreg`` command of this environment.
POVREG = str(Path(sys.executable).with_name("povreg"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread: its base URL, while the block runs."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def povreg_serve(database_url: str, *options: str, ready: str = "/docs", timeout: float = 30) -> Iterator[str]:
    """``povreg serve`` with ``options`` on the store of ``database_url``, in a subprocess: its base URL
    once ``ready`` answers 200, while the block runs (then terminated)."""
    port = free_port()
    env = {**os.environ, "POVREG_DATABASE_URL": database_url}
    server = subprocess.Popen([POVREG, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                               *options], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx2.get(base + ready, timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, f"povreg serve {' '.join(options)} did not start"
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
