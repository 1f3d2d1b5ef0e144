"""County-level counts "as of D, known at K" without scanning the timeline.

Every timeline row known at K is a household's interval ``[valid_from, valid_to)``
with the interval before it (``prev_*``), and a household's rows known at K are
contiguous: the first has no ``prev``, each starts where the one before ends, the
last is open. So for any grouping of what a row holds,

    stock(D, K) = Σ over rows known at K with valid_from <= D of ([row] − [prev])

telescopes to the row covering D: roster counts, incidence and the adjustment
report's opening and closing are sums over *row starts*, and the report's flows
are the row starts in ``(start, end]``. A row start is believed over
``[known_from, known_to)``: it adds at ``known_from`` and is taken back at
``known_to``. Recorded as signed entries ``(day, moment, class, ±households,
±persons, ±prev_persons)`` — the **flow log**, ``proj_flows`` — every answer is a
sum over the entries with ``day <= D`` and ``moment <= K``: a 2-D dominance sum.

What makes it small: an event appended after a household's others closes the
open row and reopens it with the same start and content (only ``valid_to``
changed) — the two entries cancel — and opens one new row: one entry per change
instead of three rows. Rows that change nothing counted (same county, status,
attribute, main cause and persons as the row before: a new head, a move between
villages of the county) add nothing to any sum and are left out. A class
(``proj_flow_classes``) is what the report groups by: county and status,
attribute, main cause of the row and of the row before, the exit pathway of an
exit, whether persons rose or fell. Divisions are kept at county level (6
digits): the sums answer prefixes of 2, 4 and 6 digits; townships and villages
read the timeline (a few thousand rows).

Recording moments only grow, so the sums over ``moment <= K_j`` at a
**checkpoint** ``K_j`` never change once written. A checkpoint
(``proj_flow_marks``, ``proj_flow_sums``) holds, for each class, the cumulative
sums over days at a few hundred valid-time bounds (cells of about
``CELL_ENTRIES`` entries), packed in blobs of ``CHUNK_CELLS`` cells. Then

    sum(D, K) = checkpoint j (latest K_j <= K) at the last bound b <= D
              + entries with b < day <= D and moment <= K_j     (one cell)
              + entries with K_j < moment <= K and day <= D      (the tail)

which reads one short row per class and a few thousand entries, whatever D and K.

Writers: entries are written with the timeline rows, in the same transaction. A
checkpoint is taken when the tail holds ``CHECKPOINT_EVERY`` entries; it counts
the oldest ``CHECKPOINT_EVERY - CHECKPOINT_KEEP`` of them and leaves the newest
out, so that events projected a little out of recording order (concurrent
writers, Kafka partitions) still land in the tail.
An entry older than a checkpoint invalidates it (and those after it): they are
deleted and taken again later, one per write transaction. A rebuild's lanes (each
household shard at its own pace) take none, and the rebuild takes them all at its
end in one pass (:func:`checkpoint_all`). Writers serialise on a transaction-scoped
lock (PostgreSQL advisory lock; SQLite writers are serialised anyway), so a
checkpoint never misses an entry of a concurrent transaction.

This module writes the log and its checkpoints; :mod:`projections.flow_reading` reads
them, and :mod:`projections.flow_migration` derives the log from an older store's timeline.
"""

from __future__ import annotations

import hashlib
import struct
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from persistence.db import Tx
from projections.adjustments import READMITTED
from projections.schema import FLOW_CLASSES, FLOW_MARKS, FLOW_SUMS, FLOWS

#: Tail entries (moment after the last checkpoint) that trigger a checkpoint.
CHECKPOINT_EVERY = 6_000
#: The newest entries a checkpoint leaves in the tail.
CHECKPOINT_KEEP = 1_000
#: Entries per valid-time cell of a checkpoint.
CELL_ENTRIES = 2_500
#: Cells per stored row: 768-byte blobs stay in the row, uncompressed (PostgreSQL moves
#: values over ~2 kB out of line and compresses them, and reading one cell would then
#: fetch and inflate the whole vector).
CHUNK_CELLS = 64

