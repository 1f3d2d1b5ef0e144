"""Reading the flow log (:mod:`projections.flows`): the sums "as of D, known at K" of
every flow class from a checkpoint, one cell of entries and the tail since the
checkpoint, and what they add up to for a division prefix — households and persons by
status, attribute and main cause (:func:`stocks`), or the adjustment report's groups
(:meth:`Classes.group_keys`).
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import Any

from persistence.db import Tx
from projections.flows import CHUNK_CELLS, FlowClass, Sums
from projections.schema import FLOW_CLASSES, FLOW_MARKS, FLOW_SUMS, FLOWS

_CELL = struct.Struct("<3i")


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
