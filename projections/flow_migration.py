"""The flow log (:mod:`projections.flows`) derived from an existing timeline, for a store
whose ``proj_timeline`` predates it: the entries the projection would have written, but
one per (moment, day, class) with position 0, then the checkpoints."""

from __future__ import annotations

from datetime import date

from persistence.db import Tx
from projections.adjustments import READMITTED
from projections.encoding import OPEN_US
from projections.flows import FlowClass, Pending, checkpoint_all, class_id
from projections.schema import FLOW_CLASSES, FLOWS, TIMELINE


def derive_from_timeline(tx: Tx, suffix: str = "") -> int:
    """Fill empty flow tables from ``proj_timeline`` (as the projection would have written
    them, but one entry per (moment, day, class) with position 0), then take the
    checkpoints. For a store whose timeline predates the flow log: no rebuild needed."""
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