#: (division county, prev county, status, prev status, attribute, prev attribute,
#:  main cause, prev main cause, exit pathway of an exit, sign of persons − prev persons)
FlowClass = tuple[str, str | None, str, str | None, str, str | None, str, str | None, str | None, int]
#: households, persons, prev persons
Sums = list[int]

_INT32 = 2**31


def flow_class(key: Sequence[Any], prev: Sequence[Any] | None) -> FlowClass | None:
    """The class of a timeline row (its Key and the Key before it); None when the row
    changes nothing a count reads (it adds zero to every sum)."""
    status, division, attribute, cause, persons, pathway = key[:6]
    county = division[:6]
    if prev is None:
        return (county, None, status, None, attribute, None, cause, None, _pathway(status, pathway), 0)
    p_status, p_division, p_attribute, p_cause, p_persons = prev[:5]
    p_county = p_division[:6]
    if (county, status, attribute, cause, persons) == (p_county, p_status, p_attribute, p_cause, p_persons):
        return None
    sign = (persons > p_persons) - (persons < p_persons)
    return (county, p_county, status, p_status, attribute, p_attribute, cause, p_cause,
            _pathway(status, pathway), sign)


def _pathway(status: str, pathway: str | None) -> str | None:
    """What a class keeps of the timeline's exit_pathway column: an exit's pathway, and
    whether a return was a readmission (错退纳回) rather than 返贫."""
    if status == "exited" or (status == "returned" and pathway == READMITTED):
        return pathway
    return None


_IDS: dict[FlowClass, int] = {}


def class_id(cls: FlowClass) -> int:
    """A stable 63-bit id (the same in every process and rebuild)."""
    cid = _IDS.get(cls)
    if cid is None:
        digest = hashlib.blake2b(repr(cls).encode(), digest_size=8).digest()
        cid = int.from_bytes(digest, "big") >> 1
        if len(_IDS) < 100_000:
            _IDS[cls] = cid
    return cid


# ------------------------------------------------------------------ writing


@dataclass
class Pending:
    """What a batch adds to the flow log."""

    entries: list[tuple[int, int, int, int, int, int, int, int]]
    classes: dict[int, FlowClass]

    def __init__(self) -> None:
        self.entries = []
        self.classes = {}

    def add(self, moment: int, position: int, changes: dict[tuple[int, FlowClass], list[int]]) -> None:
        """One event's row starts closed (negative) and opened (positive), by (day, class)."""
        n = 0
        for (day, cls), (households, persons, prev_persons) in sorted(
            changes.items(), key=lambda i: (i[0][0], class_id(i[0][1]))
        ):
            if households == 0 and persons == 0 and prev_persons == 0:
                continue
            cid = class_id(cls)
            self.classes[cid] = cls
            self.entries.append((moment, position, n, day, cid, households, persons, prev_persons))
            n += 1


def _lock(tx: Tx, table: str) -> None:
    """Serialise the writers of one flow log (this schema's, live or being rebuilt)."""
    if tx.dialect == "postgres":
        tx.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()), hashtext(?))", (table,))


def write(tx: Tx, pending: Pending, suffix: str = "", checkpoints: bool = True) -> None:
    """Add a batch's entries; invalidate checkpoints they predate; take one if due (unless
    ``checkpoints`` is false: a rebuild takes them all at the end, :func:`checkpoint_all`)."""
    if not pending.entries:
        return
    log = FLOWS.name + suffix
    _lock(tx, log)
    classes = sorted(pending.classes.items())
    tx.executemany(
        f"INSERT INTO {FLOW_CLASSES.name}{suffix} ({', '.join(FLOW_CLASSES.column_names)}) "
        f"VALUES ({', '.join('?' * len(FLOW_CLASSES.column_names))}) ON CONFLICT DO NOTHING",
        [(cid, *cls) for cid, cls in classes],
    )
    FLOWS.insert(tx, pending.entries, suffix)
    earliest = min(e[0] for e in pending.entries)
    marks, sums = FLOW_MARKS.name + suffix, FLOW_SUMS.name + suffix
    if tx.scalar(f"SELECT 1 FROM {marks} WHERE moment >= ? LIMIT 1", (earliest,)):
        # Projected after a checkpoint that should have counted it: drop the checkpoints
        # from there on (they are taken again from the log).
        tx.execute(f"DELETE FROM {sums} WHERE mark IN (SELECT mark FROM {marks} WHERE moment >= ?)", (earliest,))
        tx.execute(f"DELETE FROM {marks} WHERE moment >= ?", (earliest,))
    # At most one per transaction: a writer far behind the others (a Kafka partition
    # catching up) drops the checkpoints after its moments with every batch; retaking
    # them all each time would cost more than the longer tail they save.
    if checkpoints:
        checkpoint(tx, suffix)


