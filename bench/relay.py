"""Benchmark — the Kafka relay: throughput, and end-to-end latency write → subscriber applied.

- **throughput**: a simulated county's log is written first; then ``Relay.drain``
  publishes all of it (events/s): one relay process, then ``--shards`` relay
  processes (``povreg relay --shard i/N``) side by side, each on a fresh topic,
  first without the ``.restatements`` topic (findings only), then with it (every
  restatement computed and published, as deployed). Baseline: a naive relay in the
  same process, one ``send().get()`` per event (each acknowledged before the next
  is sent), on the log's first events, run before and after the relays (the ratios
  divide by their mean). Target ≥ 20,000 events/s.
- **latency** (not with ``--no-latency``): the relay (with the restatements topic)
  and a subscriber run while commands are recorded at 1,000 events/s offered (10 per
  transaction); the latency of an event is from the commit of its transaction to the
  commit of the subscriber's transaction that applied it (p50/p99). Baseline: the same
  with the naive relay. Target p99 < 1 s.

The broker is ``POVREG_KAFKA_BOOTSTRAP`` if set, else a Tansu started here (the
tests' broker, tests/kafka_broker.py). The relays and the subscriber run in
processes of their own, as deployed; all of them share the machine with the
broker and the database, and the figures include that contention.

    python -m bench.relay [--households N] [--backend sqlite|postgres|both] [--rate 1000]
                          [--seconds 10] [--shards 2] [--no-latency] [--quick] [--json FILE]
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    Result,
    backends,
    base_parser,
    bench_settings,
    county,
    events_per_second,
    open_registry,
    percentiles,
    scratch_store,
    write_json,
)
from consumers.base import Subscriber, SubscriberRunner
from consumers.messages import POSITION_HEADER, FeedMessage, value_from_notification
from consumers.producer import producer_settings
from consumers.relay import Relay, RelayConfig
from consumers.restatements import restatement_topic
from persistence.db import Tx
from service.feed import HOUSEHOLD_TOPIC_PREFIX
from service.registry import Registry
from simulation import LoadReport, load, put_divisions

HOUSEHOLDS = 5_000
QUICK_HOUSEHOLDS = 150
PARTITIONS = 4
BASELINE_EVENTS = 3_000
SESSION_TIMEOUT_MS = 6_000


# ------------------------------------------------------------------ broker


@contextmanager
def broker() -> Iterator[str]:
    """A broker's bootstrap address: POVREG_KAFKA_BOOTSTRAP, or a Tansu of our own."""
    bootstrap = os.environ.get("POVREG_KAFKA_BOOTSTRAP")
    if bootstrap:
        yield bootstrap
        return
    from tests.kafka_broker import TansuBroker

    with TansuBroker() as tansu:
        yield tansu.bootstrap


