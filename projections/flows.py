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
"""

from __future__ import annotations

import hashlib
import struct
from bisect import bisect_left, bisect_right
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

_CELL = struct.Struct("<3i")
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


# ------------------------------------------------------------------ reading


def sums_at(tx: Tx, days: Sequence[int], k: int) -> list[dict[int, Sums]]:
    """For each day D of ``days``: the flow log's sums by class over day <= D, moment <= k."""
    log, marks, sums = FLOWS.name, FLOW_MARKS.name, FLOW_SUMS.name
    out: list[dict[int, Sums]] = [{} for _ in days]
    if tx.dialect == "postgres":
        # A few thousand rows: starting parallel workers would cost more than they save.
        tx.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    mark = tx.one(f"SELECT mark, moment, bounds FROM {marks} WHERE moment <= ? ORDER BY moment DESC LIMIT 1", (k,))
    parts: list[str] = []
    params: list[Any] = []
    if mark is not None:
        mark_id, mark_moment = int(mark[0]), int(mark[1])
        raw = bytes(mark[2])
        bounds = struct.unpack(f"<{len(raw) // 4}i", raw)
        cells = [bisect_right(bounds, d) - 1 for d in days]
        used = [(i, divmod(c, CHUNK_CELLS)) for i, c in enumerate(cells) if c >= 0]
        if used:
            chunks = sorted({chunk for _, (chunk, _) in used})
            columns = ", ".join("substr(sums, ?, 12)" for _ in used)
            rows = tx.query(
                f"SELECT chunk, flow_class, {columns} FROM {sums} WHERE mark = ? "
                f"AND chunk IN ({', '.join('?' * len(chunks))})",
                [*(12 * at + 1 for _, (_, at) in used), mark_id, *chunks],
            )
            for row in rows:
                chunk, cid = int(row[0]), int(row[1])
                for (i, (wanted, _)), blob in zip(used, row[2:], strict=True):
                    if chunk != wanted:
                        continue
                    h, p, pp = _CELL.unpack(bytes(blob))
                    if h or p or pp:
                        _add(out[i], cid, h, p, pp)
        # The checkpoint's own entries in the cell of each day, after its bound. None is
        # after the last bound (the latest day it counted): an entry at or before the
        # checkpoint's moment written later would have dropped the checkpoint.
        for i, (d, c) in enumerate(zip(days, cells, strict=True)):
            if c == len(bounds) - 1:
                continue
            lo = bounds[c] if c >= 0 else None
            where = "day > ? AND " if lo is not None else ""
            parts.append(
                f"SELECT {i}, flow_class, sum(households), sum(persons), sum(prev_persons) FROM {log} "
                f"WHERE {where}day <= ? AND moment <= ? GROUP BY flow_class"
            )
            params += [*([lo] if lo is not None else []), d, mark_moment]
    else:
        mark_moment = -1
    # The tail: entries after the checkpoint, up to k.
    if k > mark_moment:
        for i, d in enumerate(days):
            parts.append(
                f"SELECT {i}, flow_class, sum(households), sum(persons), sum(prev_persons) FROM {log} "
                "WHERE moment > ? AND moment <= ? AND day <= ? GROUP BY flow_class"
            )
            params += [mark_moment, k, d]
    if parts:
        for i, cid, h, p, pp in tx.query(" UNION ALL ".join(parts), params):
            _add(out[int(i)], int(cid), int(h), int(p), int(pp))
    return out


def _add(target: dict[int, Sums], cid: int, h: int, p: int, pp: int) -> None:
    cell = target.get(cid)
    if cell is None:
        target[cid] = [h, p, pp]
    else:
        cell[0] += h
        cell[1] += p
        cell[2] += pp


#: What a class adds to a stock in a prefix: its own (status, attribute, main cause) when
#: its county is in the prefix, and takes back its prev's when the prev county is.
StockKeys = tuple[tuple[str, str, str] | None, tuple[str, str, str] | None]


class Classes:
    """The class dictionary, cached; re-read when an unknown class turns up."""

    def __init__(self) -> None:
        self._by_id: dict[int, FlowClass] = {}
        self._keys: dict[str, dict[int, Any]] = {}

    def get(self, tx: Tx, ids: Iterable[int]) -> dict[int, FlowClass]:
        ids = list(ids)
        if any(i not in self._by_id for i in ids):
            self._by_id = {
                int(r[0]): tuple(r[1:])  # type: ignore[misc]
                for r in tx.query(f"SELECT {', '.join(FLOW_CLASSES.column_names)} FROM {FLOW_CLASSES.name}")
            }
            self._keys = {}
        return self._by_id

    def stock_keys(self, prefix: str) -> dict[int, StockKeys]:
        keys = self._keys.get(prefix)
        if keys is None:
            keys = self._keys[prefix] = {cid: stock_keys(cls, prefix) for cid, cls in self._by_id.items()}
        return keys

    def group_keys(self, prefix: str) -> dict[int, tuple[Any, ...]]:
        """A class as the adjustment report groups it for ``prefix``: status, attribute,
        main cause, exit pathway, in prefix, prev status, attribute, main cause, prev in
        prefix, persons sign (:class:`~projections.adjustments.Group`'s fields)."""
        key = "groups:" + prefix
        keys = self._keys.get(key)
        if keys is None:
            keys = self._keys[key] = {
                cid: (status, attribute, cause, pathway, int(in_prefix(county, prefix)), p_status, p_attribute,
                      p_cause, int(in_prefix(p_county, prefix)), sign)
                for cid, (county, p_county, status, p_status, attribute, p_attribute, cause, p_cause, pathway, sign)
                in self._by_id.items()
            }
        return keys  # type: ignore[return-value]