def checkpoint(tx: Tx, suffix: str = "", every: int | None = None, keep: int | None = None) -> bool:
    """Take a checkpoint when the tail holds ``every`` entries; True when one was taken."""
    every = CHECKPOINT_EVERY if every is None else every
    keep = CHECKPOINT_KEEP if keep is None else keep
    log, marks = FLOWS.name + suffix, FLOW_MARKS.name + suffix
    last = tx.one(f"SELECT mark, moment FROM {marks} ORDER BY mark DESC LIMIT 1")
    last_mark, last_moment = (int(last[0]), int(last[1])) if last else (0, -1)
    tail = tx.scalar(f"SELECT count(*) FROM (SELECT 1 FROM {log} WHERE moment > ? LIMIT ?) t", (last_moment, every))
    if tail < every:
        return False
    # The checkpoint counts the oldest ``every - keep`` entries of the tail (and any sharing
    # the last one's moment); a bulk load takes them in turn until the tail is short.
    cut = tx.scalar(
        f"SELECT moment FROM {log} WHERE moment > ? ORDER BY moment LIMIT 1 OFFSET ?",
        (last_moment, max(1, every - keep) - 1),
    )
    if cut is None:
        return False
    cut = int(cut)
    _write_mark(tx, suffix, last_mark + 1, cut, _counted(tx, log, cut))
    return True


def checkpoint_all(tx: Tx, suffix: str = "", every: int | None = None, keep: int | None = None) -> int:
    """Take every checkpoint the tail is due, reading it once: the same checkpoints as
    calling :func:`checkpoint` until it declines, each call of which re-reads the log
    from its start. A rebuild's lanes write the log out of moment order (each shard at
    its own pace), so they leave the checkpoints to this; returns how many it took."""
    every = CHECKPOINT_EVERY if every is None else every
    keep = CHECKPOINT_KEEP if keep is None else keep
    log, marks = FLOWS.name + suffix, FLOW_MARKS.name + suffix
    last = tx.one(f"SELECT mark, moment FROM {marks} ORDER BY mark DESC LIMIT 1")
    mark, last_moment = (int(last[0]), int(last[1])) if last else (0, -1)
    # (flow_class, day) -> [entries, households, persons, prev_persons] over moment <= the last mark
    counted: dict[tuple[int, int], list[int]] = {}
    if last is not None:
        for cid, day, *sums in _counted(tx, log, last_moment):
            counted[(int(cid), int(day))] = [int(v) for v in sums]
    tail = _Tail(tx, log, last_moment)
    step = max(1, every - keep)
    taken = 0
    while tail.has(every):
        cut = tail.moment_at(step - 1)
        for _, cid, day, households, persons, prev_persons in tail.take_until(cut):
            cell = counted.get((cid, day))
            if cell is None:
                counted[(cid, day)] = [1, households, persons, prev_persons]
            else:
                cell[0] += 1
                cell[1] += households
                cell[2] += persons
                cell[3] += prev_persons
        mark += 1
        _write_mark(tx, suffix, mark, cut, [(cid, day, *sums) for (cid, day), sums in counted.items()])
        taken += 1
    return taken