def new_topic(bootstrap: str, partitions: int = PARTITIONS, restatements: bool = False) -> str:
    """A fresh topic (and, with ``restatements``, its ``.restatements`` topic, as deployed)."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    name = f"bench-household-events-{uuid.uuid4().hex[:8]}"
    topics = [name, *([restatement_topic(name)] if restatements else [])]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=1) for t in topics])
    finally:
        admin.close()
    return name


# --------------------------------------------------------------- baselines


class NaiveRelay:
    """The obvious relay: read the log, send each event and wait for its acknowledgement."""

    def __init__(self, registry: Registry, bootstrap: str, topic: str) -> None:
        from kafka import KafkaProducer

        self.registry = registry
        self.topic = topic
        self.producer = KafkaProducer(**producer_settings(registry.settings, bootstrap, {"linger_ms": 0}))
        self.position = 0

    def publish(self, limit: int | None = None, stop: threading.Event | None = None) -> int:
        """Publish what follows ``position`` (at most ``limit`` events); returns how many."""
        sent = 0
        page = self.registry.recorder.select_notifications(start=self.position + 1, limit=limit or 1000)
        for n in page:
            if n.topic.startswith(HOUSEHOLD_TOPIC_PREFIX):
                self.producer.send(self.topic, key=str(n.originator_id).encode(),
                                   value=value_from_notification(n, self.registry.mapper),
                                   headers=[(POSITION_HEADER, str(n.id).encode())]).get(timeout=30)
                sent += 1
            self.position = n.id
            if stop is not None and stop.is_set():
                break
        return sent

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.publish(stop=stop):
                stop.wait(0.05)

    def close(self) -> None:
        self.producer.close(timeout=5)


# -------------------------------------------------------------- throughput


def _drain_shard(url: str, bootstrap: str, topic: str, shard: tuple[int, int] | None, go: Any,
                 out: Any) -> None:
    """In a child process: connect, wait for ``go``, publish the whole log; report (events, restatements,
    start, end)."""
    settings = bench_settings(url, kafka_bootstrap=bootstrap, kafka_topic=topic, inline_projections=False)
    relay = Relay(settings, RelayConfig(bootstrap=bootstrap, topic=topic, shard=shard))
    try:
        relay.registry.recorder.max_notification_id()  # warm the connection before the clock starts
        go.wait()
        started = time.monotonic()
        relay.drain(timeout=1800)
        out.put((relay.published_total, relay.restatements_total, started, time.monotonic()))
    finally:
        relay.close()


@dataclass
class Published:
    events: int
    restatements: int
    seconds: float

    def figures(self) -> dict[str, Any]:
        return {"events": self.events, "restatements": self.restatements, "seconds": round(self.seconds, 2),
                "events_per_s": round(self.events / self.seconds)}


def relay_processes(url: str, bootstrap: str, topic: str, count: int) -> Published:
    """``count`` relay processes (shards i/count; one unsharded if count is 1) publishing the log at once:
    what they published, in the seconds from the first start to the last end."""
    context = multiprocessing.get_context("spawn")
    go, out = context.Event(), context.Queue()
    shards = [None] if count == 1 else [(i, count) for i in range(count)]
    children = [context.Process(target=_drain_shard, args=(url, bootstrap, topic, shard, go, out))
                for shard in shards]
    for child in children:
        child.start()
    time.sleep(3.0)  # imports and connections, before the clock starts
    go.set()
    reports = [out.get(timeout=2400) for _ in children]
    for child in children:
        child.join(60)
        if child.exitcode != 0:
            raise RuntimeError(f"a relay process exited with {child.exitcode}")
    return Published(sum(r[0] for r in reports), sum(r[1] for r in reports),
                     max(r[3] for r in reports) - min(r[2] for r in reports))


def naive_rate(registry: Registry, bootstrap: str) -> dict[str, Any]:
    """The baseline: the naive relay's events/s on the log's first events, on a fresh topic."""
    naive = NaiveRelay(registry, bootstrap, new_topic(bootstrap))
    try:
        return events_per_second(lambda: naive.publish(limit=BASELINE_EVENTS))
    finally:
        naive.close()


def run_throughput(backend: str, households: int, seed: int, bootstrap: str, shards: int) -> dict[str, Any]:
    """One relay and ``shards`` relays, each without and with the restatements topic, between two runs of
    the baseline (their mean is what the ratios divide by)."""
    c = county(households, seed)
    runs: dict[str, Published] = {}
    with scratch_store(backend) as url:
        registry, clock = open_registry(url)
        try:
            report = load(registry, c.recordings, clock, divisions=c.divisions, batch_size=1000, window_days=3650)
            head = registry.recorder.max_notification_id() or 0
            before = naive_rate(registry, bootstrap)
            for restating in (False, True):
                suffix = "_with_restatements" if restating else ""
                for count in (1, shards):
                    name = ("relay" if count == 1 else f"relay_{count}_shards") + suffix
                    runs[name] = relay_processes(url, bootstrap, new_topic(bootstrap, restatements=restating), count)
                    print(f"  {backend}: {name}: {runs[name].figures()['events_per_s']} events/s", flush=True)
            after = naive_rate(registry, bootstrap)
        finally:
            registry.close()
    baseline = (before["events_per_s"] + after["events_per_s"]) / 2
    figures: dict[str, Any] = {"backend": backend, "households": households, "events_recorded": report.recorded,
                               "log_positions": head}
    for name, run in runs.items():
        figures[name] = run.figures()
    figures["baseline_send_and_wait_each"] = {"before": before, "after": after}
    for name, run in runs.items():
        figures[f"ratio_{name}_over_baseline"] = round(run.events / run.seconds / baseline, 1)
    figures["target_events_per_s"] = 20_000
    figures["meets_target"] = {name: run.events / run.seconds >= 20_000 for name, run in runs.items()}
    return figures


# ----------------------------------------------------------------- latency


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


# -------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> list[Result]:
    parser = base_parser(__doc__ or "", HOUSEHOLDS, QUICK_HOUSEHOLDS)
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s offered in the latency run")
    parser.add_argument("--seconds", type=float, default=None, help="length of the latency run (default 10; quick 2)")
    parser.add_argument("--shards", type=int, default=2, help="relay processes in the sharded throughput run")
    parser.add_argument("--no-latency", action="store_true", help="the throughput runs only")
    args = parser.parse_args(argv)
    households = args.households or (QUICK_HOUSEHOLDS if args.quick else HOUSEHOLDS)
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    results = []
    c = county(households, args.seed)
    print(f"simulated {households} households: {c.events} events")
    with broker() as bootstrap:
        for backend in backends(args.backend):
            figures = run_throughput(backend, households, args.seed, bootstrap, max(1, args.shards))
            result = Result(f"relay-throughput/{backend}", figures)
            result.notes.append("baseline: one send().get() per event, each acknowledged before the next")
            result.print()
            results.append(result)
            if args.no_latency:
                continue
            fast = run_latency(backend, households, args.seed, bootstrap, args.rate, seconds, naive=False)
            slow = run_latency(backend, households, args.seed, bootstrap, args.rate, seconds, naive=True)
            result = Result(f"relay-latency/{backend}", {
                "backend": backend, "relay": fast, "baseline": slow,
                "ratio_baseline_p99_over_relay_p99": round(slow["p99_ms"] / max(fast["p99_ms"], 0.001), 1),
                "target_p99_ms": 1000, "meets_target": fast["p99_ms"] < 1000 and not fast["not_applied_within_60s"],
            })
            result.notes.append("latency: commit of the recording transaction → commit of the subscriber's "
                                "transaction that applied the event (its own SQLite database)")
            result.print()
            results.append(result)
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
