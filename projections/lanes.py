"""A parallel rebuild: its lanes and their worker processes.

A lane is a share of a rebuild that replays the log and commits on its own: the
audit and reference projections together (the integrity chain is one sequence over
the whole log), or one shard of the households projection, split by household (crc32
of the id), whose rows depend on each household's own events only. Each lane runs in
a process of its own (:func:`run_workers`), commits its pages with its own tracking
rows (``households#0/2@rebuild`` …) and dies with the rebuild that started it; the
rebuild (:mod:`projections.rebuild`) then does the swap.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bootstrap.settings import Settings
from persistence.db import Tx
from projections.households import ProjectionError
from projections.log import Entry, head
from projections.runner import NEW, REBUILD, Progress, ProgressCallback, ProjectionStore, apply_entries
from service.registry import Registry

HOUSEHOLDS = "households"


def shard_of(household_id: str, shards: int) -> int:
    """A household's shard: stable across processes and runs (unlike ``hash``)."""
    return zlib.crc32(household_id.encode()) % shards


@dataclass(frozen=True)
class Lane:
    """A share of a rebuild that replays the log and commits on its own: whole
    projections, or one shard (by household id) of the households projection, whose
    rows depend on each household's own events only. Each (lane, projection) has its
    tracking row, committed with the lane's rows."""

    names: tuple[str, ...]
    shard: int = 0
    shards: int = 1

    def tracking(self, name: str) -> str:
        return name + REBUILD if self.shards == 1 else f"{name}#{self.shard}/{self.shards}{REBUILD}"

    def takes(self, entry: Entry) -> bool:
        return self.shards == 1 or (entry.is_household and shard_of(entry.originator_id, self.shards) == self.shard)


def plan_lanes(names: Sequence[str], workers: int) -> list[Lane]:
    """One lane per worker: the other projections together (the audit chain is one
    sequence over the whole log), and the households projection, the largest,
    split into shards over the remaining workers."""
    if workers <= 1:
        return [Lane(tuple(names))]
    others = tuple(n for n in names if n != HOUSEHOLDS)
    lanes = [Lane(others)] if others else []
    if HOUSEHOLDS in names:
        shards = max(1, workers - len(lanes))
        lanes += [Lane((HOUSEHOLDS,), k, shards) for k in range(shards)]
    return lanes


def apply_lane(lane: Lane, builders: dict[str, Any], positions: dict[str, int], tx: Tx,
               page: Sequence[Entry]) -> None:
    """A page's entries of the lane to each of its projections, after that projection's
    tracked position, into the new tables."""
    mine = [e for e in page if lane.takes(e)]
    for name, builder in builders.items():
        todo = [e for e in mine if e.position > positions[lane.tracking(name)]]
        if todo:
            apply_entries(builder, tx, todo, NEW)


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers(dialect: str) -> int:
    """Rebuild processes when the user does not say: on PostgreSQL one more than the
    cores — a lane waits for the database part of each page, and the audit lane's work
    is not a households shard's, so with one process to spare the scheduler keeps both
    cores busy to the end (N = 100,000 on 2 cores: 7,600 events/s with 2, 9,100 with 3);
    on SQLite one, since its writers take turns on the file lock."""
    return cores() + 1 if dialect == "postgres" else 1


def run_workers(
    store: ProjectionStore,
    lanes: list[Lane],
    positions: dict[str, int],
    progress: ProgressCallback | None,
    cache_size: int | None,
    stop_after_pages: int | None,
) -> tuple[int, bool, set[str]]:
    """Run each lane in a process of its own; returns (notifications replayed, all drained,
    the projections whose new tables a lane indexed when it was drained)."""
    context = multiprocessing.get_context("spawn")
    reports: Any = context.Queue()
    settings = store.registry.settings.model_copy(update={"inline_projections": False})
    processes = [
        context.Process(
            target=_lane_worker,
            args=(i, settings, lane, positions, cache_size, stop_after_pages, store.rebuild_page_size, os.getpid(),
                  reports),
            daemon=True,
        )
        for i, lane in enumerate(lanes)
    ]
    for process in processes:
        process.start()
    state: dict[int, tuple[int, int, bool]] = {}  # lane -> (position, replayed, drained)
    try:
        while any(p.is_alive() for p in processes) or not reports.empty():
            try:
                i, position, replayed, drained, elapsed = reports.get(timeout=0.2)
            except queue.Empty:
                continue
            state[i] = (position, replayed, drained)
            if progress and len(state) == len(lanes):
                slowest = min(state.values())
                progress(Progress(tuple(n for lane in lanes for n in lane.names), slowest[0],
                                  head(store.registry), slowest[1], elapsed))
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        raise ProjectionError(f"rebuild worker(s) failed (exit codes {failed}); run it again with resume")
    indexed = {n for i, lane in enumerate(lanes) if lane.shards == 1 and state.get(i, (0, 0, False))[2]
               for n in lane.names}
    return max((r for _, r, _ in state.values()), default=0), all(d for _, _, d in state.values()), indexed


def _die_with_parent(parent: int) -> None:
    """Be killed with the parent, as one process would be: a worker outliving a killed
    rebuild could commit a page under a resumed one. (Elsewhere than Linux, a worker
    notices at its next page.)"""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        return
    if os.getppid() != parent:  # died before the call above
        os._exit(1)


def _lane_worker(
    index: int,
    settings: Settings,
    lane: Lane,
    positions: dict[str, int],
    cache_size: int | None,
    stop_after_pages: int | None,
    page_size: int,
    parent: int,
    reports: Any,
) -> None:
    """A rebuild worker process: replays its lane, reporting (index, position, replayed,
    drained, elapsed) after each page and at the end. It stops if its parent dies."""
    _die_with_parent(parent)
    registry = Registry(settings)  # under the schema lock: workers start together
    store = ProjectionStore(registry)
    store.rebuild_page_size = page_size
    from projections.rebuild import Rebuild  # which starts these processes

    job = Rebuild(store)
    try:
        builders = job._builders(lane, positions, cache_size)

        def report(p: Progress) -> None:
            reports.put((index, p.position, p.events, False, p.elapsed))

        started = time.perf_counter()
        replayed, drained = job._run_lane(lane, builders, positions, report, stop_after_pages, parent)
        if drained and lane.shards == 1:
            # The only writer of its tables, done before the households shards (the audit
            # lane is a third of the work): their indexes are built while the others run.
            job._create_indexes(lane.names)
        position = min(positions[lane.tracking(name)] for name in lane.names)
        reports.put((index, position, replayed, drained, time.perf_counter() - started))
    finally:
        store.close()
        registry.close()
    # The lane's folds are millions of small objects: freeing them one by one as the
    # interpreter exits took a tenth of a households lane's time (py-spy), for nothing.
    # Its pages are committed and its report is flushed: leave without tearing down.
    reports.close()
    reports.join_thread()
    os._exit(0)