class _Tail:
    """The flow log's entries after a moment, in moment order, read a page at a time (a
    large store's log does not fit in memory): (moment, flow_class, day, households,
    persons, prev_persons)."""

    PAGE = 100_000

    def __init__(self, tx: Tx, log: str, after: int) -> None:
        self._tx, self._log = tx, log
        self._key: tuple[int, int, int] | None = None  # the last entry read: (moment, position, n)
        self._after = after
        self._done = False
        self._rows: list[tuple[int, ...]] = []
        self._at = 0

    def _read(self) -> None:
        columns = "moment, position, n, flow_class, day, households, persons, prev_persons"
        if self._key is None:
            where, params = "moment > ?", [self._after]
        else:
            where, params = "(moment, position, n) > (?, ?, ?)", list(self._key)
        page = self._tx.query(
            f"SELECT {columns} FROM {self._log} WHERE {where} ORDER BY moment, position, n LIMIT ?",
            [*params, self.PAGE],
        )
        self._done = len(page) < self.PAGE
        if page:
            self._key = (int(page[-1][0]), int(page[-1][1]), int(page[-1][2]))
        self._rows = self._rows[self._at :] + [(int(r[0]), *(int(v) for v in r[3:])) for r in page]
        self._at = 0

    def has(self, n: int) -> bool:
        """Whether ``n`` entries remain."""
        while len(self._rows) - self._at < n and not self._done:
            self._read()
        return len(self._rows) - self._at >= n

    def moment_at(self, i: int) -> int:
        """The moment of the ``i``-th remaining entry (``has(i + 1)`` first)."""
        return self._rows[self._at + i][0]

    def take_until(self, moment: int) -> Iterator[tuple[int, ...]]:
        """The remaining entries up to ``moment``, consumed."""
        while self.has(1) and self._rows[self._at][0] <= moment:
            yield self._rows[self._at]
            self._at += 1


def _counted(tx: Tx, log: str, cut: int) -> list[tuple[Any, ...]]:
    """(flow_class, day, entries, households, persons, prev_persons) over the entries with moment <= cut."""
    return tx.query(
        f"SELECT flow_class, day, count(*), sum(households), sum(persons), sum(prev_persons) FROM {log} "
        "WHERE moment <= ? GROUP BY flow_class, day",
        (cut,),
    )


def _write_mark(tx: Tx, suffix: str, mark: int, cut: int, rows: Sequence[tuple[Any, ...]]) -> None:
    """Checkpoint ``mark`` at moment ``cut`` from what the entries up to it add to (``rows``
    as :func:`_counted` gives them): cumulative sums by class at the cells' bounds."""
    marks = FLOW_MARKS.name + suffix
    bounds = _bounds(rows)
    cells = len(bounds)
    vectors: dict[int, list[int]] = {}
    for cid, day, _, households, persons, prev_persons in rows:
        vec = vectors.get(cid)
        if vec is None:
            vec = vectors[cid] = [0] * (3 * cells)
        at = 3 * bisect_left(bounds, day)
        vec[at] += int(households)
        vec[at + 1] += int(persons)
        vec[at + 2] += int(prev_persons)
    packed = []
    width = 3 * CHUNK_CELLS
    for cid, vec in vectors.items():
        for i in range(3, 3 * cells):  # cumulative over cells: sums over day <= bound
            vec[i] += vec[i - 3]
        if max(vec) >= _INT32 or min(vec) < -_INT32:
            raise OverflowError(f"flow sums of class {cid} exceed 32 bits")
        for chunk, at in enumerate(range(0, 3 * cells, width)):
            part = vec[at : at + width]
            if any(part):  # an absent chunk reads as zeros
                packed.append((mark, chunk, cid, struct.pack(f"<{len(part)}i", *part)))
    tx.execute(
        f"INSERT INTO {marks} (mark, moment, bounds) VALUES (?, ?, ?)",
        (mark, cut, struct.pack(f"<{cells}i", *bounds)),
    )
    FLOW_SUMS.insert(tx, packed, suffix)


def _bounds(rows: Iterable[tuple[Any, ...]]) -> list[int]:
    """Valid-time cell bounds (days), each cell holding about ``CELL_ENTRIES`` entries."""
    per_day: dict[int, int] = {}
    for _, day, count, *_ in rows:
        per_day[day] = per_day.get(day, 0) + int(count)
    bounds = []
    acc = 0
    for day in sorted(per_day):
        acc += per_day[day]
        if acc >= CELL_ENTRIES:
            bounds.append(day)
            acc = 0
    if per_day and (not bounds or bounds[-1] != max(per_day)):
        bounds.append(max(per_day))
    return bounds
