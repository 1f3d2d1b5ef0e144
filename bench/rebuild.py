"""Benchmark 4 — projection rebuild from the full log: events per second.

In a store holding the simulated county: ``ProjectionStore.rebuild`` of every
projection (households, reference, audit) into fresh tables, swapped in at the
end — the whole log, in pages of 5,000 notifications, each page's rows and the
rebuild's tracking position in one transaction. Also each projection alone, when
asked (``--each``). The rebuild replays the log in as many processes as
``povreg projections rebuild`` takes unless ``--workers N`` says (audit and reference in
one, households split over the others), and is measured in one process too.

The baselines, in the same run: the same rebuild one notification per transaction,
over the first ``--baseline-events`` notifications only; and, on PostgreSQL, the
eventsourcing library's own ``ProjectionRunner`` projecting the same log one event
per transaction into a one-row-per-event view (``bench/runner.py``), over the first
``--runner-events``. The ratios are rebuild over each. ``read_model_bytes`` is what
the rebuilt tables take on PostgreSQL, per table and per event.

    python -m bench.rebuild [--households N] [--url URL] [--each] [--workers N] [--no-one-process]
"""

from __future__ import annotations

import resource
import time
from typing import Any

from bench.common import (
    Result,
    add_arguments,
    backend_of,
    base_parser,
    bench_settings,
    events_per_second,
    run_per_backend,
)
from bench.processes import ServerCpu
from projections.lanes import default_workers
from projections.runner import ProjectionStore
from service.registry import Registry

HOUSEHOLDS = 2_000
QUICK_HOUSEHOLDS = 60


def rebuild_rate(url: str, names: list[str] | None = None, workers: int = 1) -> dict[str, Any]:
    """One rebuild; ``cpu_s`` is this process's and its workers' CPU time, ``server_cpu_s``
    the PostgreSQL server's (when it runs on this machine), ``wal_gb`` and
    ``wal_full_page_images`` what the server wrote to its WAL (PostgreSQL)."""
    registry = Registry(bench_settings(url, inline_projections=False))
    store = ProjectionStore(registry)
    try:
        wal = _wal(registry)
        with ServerCpu(enabled=backend_of(url) == "postgres") as server:
            started = time.perf_counter()
            cpu = _cpu()
            events = store.rebuild(names, workers=workers)
            seconds = time.perf_counter() - started
            cpu = _cpu() - cpu
        figures: dict[str, Any] = {
            "projections": names or "all", "workers": workers, "events": events, "seconds": round(seconds, 1),
            "events_per_s": round(events / seconds), "cpu_s": round(cpu, 1), "server_cpu_s": server.seconds,
        }
        sizes = _table_bytes(registry)
        if sizes and events:
            figures["read_model_bytes"] = {"total": sum(sizes.values()),
                                           "per_event": round(sum(sizes.values()) / events),
                                           "per_event_by_table": {t: round(b / events) for t, b in sizes.items()}}
        after = _wal(registry)
        if wal and after:
            figures["wal_gb"] = round((after[0] - wal[0]) / 1e9, 2)
            figures["wal_full_page_images"] = after[1] - wal[1]
    finally:
        store.close()
        registry.close()
    return figures


def _wal(registry: Registry) -> tuple[int, int] | None:
    """PostgreSQL's WAL written so far and its full-page images (None on SQLite)."""
    if registry.settings.backend != "postgres":
        return None
    with registry.recorder.datastore.get_connection() as conn, conn.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute("SELECT wal_bytes::bigint AS wal_bytes, wal_fpi FROM pg_stat_wal")
        row = cur.fetchone()
    return (int(row["wal_bytes"]), int(row["wal_fpi"])) if row else None


def _table_bytes(registry: Registry) -> dict[str, int] | None:
    """Bytes of each read-model table with its indexes and TOAST (PostgreSQL; None on SQLite)."""
    if registry.settings.backend != "postgres":
        return None
    schema = registry.settings.postgres_params().get("schema", "public")
    with registry.recorder.datastore.get_connection() as conn, conn.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute("SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
                    "AND c.relkind = 'r' AND c.relname LIKE 'proj\\_%%' ORDER BY bytes DESC", (schema,))
        return {row["name"]: int(row["bytes"]) for row in cur.fetchall()}


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def baseline_rate(url: str, events: int) -> dict[str, Any]:
    """One notification per transaction, stopped after ``events`` (the new tables are dropped
    by the next rebuild)."""
    registry = Registry(bench_settings(url, inline_projections=False))
    store = ProjectionStore(registry, page_size=1)
    store.rebuild_page_size = 1
    try:
        return events_per_second(lambda: store.rebuild(stop_after_pages=events), digits=1)
    finally:
        store.close()
        registry.close()


def main(argv: list[str] | None = None) -> list[Result]:
    parser = base_parser(__doc__ or "", HOUSEHOLDS, QUICK_HOUSEHOLDS)
    add_arguments(parser)
    parser.add_argument("--each", action="store_true", help="also rebuild each projection alone")
    parser.add_argument("--baseline-events", type=int, default=3000)
    parser.add_argument("--runner-events", type=int, default=3000,
                        help="notifications the library's ProjectionRunner projects (PostgreSQL; 0: skip)")
    parser.add_argument("--no-one-process", dest="one_process", action="store_false",
                        help="skip the comparison with a rebuild in one process (~20 minutes at N = 100,000)")
    parser.add_argument("--workers", type=int, default=None,
                        help="rebuild processes (default: as `povreg projections rebuild`, one more than the "
                             "cores on PostgreSQL; 1: in this process; also reported with 1 when more)")
    parser.set_defaults(backend="postgres")
    args = parser.parse_args(argv)
    households = args.households or (QUICK_HOUSEHOLDS if args.quick else HOUSEHOLDS)

    def figures_of(backend: str, url: str) -> dict[str, Any]:
        figures: dict[str, Any] = {"backend": backend}
        figures["baseline_one_per_transaction"] = baseline_rate(url, 300 if args.quick else args.baseline_events)
        workers = args.workers or default_workers(backend)
        figures["rebuild"] = rebuild_rate(url, workers=workers)
        if workers > 1 and args.one_process:
            figures["rebuild/one_process"] = rebuild_rate(url)
        if args.each:
            for name in ("households", "audit", "reference"):
                figures[f"rebuild/{name}"] = rebuild_rate(url, [name])
        figures["ratio_rebuild_over_baseline"] = round(
            figures["rebuild"]["events_per_s"] / max(1, figures["baseline_one_per_transaction"]["events_per_s"]), 1
        )
        if backend == "postgres" and args.runner_events:
            from bench.runner import runner_rate

            figures["baseline_library_runner"] = runner_rate(url, 300 if args.quick else args.runner_events)
            figures["ratio_rebuild_over_library_runner"] = round(
                figures["rebuild"]["events_per_s"] / max(1, figures["baseline_library_runner"]["events_per_s"]), 1)
        return figures

    return run_per_backend(args, households, "rebuild", figures_of,
                           "baseline: the same rebuild, one notification per transaction (first events only)")

if __name__ == "__main__":
    main()
