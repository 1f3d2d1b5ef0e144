"""The relay's end-to-end latency (``python -m bench.relay``): write → the subscriber applied it.

The relay (or the naive one) and a subscriber run in processes of their own while commands are
recorded at a given rate (10 per transaction); the latency of an event is from the commit of its
transaction to the commit of the subscriber's transaction that applied it.
"""

from __future__ import annotations

import multiprocessing
import queue
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from bench.common import bench_settings, county, open_registry, percentiles, scratch_store
from bench.topics import NaiveRelay, new_topic
from consumers.base import Subscriber, SubscriberRunner
from consumers.messages import FeedMessage
from consumers.relay import Relay, RelayConfig
from persistence.db import Tx
from service.registry import Registry
from simulation import LoadReport, load, put_divisions

SESSION_TIMEOUT_MS = 6_000


class Stamp(Subscriber):
    """Remembers the positions it applied; the runner stamps them once their transaction committed."""

    name = "bench-latency"
    tables = ("CREATE TABLE IF NOT EXISTS bench_applied (position BIGINT PRIMARY KEY)",)

    def __init__(self) -> None:
        self.batch: list[int] = []

    def handle_batch(self, messages: Sequence[FeedMessage], tx: Tx) -> None:
        tx.insert_many("bench_applied", ("position",), [(m.position,) for m in messages])
        self.batch.extend(m.position for m in messages)

    def rolled_back(self) -> None:
        self.batch.clear()


class TimedRunner(SubscriberRunner):
    """Stamps each applied position with the (system-wide) monotonic clock after its transaction committed."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.applied_at: dict[int, float] = {}

    def process(self, records: Sequence[Any], stop: threading.Event | None = None) -> bool:
        done = super().process(records, stop)
        now = time.monotonic()
        subscriber = self.subscriber
        assert isinstance(subscriber, Stamp)
        for position in subscriber.batch:
            self.applied_at.setdefault(position, now)
        subscriber.batch.clear()
        return done


def _stop_when(event: Any) -> threading.Event:
    """A thread event set when the inter-process ``event`` is."""
    local = threading.Event()

    def relay() -> None:
        event.wait()
        local.set()

    threading.Thread(target=relay, daemon=True).start()
    return local


def _relay_child(url: str, bootstrap: str, topic: str, naive: bool, ready: Any, stop: Any) -> None:
    """In a child process (as in production, apart from the API): the relay, until ``stop``."""
    settings = bench_settings(url, kafka_bootstrap=bootstrap, kafka_topic=topic, inline_projections=False)
    registry = Registry(settings)
    relay: Any = (NaiveRelay(registry, bootstrap, topic) if naive
                  else Relay(settings, RelayConfig(bootstrap=bootstrap, topic=topic), registry=registry))
    try:
        ready.set()
        relay.run(_stop_when(stop))
    finally:
        relay.close()
        registry.close()


def _subscriber_child(url: str, bootstrap: str, topic: str, ready: Any, stop: Any, out: Any) -> None:
    """In a child process: a subscriber with its own database; reports {position: applied at} at the end."""
    settings = bench_settings(url, kafka_bootstrap=bootstrap, kafka_topic=topic)
    runner = TimedRunner(Stamp(), settings, group=f"bench-{uuid.uuid4().hex[:8]}",
                         session_timeout_ms=SESSION_TIMEOUT_MS)
    local = _stop_when(stop)
    thread = threading.Thread(target=runner.run, args=(local,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not runner.partitions and time.monotonic() < deadline:
        time.sleep(0.05)
    ready.set()
    local.wait()
    thread.join(30)
    runner.close()
    out.put(runner.applied_at)


def run_latency(backend: str, households: int, seed: int, bootstrap: str, rate: float, seconds: float,
                naive: bool) -> dict[str, Any]:
    """Record at ``rate`` events/s for ``seconds`` while the relay (or the naive one) and a subscriber run,
    each in its own process."""
    c = county(households, seed)
    wanted = int(rate * seconds)
    context = multiprocessing.get_context("spawn")
    with scratch_store(backend) as url, tempfile.TemporaryDirectory(prefix="povreg-bench-sub-") as tmp:
        registry, clock = open_registry(url)
        topic = new_topic(bootstrap, restatements=True)  # as deployed
        sub_url = f"sqlite:///{Path(tmp) / 'subscriber.db'}"  # the subscriber is another system, its own database
        stop, out = context.Event(), context.Queue()
        relay_ready, sub_ready = context.Event(), context.Event()
        children = [context.Process(target=_relay_child, args=(url, bootstrap, topic, naive, relay_ready, stop)),
                    context.Process(target=_subscriber_child, args=(sub_url, bootstrap, topic, sub_ready, stop, out))]
        committed: list[tuple[int, float]] = []
        try:
            put_divisions(registry, clock, c.divisions)
            for child in children:
                child.start()
            if not (relay_ready.wait(60) and sub_ready.wait(60)):
                raise RuntimeError("the relay or the subscriber did not start")
            started = time.monotonic()

            def pace(report: LoadReport, _last: Any) -> None:
                committed.append((registry.recorder.max_notification_id() or 0, time.monotonic()))
                ahead = started + report.recorded / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)

            report = load(registry, c.recordings[:wanted], clock, batch_size=10, window_days=3650, on_batch=pace)
            offered = report.recorded / (time.monotonic() - started)
            head = committed[-1][0] if committed else 0
            expected = _household_positions(registry, head)
            _wait_applied(sub_url, len(expected), timeout=60)
        finally:
            stop.set()
            applied: dict[int, float] = {}
            if children[1].pid is not None:  # started: read its report before joining it
                with suppress(queue.Empty):
                    applied = out.get(timeout=60)
            for child in children:
                if child.pid is not None:
                    child.join(30)
            registry.close()
    latencies = _latencies(committed, applied, expected)
    missing = len(expected - applied.keys())
    return {"relay": "naive (send and wait each)" if naive else "relay", "offered_events_per_s": round(offered),
            "events": len(expected), "not_applied_within_60s": missing, **percentiles(latencies)}


def _wait_applied(sub_url: str, count: int, timeout: float) -> None:
    """Until the subscriber's database holds ``count`` applied events (or ``timeout``)."""
    import sqlite3

    path = sub_url.removeprefix("sqlite:///")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(path, timeout=5) as conn:
                (done,) = conn.execute("SELECT count(*) FROM bench_applied").fetchone()
            if done >= count:
                return
        except sqlite3.Error:  # not created yet
            pass
        time.sleep(0.1)


def _household_positions(registry: Registry, head: int) -> set[int]:
    return {p for p, _ in registry.feed(0, 10**9) if p <= head}


def _latencies(committed: list[tuple[int, float]], applied: dict[int, float], positions: set[int]) -> list[float]:
    """For each applied event: applied − the commit of the first transaction whose head reached it."""
    out = []
    marks = sorted(committed)
    i = 0
    for position in sorted(positions):
        while i < len(marks) and marks[i][0] < position:
            i += 1
        if i < len(marks) and position in applied:
            out.append(applied[position] - marks[i][1])
    return out
