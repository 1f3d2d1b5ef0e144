"""The three-year adjustment report (三年动态调整) of a division, and the report as filed at
the cycle's close against the report as now known (:mod:`projections.adjustments` computes
contributions and the report from timeline rows; this module reads them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from domain.moments import end_of_day
from persistence.db import Tx
from projections import adjustments as adj
from projections import flow_reading
from projections.encoding import OPEN_DATE, chunks, from_us, known_us
from projections.reading import FLOW_PREFIX, Queries, check_prefix, prefix_range
from projections.schema import events_with_actors
from projections.sealing import Sealer


class AdjustmentQueries(Queries):
    def _spans(
        self, tx: Tx, prefix: str, start: date, end: date, k: int, households: Sequence[str] | None = None
    ) -> dict[str, list[adj.Span]]:
        """The cycle's timeline rows known at ``k`` of the households with one in the division
        (of those among ``households``, when given)."""
        lo, hi = prefix_range(prefix)
        s, e = start.isoformat(), end.isoformat()
        known = "known_from <= ? AND known_to > ?"
        sql = (
            "SELECT household_id, valid_from, valid_to, status, division_code, attribute, main_cause, persons, "
            f"exit_pathway FROM proj_timeline WHERE {known} AND valid_to > ? AND valid_from <= ? "
            "AND household_id IN (SELECT household_id FROM proj_timeline WHERE division_code >= ? "
            f"AND division_code < ? AND {known} AND valid_to > ? AND valid_from <= ?) "
        )
        params: list[Any] = [k, k, s, e, lo, hi, k, k, s, e]
        if households is None:
            rows = tx.query(sql + "ORDER BY household_id, valid_from", params)
        else:
            rows = []
            for chunk in chunks(sorted(households)):
                rows += tx.query(
                    f"{sql}AND household_id IN ({', '.join('?' * len(chunk))}) ORDER BY household_id, valid_from",
                    [*params, *chunk],
                )
        spans: dict[str, list[adj.Span]] = {}
        for hid, vf, vt, status, code, attribute, cause, persons, pathway in rows:
            spans.setdefault(hid, []).append(
                adj.Span(
                    date.fromisoformat(vf),
                    None if vt == OPEN_DATE else date.fromisoformat(vt),
                    status,
                    code,
                    attribute,
                    cause,
                    int(persons),
                    pathway,
                )
            )
        return spans

    def contributions(
        self, division_prefix: str, start: date, end: date, known_at: datetime | None,
        households: Sequence[str] | None = None,
    ) -> dict[str, adj.Contribution]:
        """Each household's share of the cycle report (of those among ``households``, when given)."""
        check_prefix(division_prefix)
        if end < start:
            raise ValueError("the cycle's end is before its start")
        with self.store.db.read() as tx:
            spans = self._spans(tx, division_prefix, start, end, known_us(known_at), households)
        out = {}
        for hid, rows in spans.items():
            c = adj.contribution(hid, rows, division_prefix, start, end)
            if c.opening or c.closing or c.flows:
                out[hid] = c
        return out

    def adjustments(
        self, division_prefix: str, start: date, end: date, known_at: datetime | None
    ) -> dict[str, Any]:
        """The cycle report, aggregated in the database.

        Each timeline row carries the interval before it (``prev_*``), so every
        flow is one row starting in ``(start, end]``, opening and closing are the
        rows covering ``start`` and ``end``; the rows are grouped by what
        classifies them and :func:`adjustments.report_from_groups` names the flows
        exactly as :func:`adjustments.contribution` does household by household.
        For a county or a wider prefix the groups are the flow log's sums at
        ``start`` and ``end`` (:mod:`projections.flows`); for a township or
        a village, one scan of its timeline rows.
        """
        check_prefix(division_prefix)
        if end < start:
            raise ValueError("the cycle's end is before its start")
        lo, hi = prefix_range(division_prefix)
        k = known_us(known_at)
        s, e = start.isoformat(), end.isoformat()
        if self._flows_for(division_prefix):
            with self.store.db.read() as tx:
                at_start, at_end = flow_reading.sums_at(tx, [start.toordinal(), end.toordinal()], k)
                self.context.flow_classes.get(tx, set(at_start) | set(at_end))
            keys = self.context.flow_classes.stock_keys(division_prefix)
            return {
                "division_code": division_prefix,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "known_at": known_at.isoformat(timespec="microseconds") if known_at else None,
                **adj.report_from_flow_sums(
                    flow_reading.stocks(at_start, keys),
                    flow_reading.stocks(at_end, keys),
                    _flow_groups(at_start, at_end, self.context.flow_classes.group_keys(division_prefix)),
                ),
            }
        with self.store.db.read() as tx:
            # One pass: each row is flagged as covering start, covering end, or starting
            # in (start, end] (a flow), and grouped by what classifies it. The groups are
            # a few thousand at most, but PostgreSQL guesses far more and sorts 100,000s of
            # rows to group them: hashing them is 2–3× faster.
            if tx.dialect == "postgres":
                tx.execute("SET LOCAL enable_sort = off")
            groups = tx.query(
                "SELECT CASE WHEN t.valid_from <= ? AND t.valid_to > ? THEN 1 ELSE 0 END, "
                "CASE WHEN t.valid_from <= ? AND t.valid_to > ? THEN 1 ELSE 0 END, "
                "CASE WHEN t.valid_from > ? THEN 1 ELSE 0 END, "
                "t.status, t.attribute, t.main_cause, t.exit_pathway, "
                "CASE WHEN t.division_code >= ? AND t.division_code < ? THEN 1 ELSE 0 END, "
                "t.prev_status, t.prev_attribute, t.prev_main_cause, "
                "CASE WHEN t.prev_division_code >= ? AND t.prev_division_code < ? THEN 1 ELSE 0 END, "
                "CASE WHEN t.persons > t.prev_persons THEN 1 WHEN t.persons < t.prev_persons THEN -1 ELSE 0 END, "
                "count(*), sum(t.persons), coalesce(sum(t.prev_persons), 0) "
                "FROM proj_timeline t "
                "WHERE t.known_from <= ? AND t.known_to > ? AND t.valid_from <= ? AND t.valid_to > ? AND "
                "((t.division_code >= ? AND t.division_code < ?) OR "
                "(t.prev_division_code >= ? AND t.prev_division_code < ?)) "
                "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13",
                (s, s, e, e, s, lo, hi, lo, hi, k, k, e, s, lo, hi, lo, hi),
            )
        return {
            "division_code": division_prefix,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "known_at": known_at.isoformat(timespec="microseconds") if known_at else None,
            **adj.report_from_groups(adj.Group(*g) for g in groups),  # type: ignore[arg-type]
        }

    def filed_at(self, end: date) -> datetime:
        """"As filed at the cycle's close": the end of the cycle's last day, registry time."""
        return end_of_day(end, self.tz)

    def adjustments_diff(
        self,
        division_prefix: str,
        start: date,
        end: date,
        filed_at: datetime | None = None,
        known_at: datetime | None = None,
    ) -> dict[str, Any]:
        """The report as filed at ``filed_at`` versus as known at ``known_at``, and why they differ:
        the households whose contribution changed and the events recorded in between
        (late entries, corrections, retractions) that changed it."""
        filed_at = filed_at or self.filed_at(end)
        lo_us, hi_us = known_us(filed_at), known_us(known_at)
        # A county (or wider): only the households whose rows in the cycle changed between
        # the two moments can count otherwise, found in one scan of the rows that changed;
        # a township or village reads its own rows through the division index.
        candidates = (
            self._changed_households(division_prefix, start, end, min(lo_us, hi_us), max(lo_us, hi_us))
            if len(division_prefix) <= FLOW_PREFIX else None
        )
        before = self.contributions(division_prefix, start, end, filed_at, candidates)
        after = self.contributions(division_prefix, start, end, known_at, candidates)
        changed = sorted(
            hid for hid in set(before) | set(after)
            if _comparable(before.get(hid)) != _comparable(after.get(hid))
        )
        recorded: dict[str, list[tuple[Any, ...]]] = {}
        with self.store.db.read() as tx:
            for chunk in chunks(changed):
                for row in tx.query(
                    "SELECT e.household_id, e.event_id, e.version, e.type, e.effective_date, e.recorded_us, "
                    f"a.recorded_by, e.body FROM {events_with_actors()} "
                    f"WHERE e.household_id IN ({', '.join('?' * len(chunk))}) "
                    "AND e.recorded_us > ? AND e.recorded_us <= ? ORDER BY e.household_id, e.version",
                    [*chunk, lo_us, hi_us],
                ):
                    recorded.setdefault(row[0], []).append(row[1:])
        households = [
            {
                "household_id": hid,
                "filed": before[hid].as_json() if hid in before else None,
                "known": after[hid].as_json() if hid in after else None,
                "events": _recorded_between(recorded.get(hid, []), end, self.store.db.sealer),
            }
            for hid in changed
        ]
        if candidates is None:  # every household's contribution: the reports are their sums
            filed_report, known_report = adj.report(before.values()), adj.report(after.values())
        else:
            filed_report = self._report(division_prefix, start, end, filed_at)
            known_report = self._report(division_prefix, start, end, known_at)
        return {
            "division_code": division_prefix,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "filed_at": filed_at.isoformat(timespec="microseconds"),
            "known_at": known_at.isoformat(timespec="microseconds") if known_at else None,
            "filed": filed_report,
            "known": known_report,
            "difference": _difference(filed_report, known_report),
            "households": households,
        }

    def _changed_households(self, division_prefix: str, start: date, end: date, k1: int, k2: int) -> list[str]:
        """Households of the division whose rows in the cycle, as :func:`adjustments.contribution`
        reads them (a start before the cycle is its start, an end after it is no end), are
        not the same at ``k1`` and at ``k2`` (k1 <= k2): the rows believed at k1 and no longer
        at k2 against those believed at k2 and not yet at k1, counted in one pass."""
        lo, hi = prefix_range(division_prefix)
        s, e = start.isoformat(), end.isoformat()
        clipped = (
            "household_id, CASE WHEN valid_from < ? THEN ? ELSE valid_from END AS vf, "
            "CASE WHEN valid_to <= ? THEN valid_to ELSE '' END AS vt, "
            "status, division_code, attribute, main_cause, persons, exit_pathway"
        )
        in_cycle = "valid_to > ? AND valid_from <= ?"
        with self.store.db.read() as tx:
            return [hid for (hid,) in tx.query(
                "SELECT DISTINCT household_id FROM ("
                f"SELECT {clipped}, -1 AS sign FROM proj_timeline "
                f"WHERE known_from <= ? AND known_to > ? AND known_to <= ? AND {in_cycle} "
                f"UNION ALL SELECT {clipped}, 1 AS sign FROM proj_timeline "
                f"WHERE known_from > ? AND known_from <= ? AND known_to > ? AND {in_cycle}"
                ") r WHERE household_id IN (SELECT household_id FROM proj_timeline "
                "WHERE division_code >= ? AND division_code < ?) "
                "GROUP BY household_id, vf, vt, status, division_code, attribute, main_cause, persons, exit_pathway "
                "HAVING sum(sign) <> 0",
                (s, s, e, k1, k1, k2, s, e, s, s, e, k1, k2, k2, s, e, lo, hi),
            )]

    def _report(self, division_prefix: str, start: date, end: date, known_at: datetime | None) -> dict[str, Any]:
        """The cycle report of the poor without its heading (:meth:`adjustments`): what the
        difference compares, household by household."""
        report = self.adjustments(division_prefix, start, end, known_at)
        heading = ("division_code", "start", "end", "known_at", "exited_stock")
        out = {k: v for k, v in report.items() if k not in heading}
        out["reconciles"] = all(c["ok"] for c in out["reconciliation"])
        return out


