"""Fixtures of the Kafka suite: a real Kafka-protocol broker (Tansu) and helpers to run the pieces."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from bootstrap.settings import Settings
from consumers.base import Subscriber, SubscriberRunner
from consumers.messages import FeedMessage
from consumers.relay import Relay, RelayConfig
from persistence.db import Tx
from service.registry import Registry
from tests.kafka.workload import StepClock, setup_divisions
from tests.kafka_broker import TansuBroker, start_broker

# kafka-python 3.0 loads its protocol schemas at import with importlib.resources' deprecated API
# (218 DeprecationWarnings): import it once, quietly, before any test module does.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka  # noqa: F401


#: Tansu completes a group join after half the session timeout: keep it short in tests.
SESSION_TIMEOUT_MS = 6000
PARTITIONS = 4


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    b = start_broker(log_dir=tmp_path_factory.mktemp("tansu"))
    yield b
    b.stop()


@pytest.fixture
def topic(broker: TansuBroker) -> str:
    name = f"household-events-{uuid.uuid4().hex[:8]}"
    broker.create_topic(name, PARTITIONS)
    broker.create_topic(name + ".dlq", 1)
    return name


@pytest.fixture
def kafka_settings(database_url: str, broker: TansuBroker, topic: str) -> Settings:
    return Settings(database_url=database_url, kafka_bootstrap=broker.bootstrap, kafka_topic=topic,
                    inline_projections=False)


def with_pii_topic(broker: TansuBroker, settings: Settings) -> Settings:
    """``settings`` with the opt-in personal-data topic (``<topic>.pii``, created with its ``.dlq``): what
    the projection consumers read."""
    pii_topic = f"{settings.kafka_topic}.pii"
    broker.create_topic(pii_topic, PARTITIONS)
    broker.create_topic(f"{pii_topic}.dlq", 1)
    return settings.model_copy(update={"kafka_pii_topic": pii_topic})


@pytest.fixture
def store(kafka_settings: Settings) -> Iterator[tuple[Registry, StepClock]]:
    clock = StepClock()
    registry = Registry(kafka_settings, clock=clock)
    setup_divisions(registry, clock)
    yield registry, clock
    registry.close()


class Collector(Subscriber):
    """A test subscriber: logs every application (no unique key, so a double effect would show)."""

    name = "collector"
    tables = (
        "CREATE TABLE IF NOT EXISTS collected (event_id TEXT NOT NULL, household_id TEXT NOT NULL,"
        " version INTEGER NOT NULL, position BIGINT NOT NULL, seq BIGINT NOT NULL)",
    )

    def __init__(self) -> None:
        self.seq = 0
        self.lock = threading.Lock()

    def handle(self, message: FeedMessage, tx: Tx) -> None:
        self.handle_batch([message], tx)

    def handle_batch(self, messages: Sequence[FeedMessage], tx: Tx) -> None:
        rows = []
        with self.lock:
            for m in messages:
                self.seq += 1
                rows.append((m.event_id, m.household_id, m.version, m.position, self.seq))
        tx.insert_many("collected", ("event_id", "household_id", "version", "position", "seq"), rows)


def collected(runner: SubscriberRunner) -> list[tuple[str, str, int, int]]:
    return [tuple(r) for r in runner.db.query(  # type: ignore[misc]
        "SELECT event_id, household_id, version, position FROM collected ORDER BY seq")]


class Background:
    """Runs ``target(stop)`` in a thread; ``stop()`` sets the event and joins."""

    def __init__(self, target: Callable[[threading.Event], Any], name: str) -> None:
        self.event = threading.Event()
        self.error: BaseException | None = None

        def run() -> None:
            try:
                target(self.event)
            except BaseException as exc:
                self.error = exc
                raise

        self.thread = threading.Thread(target=run, name=name, daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self.event.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"{self.thread.name} did not stop"
        if self.error is not None:
            raise self.error


def povreg_process(settings: Settings, args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    """``povreg ARGS`` in a child process (the real entry point), its output appended to ``log``."""
    env = {**os.environ, "POVREG_DATABASE_URL": settings.database_url,
           "POVREG_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "", "POVREG_KAFKA_TOPIC": settings.kafka_topic,
           "POVREG_KAFKA_PII_TOPIC": settings.kafka_pii_topic or "",
           "POVREG_INLINE_PROJECTIONS": "false", "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-c", "from cli import app; app()", *args],
                                env=env, stdout=out, stderr=subprocess.STDOUT)


def consumer_process(settings: Settings, subscriber: str, group: str, log: Path,
                     *more: str) -> tuple[subprocess.Popen[bytes], int]:
    """``povreg consume SUBSCRIBER`` in a child process, in ``group``, with the tests' session timeout and
    its metrics on a free port: the process and the port."""
    from tests.kafka_broker import free_port

    port = free_port()
    args = ["consume", subscriber, "--group", group, "--session-timeout-ms", str(SESSION_TIMEOUT_MS),
            "--metrics-port", str(port), "--metrics-host", "127.0.0.1", *more]
    return povreg_process(settings, args, log), port


def terminate(process: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """SIGTERM (a clean stop) and the exit code; SIGKILL if it does not stop in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"process {process.args!r} did not stop on SIGTERM") from None
    return int(process.returncode)


