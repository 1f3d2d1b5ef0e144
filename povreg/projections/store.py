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
tables keep serving and catching up. At the end one transaction applies the
last events, renames the live tables away and the new ones in, moves the
tracking position and drops the old tables: readers see the old model or the
new one, never half of one.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from povreg.application import Registry
from povreg.projections.audit import AuditProjection
from povreg.projections.db import Database, Tx, to_us
from povreg.projections.households import HouseholdProjection, ProjectionError
from povreg.projections.log import Entry, head, read_page
from povreg.projections.reference import ReferenceProjection
from povreg.projections.schema import TRACKING, Table

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


class ProjectionStore:
    """The projections of one registry, in the registry's database."""

    def __init__(self, registry: Registry, page_size: int = 500) -> None:
        self.registry = registry
        self.db = Database(registry.settings)
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
            for projection in self.projections.values():
                if any(tx.columns(t.name) != list(t.column_names) for t in projection.tables):
                    for table in projection.tables:
                        tx.execute(f"DROP TABLE IF EXISTS {table.name}")
                        table.create(tx)
                    tx.execute("DELETE FROM proj_tracking WHERE name = ?", (projection.name,))
                tx.execute(
                    "INSERT INTO proj_tracking (name, position, updated_us) VALUES (?, 0, 0) ON CONFLICT DO NOTHING",
                    (projection.name,),
                )

    def _lock_positions(self, tx: Tx, names: Sequence[str]) -> dict[str, int]:
        marks = ", ".join("?" * len(names))
        lock = " FOR UPDATE" if tx.dialect == "postgres" else ""
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

    def catch_up(self, progress: ProgressCallback | None = None, max_pages: int | None = None) -> int:
        """Apply every notification not yet projected, page by page; returns how many."""
        names = list(self.projections)
        started = time.perf_counter()
        applied = 0
        pages = 0
        while max_pages is None or pages < max_pages:
            with self.db.write() as tx:
                positions = self._lock_positions(tx, names)
                start = min(positions.values())
                page = read_page(self.registry, start, self.page_size)
                if not page:
                    break
                for name, projection in self.projections.items():
                    todo = [e for e in page if e.position > positions[name]]
                    if todo:
                        _apply(projection, tx, todo, "")
                        self._track(tx, name, page[-1].position)
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
    ) -> int:
        """Replay the whole log into fresh tables and swap them in; returns events replayed.

        ``resume`` continues an interrupted rebuild from its tracking row instead of
        starting over. ``cache_size`` bounds the households kept folded in memory
        (None: all of them; a household not kept is re-read from the new tables).
        ``stop_after_pages`` (tests) stops before the swap. Rebuilding
        ``audit`` refuses to swap in a chain that does not extend the live one (the
        store's past was altered) unless ``force``.
        """
        names = list(names or self.projections)
        unknown = set(names) - set(self.projections)
        if unknown:
            known = ", ".join(self.projections)
            raise ValueError(f"unknown projection(s) {', '.join(sorted(unknown))}; known: {known}")
        builders = {name: _builder(self.projections[name], cache_size) for name in names}
        position = self._prepare_rebuild(names, resume)
        for builder in builders.values():
            # From empty tables, an unbounded cache knows every household there is.
            if position == 0 and cache_size is None and hasattr(builder, "complete"):
                builder.complete = True
        started = time.perf_counter()
        # The folds kept for the whole rebuild are millions of long-lived objects: the
        # cyclic collector would rescan them all at every full collection, ever more
        # often as they grow (half the time at 1 M events). Freezing after each page
        # moves them out of its sight; garbage among them is still freed by reference
        # counting, and the end of the rebuild unfreezes them.
        freeze = gc.isenabled()
        try:
            return self._rebuild_pages(names, builders, position, started, progress, stop_after_pages, force, freeze)
        finally:
            if freeze:
                gc.unfreeze()

    def _rebuild_pages(
        self,
        names: Sequence[str],
        builders: dict[str, Any],
        position: int,
        started: float,
        progress: ProgressCallback | None,
        stop_after_pages: int | None,
        force: bool,
        freeze: bool,
    ) -> int:
        replayed = 0
        pages = 0
        last_head = head(self.registry)
        while True:
            page = read_page(self.registry, position, self.rebuild_page_size)
            if not page:
                break
            with self.db.write() as tx:
                for name, builder in builders.items():
                    _apply(builder, tx, page, NEW)
                    self._track(tx, name + REBUILD, page[-1].position)
            position = page[-1].position
            replayed += len(page)
            pages += 1
            if pages in (1, 4, 16) or pages % 64 == 0:
                self._analyze(names)  # the new tables grow from empty: keep the planner's estimates real
            if freeze:
                gc.freeze()
            if progress:
                if position >= last_head:
                    last_head = head(self.registry)
                progress(Progress(tuple(names), position, last_head, replayed, time.perf_counter() - started))
            if stop_after_pages is not None and pages >= stop_after_pages:
                return replayed
        replayed += self._swap(names, builders, position, force)
        return replayed

    def _analyze(self, names: Sequence[str]) -> None:
        with self.db.write() as tx:
            for name in names:
                for table in self.projections[name].tables:
                    tx.execute(f"ANALYZE {table.name}{NEW}")

    def _prepare_rebuild(self, names: Sequence[str], resume: bool) -> int:
        with self.db.write() as tx:
            self._lock_ddl(tx)
            positions = {}
            for name in names:
                tables = self.projections[name].tables
                tracked = tx.scalar("SELECT position FROM proj_tracking WHERE name = ?", (name + REBUILD,))
                if resume and tracked is not None and all(tx.table_exists(t.name + NEW) for t in tables):
                    positions[name] = int(tracked)
                    continue
                for table in tables:
                    tx.execute(f"DROP TABLE IF EXISTS {table.name}{NEW}")
                    table.create(tx, NEW)
                tx.execute("DELETE FROM proj_tracking WHERE name = ?", (name + REBUILD,))
                tx.execute("INSERT INTO proj_tracking (name, position, updated_us) VALUES (?, 0, 0)", (name + REBUILD,))
                positions[name] = 0
        if len(set(positions.values())) > 1:
            # Resumed projections at different positions: start them all over.
            return self._prepare_rebuild(names, resume=False)
        return next(iter(positions.values()))

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

    def _swap(self, names: Sequence[str], builders: dict[str, Any], position: int, force: bool = False) -> int:
        """Finish the new tables under the lock and rename them in, in one transaction."""
        replayed = 0
        with self.db.write() as tx:
            self._lock_ddl(tx)
            self._lock_positions(tx, [*names, *(n + REBUILD for n in names)])
            while True:
                page = read_page(self.registry, position, self.rebuild_page_size)
                if not page:
                    break
                for builder in builders.values():
                    _apply(builder, tx, page, NEW)
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
                tx.execute("DELETE FROM proj_tracking WHERE name = ?", (name + REBUILD,))
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
                base = name.removesuffix(REBUILD)
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
