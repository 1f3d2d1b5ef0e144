"""The read models checked row by row against a re-fold of the log (part of ``povreg verify``).

The chain (:mod:`projections.verify`) proves the stored events and the audit trail;
the cards, timeline, flow log, divisions and policies a query reads are derived
from them, and an edit there would go unseen by it. So the log is folded again,
by the projections' own code, into a scratch database beside the store (a
temporary SQLite file, plaintext, deleted afterwards), up to the position the
live read models have reached; then every table is compared with its live twin,
household by household, and each row that is missing, added or different is
named by its key. Sealed values are compared opened (each sealing draws a new
nonce); flow classes are compared by what they mean, not by their numbers.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bootstrap.settings import PLAINTEXT, Settings
from persistence.db import Database, Tx
from projections.encoding import chunks
from projections.households import HouseholdProjection
from projections.log import read_page
from projections.reference import ReferenceProjection
from projections.schema import (
    ACTORS,
    CARD_PARTS,
    CARDS,
    DIVISIONS,
    EVENTS,
    FLOW_CLASSES,
    FLOWS,
    POLICIES,
    TIMELINE,
    Table,
)
from projections.sealing import MARK, Sealer

PAGE = 2000
#: The tables compared row by row, with the columns that name a row.
CHECKED: tuple[Table, ...] = (EVENTS, ACTORS, CARDS, CARD_PARTS, TIMELINE, DIVISIONS, POLICIES)


@dataclass(frozen=True)
class RowDifference:
    table: str
    key: tuple[Any, ...]
    kind: str  # "altered", "missing" (in the live table), "added" (not in the log's re-fold)

    def describe(self) -> str:
        key = ", ".join(f"{c}={v}" for c, v in zip(_key_columns(self.table), self.key, strict=False))
        what = {
            "altered": "differs from the log's re-fold",
            "missing": "is missing (the log's re-fold has it)",
            "added": "is not in the log's re-fold (added or left behind)",
        }[self.kind]
        return f"{self.table} row ({key}) {what}"


def check_read_models(store: Any, upto: int, progress: Callable[[int, int], None] | None = None
                      ) -> list[RowDifference]:
    """Re-fold the log up to ``upto`` into scratch tables and compare them with the live ones."""
    with _scratch(store.db.sealer) as scratch:
        households = HouseholdProjection(cache_size=50_000)
        reference = ReferenceProjection()
        position = 0
        while position < upto:
            page = [e for e in read_page(store.registry, position, PAGE) if e.position <= upto]
            if not page:
                break
            with scratch.write() as tx:
                events = [e for e in page if e.is_household]
                households.apply(tx, [(e.position, e.household) for e in events],  # type: ignore[misc]
                                 "", {e.position: e.body_json for e in events})  # type: ignore[misc]
                reference.apply(tx, page)
            position = page[-1].position
            if progress:
                progress(position, upto)
        differences: list[RowDifference] = []
        with scratch.read() as want, store.db.read() as have:
            for table in CHECKED:
                differences += _compare(table, want, have)
            differences += _compare_flows(want, have)
        return differences


@contextmanager
def _scratch(sealer: Sealer) -> Iterator[Database]:
    """A temporary plaintext SQLite database; its card parts are named as ``sealer`` names them."""
    fd, path = tempfile.mkstemp(prefix="povreg-verify-", suffix=".db")
    os.close(fd)
    settings = Settings(database_url=f"sqlite:///{path}", cipher_key=PLAINTEXT)
    db = Database(settings, sealer=sealer.plain())
    try:
        with db.write() as tx:
            for table in (*HouseholdProjection.tables, *ReferenceProjection.tables):
                table.create(tx)
        yield db
    finally:
        db.close()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)


def _key_columns(table: str) -> list[str]:
    for t in (*CHECKED, FLOWS):
        if t.name == table:
            return [c.strip() for c in t.primary_key.split(",")]
    return []


def _opened(sealer: Sealer, row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(_open(sealer, v) for v in row)


def _open(sealer: Sealer, value: Any) -> Any:
    if isinstance(value, str) and value.startswith(MARK) and sealer.encrypted:
        try:
            return sealer.unseal(value)
        except Exception:
            return "<unreadable>"
    return value


def _compare(table: Table, want: Tx, have: Tx) -> list[RowDifference]:
    """Both tables' rows keyed by their primary key, compared one group of households at a time
    (or whole, for the small reference tables)."""
    keys = _key_columns(table.name)
    width = len(keys)
    columns = ", ".join(table.column_names)
    order = ", ".join(keys)
    out: list[RowDifference] = []

    def rows(tx: Tx, where: str = "", params: Sequence[Any] = ()) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        found = tx.query(f"SELECT {columns} FROM {table.name}{where} ORDER BY {order}", params)
        return {tuple(r[:width]): _opened(tx.sealer, r) for r in found}

    if "household_id" not in keys:
        groups: list[tuple[str, list[Any]]] = [("", [])]
    else:
        ids = sorted({r[0] for r in want.query(f"SELECT DISTINCT household_id FROM {table.name}")}
                     | {r[0] for r in have.query(f"SELECT DISTINCT household_id FROM {table.name}")})
        groups = [(f" WHERE household_id IN ({', '.join('?' * len(c))})", list(c)) for c in chunks(ids)]
    for where, params in groups:
        out += _differences(table.name, rows(want, where, params), rows(have, where, params), key=repr)
    return out


def _differences(
    table: str, expected: dict[Any, tuple[Any, ...]], actual: dict[Any, tuple[Any, ...]],
    key: Callable[[Any], Any] | None = None,
) -> list[RowDifference]:
    """Each row of ``table`` missing, added or altered, by key (in ``key`` order)."""
    out = []
    for k in sorted(set(expected) | set(actual), key=key):
        if k not in actual:
            out.append(RowDifference(table, k, "missing"))
        elif k not in expected:
            out.append(RowDifference(table, k, "added"))
        elif expected[k] != actual[k]:
            out.append(RowDifference(table, k, "altered"))
    return out


def _compare_flows(want: Tx, have: Tx) -> list[RowDifference]:
    """The flow log's entries, with each flow class read as what it means."""
    cols = ", ".join(f"c.{name}" for name in FLOW_CLASSES.column_names if name != "flow_class")
    sql = (f"SELECT f.moment, f.position, f.n, f.day, f.households, f.persons, f.prev_persons, {cols} "
           f"FROM {FLOWS.name} f LEFT JOIN {FLOW_CLASSES.name} c ON c.flow_class = f.flow_class")
    return _differences(FLOWS.name, {tuple(r[:3]): tuple(r) for r in want.query(sql)},
                        {tuple(r[:3]): tuple(r) for r in have.query(sql)})
