"""Benchmark 7 — the scaled mode: projection consumers in one group, 1 against 2.

A simulated county's log is published once by the relay to a fresh topic of
``--partitions`` partitions; then, for each consumer count (``--consumers 1,2``),
that many ``povreg consume projections`` processes (one consumer group, a fresh
read-model store each time) build the household read models from the topic. The
figure is household events applied per second, from the moment the consumers are
told to start until every event is in ``proj_events`` (so it includes the group's
join and rebalance), and also from the first applied row. The first count is the
baseline of the others' ratios. Every process shares the machine with the broker
(the tests' Tansu unless ``POVREG_KAFKA_BOOTSTRAP`` is set) and the database.

    python -m bench.scaleout [--households N] [--consumers 1,2] [--partitions 4] [--backend postgres]
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from typing import Any

from bench.common import (
    Result,
    backends,
    base_parser,
    bench_settings,
    county,
    load_county,
    open_registry,
    reported,
    scratch_store,
    write_json,
)
from bench.relay import relay_processes
from bench.topics import broker, new_topic

HOUSEHOLDS = 1_000
QUICK_HOUSEHOLDS = 60


def _consumer_child(url: str, bootstrap: str, topic: str, group: str, go: Any, stop: Any) -> None:
    """In a child process: one member of ``group`` projecting ``topic`` (the personal-data topic) into the
    store of ``url``."""
    from consumers.projections import projection_runner

    settings = bench_settings(url, kafka_bootstrap=bootstrap, kafka_topic=topic.removesuffix(".pii"),
                              kafka_pii_topic=topic, inline_projections=False)
    runner, registry = projection_runner(settings, group=group)
    stopping = threading.Event()

    def relay_stop() -> None:
        stop.wait()
        stopping.set()

    threading.Thread(target=relay_stop, daemon=True).start()
    try:
        go.wait()
        runner.run(stopping)
    finally:
        runner.close()
        registry.close()


def _applied(url: str) -> int:
    from persistence.db import Database

    registry, _ = open_registry(url)
    try:
        db = Database(registry.settings)
        try:
            with db.read() as tx:
                return int(tx.scalar("SELECT count(*) FROM proj_events") or 0)
        except Exception:  # the tables are not there yet
            return 0
        finally:
            db.close()
    finally:
        registry.close()


def consume(bootstrap: str, topic: str, backend: str, consumers: int, events: int,
            timeout: float = 900) -> dict[str, Any]:
    """``consumers`` processes in one group build a fresh read model from ``topic``."""
    context = multiprocessing.get_context("spawn")
    go, stop = context.Event(), context.Event()
    group = f"bench-projections-{uuid.uuid4().hex[:8]}"
    with scratch_store(backend) as url:
        open_registry(url)[0].close()  # the store's tables, before the members race to create them
        children = [context.Process(target=_consumer_child, args=(url, bootstrap, topic, group, go, stop))
                    for _ in range(consumers)]
        for child in children:
            child.start()
        time.sleep(5.0)  # imports and connections, before the clock starts
        go.set()
        started = time.perf_counter()
        first: float | None = None
        applied = 0
        try:
            while applied < events:
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"{applied} of {events} events applied after {timeout} s")
                if any(child.exitcode not in (None, 0) for child in children):
                    raise RuntimeError("a consumer process failed")
                time.sleep(0.25)
                applied = _applied(url)
                if applied and first is None:
                    first = time.perf_counter()
            seconds = time.perf_counter() - started
        finally:
            stop.set()
            for child in children:
                child.join(60)
                if child.is_alive():
                    child.kill()
    steady = seconds - ((first or started) - started)
    return {"consumers": consumers, "events": applied, "seconds": round(seconds, 1),
            "events_per_s": round(applied / seconds), "from_first_row_s": round(steady, 1),
            # Applied rows are counted every 0.25 s: a shorter span says nothing of the rate.
            "events_per_s_from_first_row": round(applied / steady) if steady >= 0.25 else None}


def run_scaleout(backend: str, households: int, seed: int, counts: list[int], partitions: int) -> dict[str, Any]:
    c = county(households, seed)
    figures: dict[str, Any] = {"backend": backend, "households": households, "partitions": partitions, "runs": {}}
    with broker() as bootstrap, scratch_store(backend) as url:
        registry, clock = open_registry(url, cache_size=None)
        try:
            load_county(registry, clock, c)
        finally:
            registry.close()
        # The read models hold personal data: the relay publishes the full events on <topic>.pii for them.
        topic = f"{new_topic(bootstrap, partitions, pii=True)}.pii"
        relayed = relay_processes(url, bootstrap, topic.removesuffix(".pii"), 1, pii_topic=topic)
        published = relayed.events
        figures["published"] = {"events": published, "seconds": round(relayed.seconds, 1)}
        for n in counts:
            figures["runs"][str(n)] = run = consume(bootstrap, topic, backend, n, published)
            print(f"  {backend}: {n} consumer(s): {run['events_per_s']} events/s "
                  f"({run['events_per_s_from_first_row']} from the first row)", flush=True)
    base = figures["runs"][str(counts[0])]
    for n in counts[1:]:
        run = figures["runs"][str(n)]
        run[f"ratio_over_{counts[0]}"] = round(run["events_per_s"] / max(1, base["events_per_s"]), 2)
        if run["events_per_s_from_first_row"] and base["events_per_s_from_first_row"]:
            run[f"ratio_over_{counts[0]}_from_first_row"] = round(
                run["events_per_s_from_first_row"] / base["events_per_s_from_first_row"], 2)
    return figures


def main(argv: list[str] | None = None) -> list[Result]:
    parser = base_parser(__doc__ or "", HOUSEHOLDS, QUICK_HOUSEHOLDS)
    parser.add_argument("--consumers", default="1,2", help="consumer counts; the first is the baseline")
    parser.add_argument("--partitions", type=int, default=4)
    parser.set_defaults(backend="postgres")
    args = parser.parse_args(argv)
    households = args.households or (QUICK_HOUSEHOLDS if args.quick else HOUSEHOLDS)
    counts = [int(n) for n in args.consumers.split(",")]
    results: list[Result] = []
    for backend in backends(args.backend):
        reported(results, f"scaleout/{backend}", run_scaleout(backend, households, args.seed, counts, args.partitions),
                 f"baseline: {counts[0]} consumer(s); every process on this machine")
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
