"""The three-year dynamic adjustment report (三年动态调整), from timeline rows.

For a division (any code prefix) and a cycle ``[start, end]``, a household is
*counted* on day d when, as of d, its status is ``poor``, ``returned`` or
``exit_pending`` (still 在档未脱贫: not exited until the exit is confirmed) and
its division is under the prefix. Then:

* **opening** = counted on ``start``; **closing** = counted on ``end``;
* every day d in ``(start, end]`` on which counting changes is a flow. An
  inflow is ``transferred_in`` when the household was already counted elsewhere
  the day before, ``returned`` when it came from ``exited``, else ``identified``
  (new approvals, re-identification after removal). An outflow is
  ``transferred_out`` when it is still counted elsewhere, else named after the
  status it moved to: ``exited`` (broken down by exit pathway), ``removed``,
  ``closed``.
* persons change while a household stays counted (births, deaths): those are
  ``members_joined`` / ``members_left`` flows of persons with zero households,
  so the persons column reconciles too.

opening + inflows − outflows = closing then holds for households and persons,
in total and per attribute and main cause. Opening and closing are read from
the rows on their own dates and the flows from the changes between rows, so the
check in :func:`report` is a real one, not an identity.

The rows come from the timeline projection as known at ``known_at``;
:func:`contribution` is what one household adds to the report, which the diff
("as filed" versus "as now known") compares household by household.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

COUNTED = frozenset({"poor", "returned", "exit_pending"})
INFLOWS = ("identified", "returned", "readmitted", "transferred_in", "members_joined", "reclassified")
OUTFLOWS = ("exited", "removed", "closed", "transferred_out", "members_left", "reclassified")
#: The second stock: exited households (已脱贫), still on the register and monitored.
EXITED = frozenset({"exited"})
EXITED_INFLOWS = ("exited", "transferred_in", "members_joined", "reclassified")
EXITED_OUTFLOWS = ("returned", "readmitted", "removed", "closed", "transferred_out", "members_left", "reclassified")
#: The timeline's exit_pathway column of a ``returned`` row that a revisit readmitted
#: (错退纳回: the exit was wrong) rather than a return to poverty (返贫).
READMITTED = "readmitted"


def entry_kind(stock: frozenset[str], prev_status: str | None, marker: str | None) -> str:
    """How a household entered ``stock`` from ``prev_status`` (its row's pathway column ``marker``)."""
    if prev_status in stock:
        return "transferred_in"
    if stock is EXITED:
        return "exited"
    if prev_status == "exited":
        return READMITTED if marker == READMITTED else "returned"
    return "identified"


def leave_kind(stock: frozenset[str], status: str, marker: str | None) -> str:
    """How a household left ``stock`` for ``status``."""
    if status in stock:
        return "transferred_out"
    if status == "returned":
        return READMITTED if marker == READMITTED else "returned"
    return status


def _kinds(stock: frozenset[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return (EXITED_INFLOWS, EXITED_OUTFLOWS) if stock is EXITED else (INFLOWS, OUTFLOWS)


@dataclass(frozen=True)
class Span:
    """One valid-time row of a household as known at the report's moment."""

    valid_from: date
    valid_to: date | None
    status: str
    division_code: str
    attribute: str
    main_cause: str
    persons: int
    exit_pathway: str | None


@dataclass(frozen=True)
class Stock:
    persons: int
    attribute: str
    main_cause: str
    households: int = 1


@dataclass(frozen=True)
class Flow:
    direction: str  # "in" | "out"
    kind: str
    on: date
    households: int
    persons: int
    attribute: str
    main_cause: str
    pathway: str | None = None


@dataclass(frozen=True)
class Contribution:
    household_id: str
    opening: Stock | None
    flows: tuple[Flow, ...]
    closing: Stock | None

    def as_json(self) -> dict[str, Any]:
        def stock(s: Stock | None) -> dict[str, Any] | None:
            return None if s is None else {"persons": s.persons, "attribute": s.attribute, "main_cause": s.main_cause}

        return {
            "household_id": self.household_id,
            "opening": stock(self.opening),
            "flows": [
                {
                    "direction": f.direction,
                    "kind": f.kind,
                    "on": f.on.isoformat(),
                    "households": f.households,
                    "persons": f.persons,
                    "attribute": f.attribute,
                    "main_cause": f.main_cause,
                    "pathway": f.pathway,
                }
                for f in self.flows
            ],
            "closing": stock(self.closing),
        }


def _covering(spans: Sequence[Span], day: date) -> Span | None:
    for s in spans:
        if s.valid_from <= day and (s.valid_to is None or day < s.valid_to):
            return s
    return None


def contribution(
    household_id: str, spans: Sequence[Span], prefix: str, start: date, end: date, statuses: frozenset[str] = COUNTED
) -> Contribution:
    """What one household adds to the report of the stock of ``statuses``; ``spans`` in
    valid-time order, contiguous."""

    def counted(s: Span | None) -> bool:
        return s is not None and s.status in statuses and s.division_code.startswith(prefix)

    def stock(s: Span | None) -> Stock | None:
        return Stock(s.persons, s.attribute, s.main_cause) if s is not None and counted(s) else None

    flows: list[Flow] = []
    for i, cur in enumerate(spans):
        if not (start < cur.valid_from <= end):
            continue
        prev = spans[i - 1] if i > 0 and spans[i - 1].valid_to == cur.valid_from else None
        was, now = counted(prev), counted(cur)
        if was and now:
            assert prev is not None
            if (prev.attribute, prev.main_cause) != (cur.attribute, cur.main_cause):
                flows.append(
                    Flow("out", "reclassified", cur.valid_from, 1, prev.persons, prev.attribute, prev.main_cause)
                )
                flows.append(Flow("in", "reclassified", cur.valid_from, 1, cur.persons, cur.attribute, cur.main_cause))
            elif cur.persons != prev.persons:
                delta = cur.persons - prev.persons
                kind, direction = ("members_joined", "in") if delta > 0 else ("members_left", "out")
                flows.append(Flow(direction, kind, cur.valid_from, 0, abs(delta), cur.attribute, cur.main_cause))
        elif now:
            kind = entry_kind(statuses, prev.status if prev is not None else None, cur.exit_pathway)
            pathway = cur.exit_pathway if kind == "exited" else None
            flows.append(Flow("in", kind, cur.valid_from, 1, cur.persons, cur.attribute, cur.main_cause, pathway))
        elif was:
            assert prev is not None
            kind = leave_kind(statuses, cur.status, cur.exit_pathway)
            pathway = cur.exit_pathway if kind == "exited" else None
            flows.append(Flow("out", kind, cur.valid_from, 1, prev.persons, prev.attribute, prev.main_cause, pathway))
    return Contribution(
        household_id, stock(_covering(spans, start)), tuple(flows), stock(_covering(spans, end))
    )


class _Summary:
    def __init__(self, with_pathway: bool = False) -> None:
        self.households = 0
        self.persons = 0
        self.by_main_cause: dict[str, list[int]] = {}
        self.by_attribute: dict[str, list[int]] = {}
        self.by_pathway: dict[str, list[int]] | None = {} if with_pathway else None

    def add(self, households: int, persons: int, attribute: str, main_cause: str, pathway: str | None = None) -> None:
        self.households += households
        self.persons += persons
        for key, table in ((main_cause, self.by_main_cause), (attribute, self.by_attribute)):
            cell = table.setdefault(key, [0, 0])
            cell[0] += households
            cell[1] += persons
        if self.by_pathway is not None:
            cell = self.by_pathway.setdefault(pathway or "unknown", [0, 0])
            cell[0] += households
            cell[1] += persons

    def as_json(self) -> dict[str, Any]:
        def table(t: dict[str, list[int]]) -> dict[str, dict[str, int]]:
            return {k: {"households": v[0], "persons": v[1]} for k, v in sorted(t.items())}

        out: dict[str, Any] = {
            "households": self.households,
            "persons": self.persons,
            "by_main_cause": table(self.by_main_cause),
            "by_attribute": table(self.by_attribute),
        }
        if self.by_pathway is not None:
            out["by_pathway"] = table(self.by_pathway)
        return out


def report(contributions: Iterable[Contribution], stock: frozenset[str] = COUNTED) -> dict[str, Any]:
    """Opening, inflows, outflows, closing (households, persons, breakdowns) and the check."""
    openings: list[Stock] = []
    closings: list[Stock] = []
    flows: list[Flow] = []
    for c in contributions:
        if c.opening:
            openings.append(c.opening)
        if c.closing:
            closings.append(c.closing)
        flows.extend(c.flows)
    return _report(openings, closings, flows, stock)


def both_stocks(poor: dict[str, Any], exited: dict[str, Any]) -> dict[str, Any]:
    """The report of the poor with the exited stock beside it; it reconciles when both do."""
    return {**poor, "reconciles": poor["reconciles"] and exited["reconciles"], "exited_stock": exited}


def report_from_spans(spans: dict[str, list[Span]], prefix: str, start: date, end: date) -> dict[str, Any]:
    """Both stocks' report from each household's spans (:func:`contribution`)."""
    return both_stocks(*(
        report((contribution(hid, rows, prefix, start, end, stock) for hid, rows in spans.items()), stock)
        for stock in (COUNTED, EXITED)
    ))


@dataclass(frozen=True)
class Group:
    """Timeline rows as the database groups them for a report (one row of its query)."""

    opening: int  # the rows cover the cycle's start
    closing: int  # … its end
    flow: int  # … start in (start, end]: a change
    status: str
    attribute: str
    main_cause: str
    exit_pathway: str | None
    in_prefix: int
    prev_status: str | None
    prev_attribute: str | None
    prev_main_cause: str | None
    prev_in_prefix: int
    persons_sign: int
    rows: int
    persons: int
    prev_persons: int


def report_from_groups(groups: Iterable[Group]) -> dict[str, Any]:
    """The report from grouped timeline rows: each row is an interval with the one before it,
    so its flow (if any) is named here exactly as :func:`contribution` names it."""
    groups = list(groups)
    reports = []
    for stock in (COUNTED, EXITED):
        openings: list[Stock] = []
        closings: list[Stock] = []
        flows: list[Flow] = []
        for g in groups:
            now = g.status in stock and bool(g.in_prefix)
            if now and g.opening:
                openings.append(Stock(g.persons, g.attribute, g.main_cause, g.rows))
            if now and g.closing:
                closings.append(Stock(g.persons, g.attribute, g.main_cause, g.rows))
            if g.flow:
                flows.extend(_group_flows(g, now, stock))
        reports.append(_report(openings, closings, flows, stock))
    return both_stocks(*reports)


def report_from_flow_sums(
    opening: dict[tuple[str, str, str], list[int]],
    closing: dict[tuple[str, str, str], list[int]],
    flow_groups: Iterable[Group],
) -> dict[str, Any]:
    """The report from stocks by (status, attribute, main cause) — households, persons — on
    the cycle's start and end, and the row starts in between grouped as the timeline
    query groups them (``flow`` set)."""
    groups = list(flow_groups)
    reports = []
    for stock in (COUNTED, EXITED):
        openings = [Stock(v[1], a, c, v[0]) for (s, a, c), v in opening.items() if s in stock]
        closings = [Stock(v[1], a, c, v[0]) for (s, a, c), v in closing.items() if s in stock]
        flows: list[Flow] = []
        for g in groups:
            flows.extend(_group_flows(g, g.status in stock and bool(g.in_prefix), stock))
        reports.append(_report(openings, closings, flows, stock))
    return both_stocks(*reports)


def _group_flows(g: Group, now: bool, stock: frozenset[str] = COUNTED) -> Iterator[Flow]:
    was = g.prev_status in stock and bool(g.prev_in_prefix)
    prev_attribute, prev_cause = g.prev_attribute or "", g.prev_main_cause or ""
    if was and now:
        if (prev_attribute, prev_cause) != (g.attribute, g.main_cause):
            yield Flow("out", "reclassified", START, g.rows, g.prev_persons, prev_attribute, prev_cause)
            yield Flow("in", "reclassified", START, g.rows, g.persons, g.attribute, g.main_cause)
        elif g.persons_sign:
            delta = g.persons - g.prev_persons
            kind, direction = ("members_joined", "in") if delta > 0 else ("members_left", "out")
            yield Flow(direction, kind, START, 0, abs(delta), g.attribute, g.main_cause)
    elif now:
        kind = entry_kind(stock, g.prev_status, g.exit_pathway)
        pathway = g.exit_pathway if kind == "exited" else None
        yield Flow("in", kind, START, g.rows, g.persons, g.attribute, g.main_cause, pathway)
    elif was:
        kind = leave_kind(stock, g.status, g.exit_pathway)
        pathway = g.exit_pathway if kind == "exited" else None
        yield Flow("out", kind, START, g.rows, g.prev_persons, prev_attribute, prev_cause, pathway)


#: Aggregated flows have no single date.
START = date.min


def _report(
    openings: Iterable[Stock], closings: Iterable[Stock], flows: Iterable[Flow], stock: frozenset[str] = COUNTED
) -> dict[str, Any]:
    opening, closing = _Summary(), _Summary()
    in_kinds, out_kinds = _kinds(stock)
    inflows = {k: _Summary(with_pathway=k == "exited") for k in in_kinds}
    outflows = {k: _Summary(with_pathway=k == "exited") for k in out_kinds}
    in_total, out_total = _Summary(), _Summary()
    for held in openings:
        opening.add(held.households, held.persons, held.attribute, held.main_cause)
    for held in closings:
        closing.add(held.households, held.persons, held.attribute, held.main_cause)
    for f in flows:
        target, total = (inflows, in_total) if f.direction == "in" else (outflows, out_total)
        target.setdefault(f.kind, _Summary()).add(f.households, f.persons, f.attribute, f.main_cause, f.pathway)
        total.add(f.households, f.persons, f.attribute, f.main_cause)
    checks = _reconcile(opening, in_total, out_total, closing)
    return {
        "counted_statuses": sorted(stock),
        "opening": opening.as_json(),
        "inflows": {**{k: v.as_json() for k, v in inflows.items()}, "total": in_total.as_json()},
        "outflows": {**{k: v.as_json() for k, v in outflows.items()}, "total": out_total.as_json()},
        "closing": closing.as_json(),
        "reconciles": all(c["ok"] for c in checks),
        "reconciliation": checks,
    }


def _reconcile(opening: _Summary, ins: _Summary, outs: _Summary, closing: _Summary) -> list[dict[str, Any]]:
    def cell(s: _Summary, table: str | None, key: str | None) -> tuple[int, int]:
        if table is None:
            return s.households, s.persons
        v = getattr(s, table).get(key, [0, 0])
        return v[0], v[1]

    keys: list[tuple[str, str | None, str | None]] = [("total", None, None)]
    for table, label in (("by_attribute", "attribute"), ("by_main_cause", "main_cause")):
        seen = set()
        for s in (opening, ins, outs, closing):
            seen |= set(getattr(s, table))
        keys += [(f"{label}={k}", table, k) for k in sorted(seen)]
    checks = []
    for label, table_name, key in keys:
        o, i, x, c = (cell(s, table_name, key) for s in (opening, ins, outs, closing))
        ok = all(o[n] + i[n] - x[n] == c[n] for n in (0, 1))
        checks.append(
            {
                "key": label,
                "opening": {"households": o[0], "persons": o[1]},
                "inflows": {"households": i[0], "persons": i[1]},
                "outflows": {"households": x[0], "persons": x[1]},
                "closing": {"households": c[0], "persons": c[1]},
                "ok": ok,
            }
        )
    return checks


def day_before(d: date) -> date:
    return d - timedelta(days=1)
