"""Running the projections: catch-up, rebuild and the atomic swap.

Every projection's rows and its tracking position (``proj_tracking``) are
written in the same transaction, and the position is read inside that
transaction under a lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL:
``SELECT … FOR UPDATE`` on the tracking rows). So a process killed at any moment
leaves the tables exactly as of some committed page, and the next catch-up —
in this process or any other, or several at once — resumes after it: nothing
lost, nothing doubled.

A rebuild replays the whole log into fresh tables (``proj_*_new``), one page
per transaction with its own tracking row (``<name>@rebuild``), while the live
tables keep serving and catching up. With several workers the log is replayed
by several processes at once (:class:`Lane`: the audit and reference
projections in one, the households projection split by household over the
others), each page of each lane committed with that lane's tracking rows
(``households#0/2@rebuild`` …). After the last page the new tables get their
secondary indexes, then one transaction applies the last events, renames the
live tables away and the new ones in, moves the tracking position and drops the
old tables: readers see the old model or the new one, never half of one.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import signal
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from bootstrap.settings import Settings
from persistence.db import Database, Tx
from projections import flows
from projections.audit import AuditProjection
from projections.encoding import to_us
from projections.households import HouseholdProjection, ProjectionError
from projections.log import Entry, head, read_page
from projections.reference import ReferenceProjection
from projections.schema import SEALED, TRACKING, Table
from projections.sealing import Sealer
from service.registry import Registry

NEW = "_new"
OLD = "_old"
REBUILD = "@rebuild"


class Projection(Protocol):
    name: str
    tables: tuple[Table, ...]

    def reset(self) -> None: ...


def _apply(projection: Any, tx: Tx, entries: Sequence[Entry], suffix: str) -> int:
    if isinstance(projection, HouseholdProjection):
        events = [e for e in entries if e.is_household]
        return projection.apply(
            tx,
            [(e.position, e.household) for e in events],  # type: ignore[misc]
            suffix,
            {e.position: e.body_json for e in events},  # type: ignore[misc]
        )
    return int(projection.apply(tx, entries, suffix))


@dataclass
class Progress:
    """What a long run reports after each page."""

    projections: tuple[str, ...]
    position: int
    head: int
    events: int
    elapsed: float

    @property
    def rate(self) -> float:
        return self.events / self.elapsed if self.elapsed > 0 else 0.0


ProgressCallback = Callable[[Progress], None]

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


def _apply_lane(lane: Lane, builders: dict[str, Any], positions: dict[str, int], tx: Tx,
                page: Sequence[Entry]) -> None:
    """A page's entries of the lane to each of its projections, after that projection's
    tracked position, into the new tables."""
    mine = [e for e in page if lane.takes(e)]
    for name, builder in builders.items():
        todo = [e for e in mine if e.position > positions[lane.tracking(name)]]
        if todo:
            _apply(builder, tx, todo, NEW)


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


class ProjectionStore:
    """The projections of one registry, in the registry's database."""

    def __init__(self, registry: Registry, page_size: int = 500) -> None:
        self.registry = registry
        self.db = Database(registry.settings, sealer=Sealer.of(registry.settings))
        self.page_size = page_size
        # A rebuild is the only writer of its tables: bigger pages, fewer transactions.
        self.rebuild_page_size = page_size * 10
        # Folds of recently projected households: the next event of one of them then
        # extends the fold instead of re-reading and replaying the household.
        self.households = HouseholdProjection(cache_size=20_000)
        self.reference = ReferenceProjection()
        self.audit = AuditProjection()
        self.projections: dict[str, Any] = {
            p.name: p for p in (self.households, self.reference, self.audit)
        }
        self.setup()

    # ----------------------------------------------------------------- schema

    def _lock_ddl(self, tx: Tx) -> None:
        if tx.dialect == "postgres":
            tx.execute("SELECT pg_advisory_xact_lock(?)", (0x70726F6A,))

    def setup(self) -> None:
        """Create the live tables and tracking rows that are missing.

        A projection whose tables are not as declared (an older version of this
        code made them) is dropped and starts over from position 0: the next
        catch-up rebuilds it from the log.
        """
        with self.db.write() as tx:
            self._lock_ddl(tx)
            TRACKING.create(tx)
            SEALED.create(tx)
            sealed = {name for (name,) in tx.query("SELECT name FROM proj_sealed")}
            for projection in self.projections.values():
                # Tables written before personal data was sealed (projections.sealing) are
                # rebuilt like tables of another shape.
                if projection.name not in sealed or any(
                    tx.columns(t.name) != list(t.column_names) for t in projection.tables
                ):
                    for table in projection.tables:
                        tx.execute(f"DROP TABLE IF EXISTS {table.name}")
                        table.create(tx)
                    tx.execute("DELETE FROM proj_tracking WHERE name = ?", (projection.name,))
                    tx.execute("INSERT INTO proj_sealed (name) VALUES (?) ON CONFLICT DO NOTHING", (projection.name,))
                tx.execute(
                    "INSERT INTO proj_tracking (name, position, updated_us) VALUES (?, 0, 0) ON CONFLICT DO NOTHING",
                    (projection.name,),
                )

    def _lock_positions(self, tx: Tx, names: Sequence[str], wait: bool = True) -> dict[str, int]:
        """The tracking rows of ``names``, locked; without ``wait`` (PostgreSQL) raises
        ``psycopg.errors.LockNotAvailable`` at once if another transaction holds them."""
        marks = ", ".join("?" * len(names))
        lock = (" FOR UPDATE" if wait else " FOR UPDATE NOWAIT") if tx.dialect == "postgres" else ""
        rows = tx.query(
            f"SELECT name, position FROM proj_tracking WHERE name IN ({marks}) ORDER BY name{lock}", list(names)
        )
        return {name: position for name, position in rows}

    @staticmethod
    def _track(tx: Tx, name: str, position: int) -> None:
        tx.execute(
            "UPDATE proj_tracking SET position = ?, updated_us = ? WHERE name = ?",
            (position, to_us_now(), name),
        )

    # --------------------------------------------------------------- catch-up

    def catch_up(self, progress: ProgressCallback | None = None, max_pages: int | None = None,
                 wait: bool = True) -> int:
        """Apply every notification not yet projected, page by page; returns how many.

        Without ``wait``, return at once (0) when another transaction is catching up
        right now (PostgreSQL): it is applying what this call would."""
        names = list(self.projections)
        started = time.perf_counter()
        applied = 0
        pages = 0
        while max_pages is None or pages < max_pages:
            try:
                with self.db.write() as tx:
                    positions = self._lock_positions(tx, names, wait)
                    start = min(positions.values())
                    page = read_page(self.registry, start, self.page_size)
                    if not page:
                        break
                    for name, projection in self.projections.items():
                        todo = [e for e in page if e.position > positions[name]]
                        if todo:
                            _apply(projection, tx, todo, "")
                            self._track(tx, name, page[-1].position)
            except Exception as exc:
                if wait or type(exc).__name__ != "LockNotAvailable":
                    raise
                return applied  # another transaction holds the tracking rows: it is catching up
            applied += len(page)
            pages += 1
            if progress:
                progress(Progress(tuple(names), page[-1].position, head(self.registry), applied,
                                  time.perf_counter() - started))
        return applied

    def apply_household_events(
        self, items: Sequence[tuple[int, Any]], tracking: tuple[str, int] | None = None
    ) -> int:
        """Project household events from elsewhere (e.g. a Kafka partition) in one transaction.

        Idempotent by (household_id, version). ``tracking`` = (name, position) is
        stored in the same transaction, e.g. ``("kafka:household-events:3", offset)``.
        """
        with self.db.write() as tx:
            if tracking is not None:
                tx.execute(
                    "INSERT INTO proj_tracking (name, position, updated_us) VALUES (?, 0, 0) ON CONFLICT DO NOTHING",
                    (tracking[0],),
                )
                self._lock_positions(tx, [tracking[0]])
            applied = self.households.apply(tx, items)
            if tracking is not None:
                self._track(tx, tracking[0], tracking[1])
        return applied

    def behind(self, position: int) -> bool:
        """Whether some projection has not yet applied the log up to ``position``. Read
        without a lock: positions only grow, so "not behind" stays true; a caller that
        finds it behind takes the lock in :meth:`catch_up`."""
        names = list(self.projections)
        with self.db.read() as tx:
            value = tx.scalar(
                f"SELECT min(position) FROM proj_tracking WHERE name IN ({', '.join('?' * len(names))})", names
            )
        return value is None or int(value) < position

    def tracked(self, name: str) -> int | None:
        with self.db.read() as tx:
            value = tx.scalar("SELECT position FROM proj_tracking WHERE name = ?", (name,))
        return None if value is None else int(value)

    # ---------------------------------------------------------------- rebuild

    def rebuild(
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
        names = list(names or self.projections)
        unknown = set(names) - set(self.projections)
        if unknown:
            known = ", ".join(self.projections)
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
            replayed, finished, indexed = self._run_workers(lanes, positions, progress, cache_size, stop_after_pages)
            with self.db.read() as tx:
                positions = dict(tx.query("SELECT name, position FROM proj_tracking WHERE name LIKE ?",
                                          ("%" + REBUILD,)))
            # The workers' folds are gone: these builders read what they need from the new tables.
            runs = [(lane, {n: _builder(self.projections[n], cache_size) for n in lane.names}) for lane in lanes]
        if not finished:
            return replayed
        if HOUSEHOLDS in names:
            with self.db.write() as tx:
                flows.checkpoint_all(tx, NEW)
        self._create_indexes([name for name in names if name not in indexed])
        return replayed + self._swap(names, runs, positions, force)

    def _create_indexes(self, names: Sequence[str]) -> None:
        """The new tables' remaining indexes, after the bulk load and before the swap (the
        live tables keep serving meanwhile), and the statistics of every column: while
        loading only the lookup columns were analysed, and the queries filter on the others
        (without them PostgreSQL guessed 3 k rows for a county of 565 k and sorted them all
        for a roster page: 400 ms instead of 2)."""
        tables = [table for name in names for table in self.projections[name].tables]
        if self.db.dialect != "postgres":
            with self.db.write() as tx:
                for table in tables:
                    table.create_indexes(tx, NEW)
            return

        def finish(table: Table) -> None:
            with self.db.write() as tx:
                table.create_indexes(tx, NEW)
                tx.execute(f"ANALYZE {table.name}{NEW}")

        # One table per connection, as many at once as there are cores: each build is one
        # server process's work (the largest tables first, so that the small ones fill the gaps).
        with self.db.read() as tx:
            sizes = {t.name: tx.scalar("SELECT pg_total_relation_size(to_regclass(?))", (t.name + NEW,)) or 0
                     for t in tables}
        tables.sort(key=lambda t: -int(sizes[t.name]))
        with ThreadPoolExecutor(max_workers=cores()) as pool:
            for done in [pool.submit(finish, table) for table in tables]:
                done.result()

    def _builders(self, lane: Lane, positions: dict[str, int], cache_size: int | None) -> dict[str, Any]:
        builders = {name: _builder(self.projections[name], cache_size) for name in lane.names}
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
        last_head = head(self.registry)
        while True:
            if parent is not None and os.getppid() != parent:
                raise ProjectionError("the rebuild that started this worker is gone")
            page = read_page(self.registry, position, self.rebuild_page_size)
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
                    last_head = head(self.registry)
                progress(Progress(lane.names, position, last_head, replayed, time.perf_counter() - started))
            if stop_after_pages is not None and pages >= stop_after_pages:
                return replayed, False

    def _apply_page(self, lane: Lane, builders: dict[str, Any], positions: dict[str, int], page: list[Entry]) -> None:
        """One page of a lane and its tracking rows, in one transaction."""
        keys = [lane.tracking(name) for name in builders]
        with self.db.write() as tx:
            locked = self._lock_positions(tx, keys)
            if locked != {key: positions[key] for key in keys}:
                raise ProjectionError(f"the rebuild's tracking rows moved ({locked}): another rebuild is running")
            _apply_lane(lane, builders, positions, tx, page)
            for key in keys:
                self._track(tx, key, page[-1].position)
        for key in keys:
            positions[key] = page[-1].position

    def _run_workers(
        self,
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
        settings = self.registry.settings.model_copy(update={"inline_projections": False})
        processes = [
            context.Process(
                target=_lane_worker,
                args=(i, settings, lane, positions, cache_size, stop_after_pages, self.rebuild_page_size, os.getpid(),
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
                                      head(self.registry), slowest[1], elapsed))
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

    def _analyze(self, names: Sequence[str]) -> None:
        """Statistics of the columns the lookups use (PostgreSQL: the row count too), not of
        the wide JSON columns, whose sampling made most of the cost of ANALYZE."""
        with self.db.write() as tx:
            for name in names:
                for table in self.projections[name].tables:
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
        with self.db.write() as tx:
            self._lock_ddl(tx)
            for name in names:
                keys = [lane.tracking(name) for lane in lanes if name in lane.names]
                tables = self.projections[name].tables
                tracked = dict(tx.query(
                    "SELECT name, position FROM proj_tracking WHERE name = ? OR name LIKE ?",
                    (name + REBUILD, f"{name}#%{REBUILD}"),
                ))
                if resume and set(tracked) == set(keys) and all(tx.table_exists(t.name + NEW) for t in tables):
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
        with self.db.write() as tx:
            self._lock_ddl(tx)
            self._lock_positions(tx, [*names, *keys])
            position = min(positions[key] for key in keys)
            while True:
                page = read_page(self.registry, position, self.rebuild_page_size)
                if not page:
                    break
                for lane, builders in runs:
                    _apply_lane(lane, builders, positions, tx, page)
                position = page[-1].position
                replayed += len(page)
            if "audit" in names and not force:
                self._check_chain_unchanged(tx)
            for name in names:
                for table in self.projections[name].tables:
                    tx.execute(f"DROP TABLE IF EXISTS {table.name}{OLD}")
                    tx.execute(f"ALTER TABLE {table.name} RENAME TO {table.name}{OLD}")
                    tx.execute(f"ALTER TABLE {table.name}{NEW} RENAME TO {table.name}")
                    tx.execute(f"DROP TABLE {table.name}{OLD}")
                self._track(tx, name, position)
            for key in keys:
                tx.execute("DELETE FROM proj_tracking WHERE name = ?", (key,))
        for name in names:
            self.projections[name].reset()
        return replayed

    # ----------------------------------------------------------------- status

    def status(self) -> list[dict[str, Any]]:
        log_head = head(self.registry)
        out = []
        with self.db.read() as tx:
            for name, position, updated_us in tx.query(
                "SELECT name, position, updated_us FROM proj_tracking ORDER BY name"
            ):
                base = name.removesuffix(REBUILD).split("#")[0]
                rows = {}
                if base in self.projections:
                    suffix = NEW if name.endswith(REBUILD) else ""
                    for table in self.projections[base].tables:
                        if tx.table_exists(table.name + suffix):
                            rows[table.name + suffix] = tx.scalar(f"SELECT count(*) FROM {table.name}{suffix}")
                out.append(
                    {
                        "name": name,
                        "position": int(position),
                        "head": log_head,
                        "lag": max(0, log_head - int(position)) if base in self.projections else None,
                        "rebuilding": name.endswith(REBUILD),
                        "updated_us": updated_us,
                        "rows": rows,
                    }
                )
        return out

    def close(self) -> None:
        self.db.close()


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
    try:
        builders = store._builders(lane, positions, cache_size)

        def report(p: Progress) -> None:
            reports.put((index, p.position, p.events, False, p.elapsed))

        started = time.perf_counter()
        replayed, drained = store._run_lane(lane, builders, positions, report, stop_after_pages, parent)
        if drained and lane.shards == 1:
            # The only writer of its tables, done before the households shards (the audit
            # lane is a third of the work): their indexes are built while the others run.
            store._create_indexes(lane.names)
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


def _builder(projection: Any, cache_size: int | None) -> Any:
    """A fresh instance of ``projection`` for a rebuild: the only writer of its new tables."""
    if isinstance(projection, HouseholdProjection):
        return HouseholdProjection(cache_size=cache_size, single_writer=True)
    if isinstance(projection, AuditProjection):
        return AuditProjection(cache_size=cache_size if cache_size is not None else 10**9)
    return type(projection)()


def to_us_now() -> int:
    from datetime import UTC, datetime

    return to_us(datetime.now(UTC))