def _flow_groups(
    at_start: dict[int, list[int]], at_end: dict[int, list[int]], keys: dict[int, tuple[Any, ...]]
) -> list[adj.Group]:
    """The row starts in ``(start, end]`` by class, as the timeline query groups them."""
    groups = []
    none = (0, 0, 0)
    for cid, (h, p, pp) in at_end.items():
        h0, p0, pp0 = at_start.get(cid, none)
        if h == h0 and p == p0 and pp == pp0:
            continue
        groups.append(adj.Group(0, 0, 1, *keys[cid], h - h0, p - p0, pp - pp0))  # type: ignore[call-arg]
    return groups


def _comparable(c: adj.Contribution | None) -> Any:
    return None if c is None else (c.opening, c.flows, c.closing)


def _recorded_between(rows: Sequence[tuple[Any, ...]], end: date, sealer: Sealer) -> list[dict[str, Any]]:
    """What, of a household's events recorded between the two moments, changed its part of
    a cycle ending ``end``: late entries (effective by then), corrections and retractions.
    ``rows``: (event_id, version, type, effective_date, recorded_us, recorded_by, body)."""
    events = []
    for event_id, version, type_, effective, recorded_us, actor, body in rows:
        if type_ == "EventCorrected":
            kind = "correction"
        elif type_ == "EventRetracted":
            kind = "retraction"
        elif effective <= end.isoformat():
            kind = "late_entry"
        else:
            continue
        data = json.loads(sealer.unseal(body))  # type: ignore[arg-type]
        events.append(
            {
                "kind": kind,
                "event_id": event_id,
                "version": version,
                "type": type_,
                "effective_date": effective,
                "recorded_at": from_us(recorded_us).isoformat(timespec="microseconds"),
                "recorded_by": json.loads(sealer.unseal(actor)),  # type: ignore[arg-type]
                "reason": data.get("reason"),
                "target_event_id": data.get("target_event_id"),
            }
        )
    return events


def _difference(filed: dict[str, Any], known: dict[str, Any]) -> dict[str, Any]:
    def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, int]:
        return {"households": b["households"] - a["households"], "persons": b["persons"] - a["persons"]}

    return {
        "opening": delta(filed["opening"], known["opening"]),
        "inflows": {k: delta(filed["inflows"][k], known["inflows"][k]) for k in known["inflows"]},
        "outflows": {k: delta(filed["outflows"][k], known["outflows"][k]) for k in known["outflows"]},
        "closing": delta(filed["closing"], known["closing"]),
    }
