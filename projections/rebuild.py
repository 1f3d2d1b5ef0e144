"""Rebuilding the projections: the whole log into fresh tables, swapped in at the end.

A rebuild replays the whole log into fresh tables (``proj_*_new``), one page
per transaction with its own tracking row (``<name>@rebuild``), while the live
tables keep serving and catching up. With several workers the log is replayed
by several processes at once (:class:`~projections.lanes.Lane`: the audit and reference
projections in one, the households projection split by household over the
others), each page of each lane committed with that lane's tracking rows
(``households#0/2@rebuild`` …). After the last page the new tables get their
secondary indexes, then one transaction applies the last events, renames the
live tables away and the new ones in, moves the tracking position and drops the
old tables: readers see the old model or the new one, never half of one. The
lanes and their processes are :mod:`projections.lanes`.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from persistence.db import Tx
from projections import flows
from projections.audit import AuditProjection
from projections.households import HouseholdProjection, ProjectionError
from projections.lanes import HOUSEHOLDS, Lane, apply_lane, cores, plan_lanes, run_workers
from projections.log import Entry, head, read_page
from projections.runner import NEW, REBUILD, Progress, ProgressCallback, ProjectionStore
from projections.schema import Table

OLD = "_old"


class Rebuild:
    """One rebuild of a store's projections (:meth:`run`)."""

    def __init__(self, store: ProjectionStore) -> None:
        self.store = store

    def run(
        self,
        names: Sequence[str] | None = None,
        progress: ProgressCallback | None = None,
        resume: bool = False,
        cache_size: int | None = None,
        stop_after_pages: int | None = None,
        force: bool = False,
        workers: int = 1,
    ) -> int:
        """Replay the whole log into fresh tables and swap them in; returns events replayed.

        ``resume`` continues an interrupted rebuild from its tracking rows instead of
        starting over. ``cache_size`` bounds the households kept folded in memory
        (None: all of them; a household not kept is re-read from the new tables).
        ``stop_after_pages`` (tests) stops before the swap. Rebuilding
        ``audit`` refuses to swap in a chain that does not extend the live one (the
        store's past was altered) unless ``force``. ``workers`` > 1 replays the log in
        that many processes (see :func:`plan_lanes`); a resumed rebuild must use the
        same number, or its projections start over.
        """
        names = list(names or self.store.projections)
        unknown = set(names) - set(self.store.projections)
        if unknown:
            known = ", ".join(self.store.projections)
            raise ValueError(f"unknown projection(s) {', '.join(sorted(unknown))}; known: {known}")
        lanes = plan_lanes(names, workers)
        positions = self._prepare_rebuild(names, lanes, resume, cache_size)
        collecting = gc.isenabled()
        try:
            return self._rebuild(names, lanes, positions, progress, cache_size, stop_after_pages, force)
        finally:
            if collecting:
                gc.unfreeze()  # what the lane froze (:meth:`_run_lane`)

    def _rebuild(
        self,
        names: list[str],
        lanes: list[Lane],
        positions: dict[str, int],
        progress: ProgressCallback | None,
        cache_size: int | None,
        stop_after_pages: int | None,
        force: bool,
    ) -> int:
        if len(lanes) == 1:
            builders = self._builders(lanes[0], positions, cache_size)
            replayed, finished = self._run_lane(lanes[0], builders, positions, progress, stop_after_pages)
            runs = [(lanes[0], builders)]
            indexed: set[str] = set()
        else:
            replayed, finished, indexed = run_workers(self.store, lanes, positions, progress, cache_size,
                                                      stop_after_pages)
            with self.store.db.read() as tx:
                positions = dict(tx.query("SELECT name, position FROM proj_tracking WHERE name LIKE ?",
                                          ("%" + REBUILD,)))
            # The workers' folds are gone: these builders read what they need from the new tables.
            runs = [(lane, {n: _builder(self.store.projections[n], cache_size) for n in lane.names}) for lane in lanes]
        if not finished:
            return replayed
        if HOUSEHOLDS in names:
            with self.store.db.write() as tx:
                flows.checkpoint_all(tx, NEW)
        self._create_indexes([name for name in names if name not in indexed])
        return replayed + self._swap(names, runs, positions, force)

    def _create_indexes(self, names: Sequence[str]) -> None:
        """The new tables' remaining indexes, after the bulk load and before the swap (the
        live tables keep serving meanwhile), and the statistics of every column: while
        loading only the lookup columns were analysed, and the queries filter on the others
        (without them PostgreSQL guessed 3 k rows for a county of 565 k and sorted them all
        for a roster page: 400 ms instead of 2)."""
        tables = [table for name in names for table in self.store.projections[name].tables]
        if self.store.db.dialect != "postgres":
            with self.store.db.write() as tx:
                for table in tables:
                    table.create_indexes(tx, NEW)
            return

        def finish(table: Table) -> None:
            with self.store.db.write() as tx:
                table.create_indexes(tx, NEW)
                tx.execute(f"ANALYZE {table.name}{NEW}")

        # One table per connection, as many at once as there are cores: each build is one
        # server process's work (the largest tables first, so that the small ones fill the gaps).
        with self.store.db.read() as tx:
            sizes = {t.name: tx.scalar("SELECT pg_total_relation_size(to_regclass(?))", (t.name + NEW,)) or 0
                     for t in tables}
        tables.sort(key=lambda t: -int(sizes[t.name]))
        with ThreadPoolExecutor(max_workers=cores()) as pool:
            for done in [pool.submit(finish, table) for table in tables]:
                done.result()

    def _builders(self, lane: Lane, positions: dict[str, int], cache_size: int | None) -> dict[str, Any]:
        builders = {name: _builder(self.store.projections[name], cache_size) for name in lane.names}
        for name, builder in builders.items():
            # From empty tables, an unbounded cache knows every household there is.
            if positions[lane.tracking(name)] == 0 and cache_size is None and hasattr(builder, "complete"):
                builder.complete = True
        return builders

    def _run_lane(
        self,
        lane: Lane,
        builders: dict[str, Any],
        positions: dict[str, int],
        progress: ProgressCallback | None,
        stop_after_pages: int | None,
        parent: int | None = None,
    ) -> tuple[int, bool]:
        """Replay the log into the lane's new tables, one page per transaction, until it is
        drained; returns (notifications replayed, whether it was drained).

        The folds kept for the whole rebuild are millions of long-lived objects: the
        cyclic collector would rescan them all at every full collection, ever more
        often as they grow (half the time at 1 M events). Freezing after each page
        moves them out of its sight; garbage among them is still freed by reference
        counting. They stay frozen until the rebuild is over (:meth:`rebuild`): the
        checkpoints and the swap after the lane allocate enough to trigger full
        collections too.
        """
        freeze = gc.isenabled()
        started = time.perf_counter()
        replayed = 0
        pages = 0
        position = min(positions[lane.tracking(name)] for name in lane.names)
        last_head = head(self.store.registry)
        while True:
            if parent is not None and os.getppid() != parent:
                raise ProjectionError("the rebuild that started this worker is gone")
            page = read_page(self.store.registry, position, self.store.rebuild_page_size)
            if not page:
                return replayed, True
            self._apply_page(lane, builders, positions, page)
            position = page[-1].position
            replayed += len(page)
            pages += 1
            if lane.shard == 0 and (pages in (1, 4, 16) or pages % 64 == 0):
                self._analyze(lane.names)  # the new tables grow from empty: keep the planner's estimates real
            if freeze:
                gc.freeze()
            if progress:
                if position >= last_head:
                    last_head = head(self.store.registry)
                progress(Progress(lane.names, position, last_head, replayed, time.perf_counter() - started))
            if stop_after_pages is not None and pages >= stop_after_pages:
                return replayed, False

    def _apply_page(self, lane: Lane, builders: dict[str, Any], positions: dict[str, int], page: list[Entry]) -> None:
        """One page of a lane and its tracking rows, in one transaction."""
        keys = [lane.tracking(name) for name in builders]
        with self.store.db.write() as tx:
            locked = self.store.lock_positions(tx, keys)
            if locked != {key: positions[key] for key in keys}:
                raise ProjectionError(f"the rebuild's tracking rows moved ({locked}): another rebuild is running")
            apply_lane(lane, builders, positions, tx, page)
            for key in keys:
                self.store.track(tx, key, page[-1].position)
        for key in keys:
            positions[key] = page[-1].position
    def _analyze(self, names: Sequence[str]) -> None:
        """Statistics of the columns the lookups use (PostgreSQL: the row count too), not of
        the wide JSON columns, whose sampling made most of the cost of ANALYZE."""
        with self.store.db.write() as tx:
            for name in names:
                for table in self.store.projections[name].tables:
                    columns = f" ({', '.join(table.lookup_columns)})" if tx.dialect == "postgres" else ""
                    tx.execute(f"ANALYZE {table.name}{NEW}{columns}")

    def _prepare_rebuild(
        self, names: Sequence[str], lanes: Sequence[Lane], resume: bool, cache_size: int | None
    ) -> dict[str, int]:
        """The new tables and the lanes' tracking rows: kept when resuming (and the lanes
        are the same), otherwise made afresh. Returns each tracking row's position.

        Fresh tables filled by builders that keep every household in memory get only the
        indexes the load looks rows up by; the rest come after it (:meth:`_create_indexes`).
        A resumed rebuild, or one with a bounded cache, reads households back from the new
        tables: it gets every index at once."""
        positions: dict[str, int] = {}
        with self.store.db.write() as tx:
            self.store.lock_ddl(tx)
            for name in names:
                keys = [lane.tracking(name) for lane in lanes if name in lane.names]
                tables = self.store.projections[name].tables
                tracked = dict(tx.query(
                    "SELECT name, position FROM proj_tracking WHERE name = ? OR name LIKE ?",
                    (name + REBUILD, f"{name}#%{REBUILD}"),
                ))
                if resume and set(tracked) == set(keys) and all(
                    tx.columns(t.name + NEW) == list(t.column_names) for t in tables  # made by this layout
                ):
                    positions.update({key: int(position) for key, position in tracked.items()})
                    for table in tables:
                        table.create_indexes(tx, NEW)
                    continue
                for table in tables:
                    tx.execute(f"DROP TABLE IF EXISTS {table.name}{NEW}")
                    table.create(tx, NEW, building=cache_size is None)
                for key in tracked:
                    tx.execute("DELETE FROM proj_tracking WHERE name = ?", (key,))
                for key in keys:
                    tx.execute("INSERT INTO proj_tracking (name, position, updated_us) VALUES (?, 0, 0)", (key,))
                    positions[key] = 0
        return positions

    @staticmethod
    def _check_chain_unchanged(tx: Tx) -> None:
        """A rebuilt chain must extend the live one: if the log's past changed, refuse."""
        live = tx.one("SELECT position, chain FROM proj_chain ORDER BY position DESC LIMIT 1")
        if live is None:
            return
        rebuilt = tx.scalar(f"SELECT chain FROM proj_chain{NEW} WHERE position = ?", (live[0],))
        if rebuilt != live[1]:
            raise ProjectionError(
                f"the rebuilt integrity chain differs from the live one at position {live[0]}: the event store "
                "was altered since it was chained. Run `povreg verify` to find the rows; rebuild with --force "
                "only to accept the store as it now is."
            )

    def _swap(
        self,
        names: Sequence[str],
        runs: Sequence[tuple[Lane, dict[str, Any]]],
        positions: dict[str, int],
        force: bool = False,
    ) -> int:
        """Finish the new tables under the lock and rename them in, in one transaction."""
        replayed = 0
        keys = [lane.tracking(name) for lane, builders in runs for name in builders]
        with self.store.db.write() as tx:
            self.store.lock_ddl(tx)
            self.store.lock_positions(tx, [*names, *keys])
            position = min(positions[key] for key in keys)
            while True:
                page = read_page(self.store.registry, position, self.store.rebuild_page_size)
                if not page:
                    break
                for lane, builders in runs:
                    apply_lane(lane, builders, positions, tx, page)
                position = page[-1].position
                replayed += len(page)
            if "audit" in names and not force:
                self._check_chain_unchanged(tx)
            for name in names:
                for table in self.store.projections[name].tables:
                    tx.execute(f"DROP TABLE IF EXISTS {table.name}{OLD}")
                    tx.execute(f"ALTER TABLE {table.name} RENAME TO {table.name}{OLD}")
                    tx.execute(f"ALTER TABLE {table.name}{NEW} RENAME TO {table.name}")
                    tx.execute(f"DROP TABLE {table.name}{OLD}")
                self.store.track(tx, name, position)
            for key in keys:
                tx.execute("DELETE FROM proj_tracking WHERE name = ?", (key,))
        for name in names:
            self.store.projections[name].reset()
        return replayed

def _builder(projection: Any, cache_size: int | None) -> Any:
    """A fresh instance of ``projection`` for a rebuild: the only writer of its new tables."""
    if isinstance(projection, HouseholdProjection):
        return HouseholdProjection(cache_size=cache_size, single_writer=True)
    if isinstance(projection, AuditProjection):
        return AuditProjection(cache_size=cache_size if cache_size is not None else 10**9)
    return type(projection)()
