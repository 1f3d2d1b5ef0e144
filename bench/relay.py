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
tests' broker, tests/kafka_broker.py; bench/topics.py). The latency run is in
bench/relay_latency.py. The relays and the subscriber run in
processes of their own, as deployed; all of them share the machine with the
broker and the database, and the figures include that contention.

    python -m bench.relay [--households N] [--backend sqlite|postgres|both] [--rate 1000]
                          [--seconds 10] [--shards 2] [--no-latency] [--quick] [--json FILE]
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from typing import Any

from bench.common import (
    Result,
    backends,
    base_parser,
    bench_settings,
    county,
    events_per_second,
    open_registry,
    reported,
    scratch_store,
    write_json,
)
from bench.relay_latency import run_latency
from bench.topics import NaiveRelay, broker, new_topic
from consumers.relay import Relay, RelayConfig
from service.registry import Registry
from simulation import load

HOUSEHOLDS = 5_000
QUICK_HOUSEHOLDS = 150
BASELINE_EVENTS = 3_000


def _drain_shard(url: str, bootstrap: str, topic: str, shard: tuple[int, int] | None, go: Any,
                 out: Any, pii_topic: str | None = None) -> None:
    """In a child process: connect, wait for ``go``, publish the whole log; report (events, restatements,
    start, end, CPU seconds of the process — its producer's thread included)."""
    settings = bench_settings(url, kafka_bootstrap=bootstrap, kafka_topic=topic, inline_projections=False)
    relay = Relay(settings, RelayConfig(bootstrap=bootstrap, topic=topic, shard=shard, pii_topic=pii_topic))
    try:
        relay.registry.recorder.max_notification_id()  # warm the connection before the clock starts
        go.wait()
        started, cpu = time.monotonic(), time.process_time()
        relay.drain(timeout=1800)
        out.put((relay.published_total, relay.restatements_total, started, time.monotonic(),
                 time.process_time() - cpu))
    finally:
        relay.close()


@dataclass
class Published:
    events: int
    restatements: int
    seconds: float
    #: CPU seconds of the relay processes: what a shared machine changes least
    cpu_seconds: float

    def figures(self) -> dict[str, Any]:
        return {"events": self.events, "restatements": self.restatements, "seconds": round(self.seconds, 2),
                "events_per_s": round(self.events / self.seconds), "cpu_s": round(self.cpu_seconds, 2),
                "events_per_cpu_s": round(self.events / self.cpu_seconds)}


def relay_processes(url: str, bootstrap: str, topic: str, count: int, pii_topic: str | None = None) -> Published:
    """``count`` relay processes (shards i/count; one unsharded if count is 1) publishing the log at once
    (and to ``pii_topic`` too, if given): what they published, in the seconds from the first start to
    the last end."""
    context = multiprocessing.get_context("spawn")
    go, out = context.Event(), context.Queue()
    shards = [None] if count == 1 else [(i, count) for i in range(count)]
    children = [context.Process(target=_drain_shard, args=(url, bootstrap, topic, shard, go, out, pii_topic))
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
                     max(r[3] for r in reports) - min(r[2] for r in reports), sum(r[4] for r in reports))


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
    results: list[Result] = []
    c = county(households, args.seed)
    print(f"simulated {households} households: {c.events} events")
    with broker() as bootstrap:
        for backend in backends(args.backend):
            reported(results, f"relay-throughput/{backend}",
                     run_throughput(backend, households, args.seed, bootstrap, max(1, args.shards)),
                     "baseline: one send().get() per event, each acknowledged before the next")
            if args.no_latency:
                continue
            fast = run_latency(backend, households, args.seed, bootstrap, args.rate, seconds, naive=False)
            slow = run_latency(backend, households, args.seed, bootstrap, args.rate, seconds, naive=True)
            reported(results, f"relay-latency/{backend}", {
                "backend": backend, "relay": fast, "baseline": slow,
                "ratio_baseline_p99_over_relay_p99": round(slow["p99_ms"] / max(fast["p99_ms"], 0.001), 1),
                "target_p99_ms": 1000, "meets_target": fast["p99_ms"] < 1000 and not fast["not_applied_within_60s"],
            }, "latency: commit of the recording transaction → commit of the subscriber's transaction that "
               "applied the event (its own SQLite database)")
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