def get_health(port: int) -> tuple[int, dict[str, Any]]:
    """GET /health of a metrics endpoint: (status, JSON); (0, {}) while nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return 0, {}


def run_relay(settings: Settings, **config: Any) -> tuple[Relay, Background]:
    assert settings.kafka_bootstrap
    relay = Relay(settings, RelayConfig(bootstrap=settings.kafka_bootstrap, topic=settings.kafka_topic,
                                        backoff_max=2.0, **config))
    return relay, Background(relay.run, "relay")


class SubscriberBackground(Background):
    """A subscriber in a thread that, asked to stop, first lets its group join finish.

    Tansu (the test broker) wedges a group for good when a member leaves in the middle of a join:
    no later member can join it. Apache Kafka does not; the runner leaves when told. The tests wait
    here — at most a session timeout and a bit — until the member holds partitions.
    """

    def __init__(self, runner: SubscriberRunner) -> None:
        self.runner = runner
        super().__init__(runner.run, f"subscriber-{runner.subscriber.name}")

    def stop(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + self.runner.session_timeout_ms / 1000 + 5
        while not self.runner.partitions and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        super().stop(timeout)


def run_subscriber(runner: SubscriberRunner) -> Background:
    return SubscriberBackground(runner)


def unique_group(name: str) -> str:
    """A consumer group of one test alone: tests share a broker, and a group that a test leaves in a
    bad state (or with committed offsets) must not leak into the next one."""
    return f"povreg-{name}-{uuid.uuid4().hex[:8]}"


def runner_for(subscriber: Subscriber, settings: Settings, **kw: Any) -> SubscriberRunner:
    kw.setdefault("session_timeout_ms", SESSION_TIMEOUT_MS)
    kw.setdefault("group", unique_group(subscriber.name))
    return SubscriberRunner(subscriber, settings, **kw)


def wait_assigned(*runners: SubscriberRunner, timeout: float = 30.0) -> None:
    """Until every runner holds partitions and together they hold the whole topic."""
    def split() -> bool:
        held = [p for r in runners for p in r.partitions]
        return all(r.partitions for r in runners) and sorted(held) == list(range(PARTITIONS))

    wait_for(split, timeout, "the group to assign every partition", interval=0.05)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def household_events(registry: Registry) -> list[tuple[int, Any]]:
    """Every household event in the log: (position, RecordedEvent)."""
    return registry.feed(0, 10_000_000)


def projection_rows(store: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of a ProjectionStore's household tables (sealed values opened, JSON text
    compared by value), sorted."""
    def norm(value: Any) -> Any:
        if isinstance(value, str) and value[:1] == "~":
            value = store.db.sealer.unseal(value)  # each sealing draws a new nonce
        if isinstance(value, str) and value[:1] in "{[":
            return json.dumps(json.loads(value), sort_keys=True)
        return value

    out = {}
    with store.db.read() as tx:
        for table in store.households.tables:
            rows = tx.query(f"SELECT {', '.join(table.column_names)} FROM {table.name}")
            out[table.name] = sorted((tuple(norm(v) for v in row) for row in rows), key=repr)
    return out


def topic_items(broker: TansuBroker, topic: str, expect: int | None = None) -> list[tuple[Any, dict[str, Any]]]:
    return [(r, json.loads(r.value)) for r in broker.read_all(topic, timeout=30, expect=expect)]


def assert_order_per_household(items: list[tuple[Any, dict[str, Any]]]) -> None:
    """On each partition, each household's versions first appear in order 1, 2, 3, …; a household
    lives on one partition; re-sent copies (at-least-once) only repeat what was already seen."""
    partition_of: dict[str, int] = {}
    seen: dict[str, int] = {}
    for record, item in sorted(items, key=lambda ri: (ri[0].partition, ri[0].offset)):
        hid = item["household_id"]
        assert record.key == hid.encode()
        assert partition_of.setdefault(hid, record.partition) == record.partition, f"{hid} on two partitions"
        version = item["version"]
        if version > seen.get(hid, 0):
            assert version == seen.get(hid, 0) + 1, f"{hid}: v{version} before v{seen.get(hid, 0) + 1}"
            seen[hid] = version