def in_prefix(code: str | None, prefix: str) -> bool:
    return code is not None and code.startswith(prefix)


def stock_keys(cls: FlowClass, prefix: str) -> StockKeys:
    county, p_county, status, p_status, attribute, p_attribute, cause, p_cause, _, _ = cls
    own = (status, attribute, cause) if in_prefix(county, prefix) else None
    prev = None
    if p_status is not None and in_prefix(p_county, prefix):
        assert p_attribute is not None and p_cause is not None
        prev = (p_status, p_attribute, p_cause)
    return own, prev


def stocks(sums: dict[int, Sums], keys: dict[int, StockKeys]) -> dict[tuple[str, str, str], Sums]:
    """Households and persons by (status, attribute, main cause) in a prefix on the day the
    sums were taken (``keys``: :meth:`Classes.stock_keys` of the prefix): each row start
    adds its own content and takes back its prev's."""
    out: dict[tuple[str, str, str], Sums] = {}
    for cid, (h, p, pp) in sums.items():
        own, prev = keys[cid]
        if own is not None:
            cell = out.get(own)
            if cell is None:
                out[own] = [h, p, 0]
            else:
                cell[0] += h
                cell[1] += p
        if prev is not None:
            cell = out.get(prev)
            if cell is None:
                out[prev] = [-h, -pp, 0]
            else:
                cell[0] -= h
                cell[1] -= pp
    return {key: v for key, v in out.items() if v[0] or v[1]}


# ---------------------------------------------------------------- migration


def derive_from_timeline(tx: Tx, suffix: str = "") -> int:
    """Fill empty flow tables from ``proj_timeline`` (as the projection would have written
    them, but one entry per (moment, day, class) with position 0), then take the
    checkpoints. For a store whose timeline predates the flow log: no rebuild needed."""
    from datetime import date

    from projections.encoding import OPEN_US
    from projections.schema import TIMELINE

    county = "substr(division_code, 1, 6)"
    p_county = "substr(prev_division_code, 1, 6)"
    columns = (
        f"{county}, {p_county}, status, prev_status, attribute, prev_attribute, main_cause, prev_main_cause, "
        f"CASE WHEN status = 'exited' OR (status = 'returned' AND exit_pathway = '{READMITTED}') "
        "THEN exit_pathway END, "
        "CASE WHEN prev_status IS NULL THEN 0 WHEN persons > prev_persons THEN 1 "
        "WHEN persons < prev_persons THEN -1 ELSE 0 END"
    )
    counted = (
        f"NOT (prev_status IS NOT NULL AND {county} = {p_county} AND status = prev_status "
        "AND attribute = prev_attribute AND main_cause = prev_main_cause AND persons = prev_persons)"
    )
    timeline = TIMELINE.name + suffix
    rows = tx.query(
        f"SELECT moment, valid_from, {', '.join(f'c{i}' for i in range(10))}, sum(h), sum(p), sum(pp) FROM ("
        f"SELECT known_from AS moment, valid_from, {_aliased(columns)}, 1 AS h, persons AS p, "
        f"coalesce(prev_persons, 0) AS pp FROM {timeline} WHERE {counted} "
        "UNION ALL "
        f"SELECT known_to, valid_from, {_aliased(columns)}, -1, -persons, -coalesce(prev_persons, 0) "
        f"FROM {timeline} WHERE known_to < ? AND {counted}"
        f") t GROUP BY moment, valid_from, {', '.join(f'c{i}' for i in range(10))}",
        (OPEN_US,),
    )
    pending = Pending()
    numbers: dict[int, int] = {}
    days: dict[str, int] = {}
    for moment, valid_from, *rest in sorted(rows, key=lambda r: (r[0], r[1])):
        cls: FlowClass = tuple(rest[:10])  # type: ignore[assignment]
        h, p, pp = (int(v) for v in rest[10:])
        if not (h or p or pp):
            continue
        cid = class_id(cls)
        pending.classes[cid] = cls
        day = days.get(valid_from)
        if day is None:
            day = days[valid_from] = date.fromisoformat(valid_from).toordinal()
        n = numbers.get(moment, 0)
        numbers[moment] = n + 1
        pending.entries.append((int(moment), 0, n, day, cid, h, p, pp))
    tx.executemany(
        f"INSERT INTO {FLOW_CLASSES.name}{suffix} ({', '.join(FLOW_CLASSES.column_names)}) "
        f"VALUES ({', '.join('?' * len(FLOW_CLASSES.column_names))}) ON CONFLICT DO NOTHING",
        [(cid, *cls) for cid, cls in sorted(pending.classes.items())],
    )
    FLOWS.insert(tx, pending.entries, suffix)
    checkpoint_all(tx, suffix)
    return len(pending.entries)


def _aliased(columns: str) -> str:
    parts, depth, current = [], 0, ""
    for ch in columns:
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    parts.append(current.strip())
    return ", ".join(f"{part} AS c{i}" for i, part in enumerate(parts))
