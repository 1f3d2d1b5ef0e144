"""Running the projections: the store of read models, catch-up and status.

Every projection's rows and its tracking position (``proj_tracking``) are
written in the same transaction, and the position is read inside that
transaction under a lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL:
``SELECT … FOR UPDATE`` on the tracking rows). So a process killed at any moment
leaves the tables exactly as of some committed page, and the next catch-up —
in this process or any other, or several at once — resumes after it: nothing
lost, nothing doubled. A rebuild from the whole log into fresh tables, swapped
in at the end, is :mod:`projections.rebuild`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from persistence.db import Database, Tx
from projections.audit import AuditProjection
from projections.encoding import to_us
from projections.households import HouseholdProjection
from projections.log import Entry, head, read_page
from projections.reference import ReferenceProjection
from projections.schema import SEALED, TRACKING, Table
from projections.sealing import Sealer
from service.registry import Registry

NEW = "_new"
REBUILD = "@rebuild"


class Projection(Protocol):
    name: str
    tables: tuple[Table, ...]
    #: What its tables hold, numbered: raised whenever that changes (even under the same
    #: columns), so that tables an older version wrote are rebuilt, never misread.
    layout: int

    def reset(self) -> None: ...


def apply_entries(projection: Any, tx: Tx, entries: Sequence[Entry], suffix: str) -> int:
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

    def lock_ddl(self, tx: Tx) -> None:
        if tx.dialect == "postgres":
            tx.execute("SELECT pg_advisory_xact_lock(?)", (0x70726F6A,))

    def setup(self) -> None:
        """Create the live tables and tracking rows that are missing.

        A projection whose tables are not as declared, or were written in another
        layout (``proj_sealed`` holds ``<name>/<layout>`` of the tables as written:
        an older version of this code made them), is dropped and starts over from
        position 0: the next catch-up rebuilds it from the log.
        """
        with self.db.write() as tx:
            self.lock_ddl(tx)
            TRACKING.create(tx)
            SEALED.create(tx)
            written = {name for (name,) in tx.query("SELECT name FROM proj_sealed")}
            for projection in self.projections.values():
                # Tables written before personal data was sealed (projections.sealing), or
                # holding other things under the same columns, are rebuilt like tables of
                # another shape.
                marker = f"{projection.name}/{projection.layout}"
                if marker not in written or any(
                    tx.columns(t.name) != list(t.column_names) for t in projection.tables
                ):
                    for table in projection.tables:
                        tx.execute(f"DROP TABLE IF EXISTS {table.name}")
                        table.create(tx)
                    tx.execute("DELETE FROM proj_tracking WHERE name = ?", (projection.name,))
                    tx.execute("DELETE FROM proj_sealed WHERE name = ? OR name LIKE ?",
                               (projection.name, projection.name + "/%"))
                    tx.execute("INSERT INTO proj_sealed (name) VALUES (?)", (marker,))
                tx.execute(
                    "INSERT INTO proj_tracking (name, position, updated_us) VALUES (?, 0, 0) ON CONFLICT DO NOTHING",
                    (projection.name,),
                )

    def lock_positions(self, tx: Tx, names: Sequence[str], wait: bool = True) -> dict[str, int]:
        """The tracking rows of ``names``, locked; without ``wait`` (PostgreSQL) raises
        ``psycopg.errors.LockNotAvailable`` at once if another transaction holds them."""
        marks = ", ".join("?" * len(names))
        lock = (" FOR UPDATE" if wait else " FOR UPDATE NOWAIT") if tx.dialect == "postgres" else ""
        rows = tx.query(
            f"SELECT name, position FROM proj_tracking WHERE name IN ({marks}) ORDER BY name{lock}", list(names)
        )
        return {name: position for name, position in rows}

    @staticmethod
    def track(tx: Tx, name: str, position: int) -> None:
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
                    positions = self.lock_positions(tx, names, wait)
                    start = min(positions.values())
                    page = read_page(self.registry, start, self.page_size)
                    if not page:
                        break
                    for name, projection in self.projections.items():
                        todo = [e for e in page if e.position > positions[name]]
                        if todo:
                            apply_entries(projection, tx, todo, "")
                            self.track(tx, name, page[-1].position)
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
                self.lock_positions(tx, [tracking[0]])
            applied = self.households.apply(tx, items)
            if tracking is not None:
                self.track(tx, tracking[0], tracking[1])
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

    def rebuild(self, names: Sequence[str] | None = None, **options: Any) -> int:
        """Replay the whole log into fresh tables and swap them in; returns events replayed.
        The options (``progress``, ``resume``, ``workers`` …) are :meth:`projections.rebuild.Rebuild.run`'s."""
        from projections.rebuild import Rebuild  # it builds on this store: imported when used

        return Rebuild(self).run(names, **options)

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


def to_us_now() -> int:
    from datetime import UTC, datetime

    return to_us(datetime.now(UTC))
