"""The answers the projections must give, computed the slow way: the domain fold over the
raw events of the event store, per question. Nothing here reads the projection tables.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from domain.findings import findings_view
from domain.fold import Step, intervals, replay
from domain.history import RecordedEvent, effective_events
from domain.state import HouseholdState
from domain.vocab import COUNTED_POOR, Status
from projections.cards import card_of, exit_flags
from service.registry import Registry

COUNTED = {"poor", "returned", "exit_pending"}
EXITED = {"exited"}


class Oracle:
    def __init__(self, registry: Registry, household_ids: list[str]) -> None:
        self.registry = registry
        self.histories: dict[str, list[RecordedEvent]] = {}
        for hid in household_ids:
            try:
                self.histories[hid] = registry.history(hid)
            except Exception:
                continue

    def steps(self, hid: str, known_at: datetime | None) -> list[Step]:
        return replay(effective_events(self.histories[hid], known_at), hid)

    def state(self, hid: str, as_of: date, known_at: datetime | None) -> HouseholdState | None:
        state = None
        for step in self.steps(hid, known_at):
            if step.event.effective_date > as_of:
                break
            state = step.state
        return state

    def card(self, hid: str, as_of: date, known_at: datetime | None) -> dict[str, Any] | None:
        state = self.state(hid, as_of, known_at) if hid in self.histories else None
        if state is None:
            return None
        card = card_of(state)
        policies = self.registry.policy_book().known_at(known_at)
        until, exit_policy = exit_flags(card["status"], card["division_code"], card["exited_on"], as_of, policies)
        card["flags"] = {"at_risk": state.at_risk, "policy_continuation_until": until, "exit_policy": exit_policy}
        card["version"] = sum(1 for e in self.histories[hid] if known_at is None or e.recorded_at <= known_at)
        card["findings"] = self.findings(hid, as_of, known_at)
        return card

    def findings(self, hid: str, as_of: date | None, known_at: datetime | None) -> list[dict[str, Any]]:
        return findings_view(self.histories[hid], self.registry.policy_book(), as_of, known_at)

    def division_findings(self, prefix: str, as_of: date, known_at: datetime | None) -> list[dict[str, Any]]:
        """Findings of the households in ``prefix`` as of ``as_of`` (their division then)."""
        out = []
        for hid in sorted(self.histories):
            state = self.state(hid, as_of, known_at)
            if state is not None and state.division_code.startswith(prefix):
                out += [{"household_id": hid, **f} for f in self.findings(hid, as_of, known_at)]
        return out

    def timeline(self, hid: str, known_at: datetime | None) -> list[dict[str, Any]] | None:
        if hid not in self.histories or not any(
            known_at is None or e.recorded_at <= known_at for e in self.histories[hid]
        ):
            return None
        found = self.findings(hid, None, known_at)
        out = []
        for i in intervals(self.steps(hid, known_at)):
            row: dict[str, Any] = {
                "status": i.status.value, "from": i.start.isoformat(), "to": i.end.isoformat() if i.end else None
            }
            shown = [f for f in found if i.start <= date.fromisoformat(f["decision_effective_date"])
                     and (i.end is None or date.fromisoformat(f["decision_effective_date"]) < i.end)]
            if shown:
                row["findings"] = shown
            out.append(row)
        return out

    def roster_counts(self, prefix: str, as_of: date, known_at: datetime | None) -> dict[str, dict[str, int]]:
        counts = {s.value: {"households": 0, "persons": 0} for s in Status}
        for hid in self.histories:
            state = self.state(hid, as_of, known_at)
            if state is not None and state.division_code.startswith(prefix):
                counts[state.status.value]["households"] += 1
                counts[state.status.value]["persons"] += state.persons
        return counts

    def roster_ids(self, prefix: str, as_of: date, known_at: datetime | None) -> list[str]:
        return sorted(
            hid for hid in self.histories
            if (s := self.state(hid, as_of, known_at)) is not None and s.division_code.startswith(prefix)
        )

    def poor_persons(self, prefix: str, as_of: date, known_at: datetime | None) -> int:
        total = 0
        for hid in self.histories:
            state = self.state(hid, as_of, known_at)
            if state is not None and state.status in COUNTED_POOR and state.division_code.startswith(prefix):
                total += state.persons
        return total

    def population(self, code: str, as_of: date, known_at: datetime | None) -> int | None:
        codes = [code] if len(code) >= 6 else [c for c in ("620422",) if c.startswith(code)]
        total, found = 0, False
        for c in codes:
            try:
                division = self.registry.division(c)
            except Exception:
                continue
            version = Registry.population_on(division, as_of, known_at)
            if version is not None:
                total += version.rural_population
                found = True
        return total if found else None

    def adjustments(self, prefix: str, start: date, end: date, known_at: datetime | None) -> dict[str, Any]:
        """Both stocks: the poor (with 错退纳回 apart from 返贫) and the exited."""
        return {"poor": self._stock(COUNTED, prefix, start, end, known_at),
                "exited": self._stock(EXITED, prefix, start, end, known_at)}

    def _stock(
        self, stock: set[str], prefix: str, start: date, end: date, known_at: datetime | None
    ) -> dict[str, Any]:
        """Opening, flows by kind and closing, from the fold's states day by day at every change."""
        opening = [0, 0]
        closing = [0, 0]
        flows: dict[tuple[str, str], list[int]] = {}

        def counted(s: HouseholdState | None) -> bool:
            return s is not None and s.status.value in stock and s.division_code.startswith(prefix)

        def readmitted_or_returned(s: HouseholdState) -> str:
            return "readmitted" if s.readmitted else "returned"

        for hid in self.histories:
            steps = self.steps(hid, known_at)

            def on(day: date, steps: list[Step] = steps) -> HouseholdState | None:
                state = None
                for step in steps:
                    if step.event.effective_date > day:
                        break
                    state = step.state
                return state

            s0, s1 = on(start), on(end)
            if counted(s0):
                assert s0 is not None
                opening[0] += 1
                opening[1] += s0.persons
            if counted(s1):
                assert s1 is not None
                closing[0] += 1
                closing[1] += s1.persons
            days = sorted({st.event.effective_date for st in steps if start < st.event.effective_date <= end})
            for day in days:
                from datetime import timedelta

                before, after = on(day - timedelta(days=1)), on(day)
                if counted(before) and counted(after):
                    assert before is not None and after is not None
                    if (before.attribute, before.main_cause) != (after.attribute, after.main_cause):
                        # 属性变更 within the stock: out of the old breakdown, into the new one.
                        for kind, persons in ((("out", "reclassified"), before.persons),
                                              (("in", "reclassified"), after.persons)):
                            cell = flows.setdefault(kind, [0, 0])
                            cell[0] += 1
                            cell[1] += persons
                    elif after.persons != before.persons:
                        kind = ("in", "members_joined") if after.persons > before.persons else ("out", "members_left")
                        cell = flows.setdefault(kind, [0, 0])
                        cell[1] += abs(after.persons - before.persons)
                elif counted(after):
                    assert after is not None
                    if before is not None and before.status.value in stock:
                        kind = ("in", "transferred_in")
                    elif stock is EXITED:
                        kind = ("in", "exited")
                    elif before is not None and before.status == Status.EXITED:
                        kind = ("in", readmitted_or_returned(after))
                    else:
                        kind = ("in", "identified")
                    cell = flows.setdefault(kind, [0, 0])
                    cell[0] += 1
                    cell[1] += after.persons
                elif counted(before):
                    assert before is not None and after is not None
                    if after.status.value in stock:
                        kind = ("out", "transferred_out")
                    elif after.status == Status.RETURNED:
                        kind = ("out", readmitted_or_returned(after))
                    else:
                        kind = ("out", after.status.value)
                    cell = flows.setdefault(kind, [0, 0])
                    cell[0] += 1
                    cell[1] += before.persons
        return {"opening": opening, "closing": closing, "flows": {k: v for k, v in flows.items() if v != [0, 0]}}


def report_numbers(report: dict[str, Any]) -> dict[str, Any]:
    """The same shape as :meth:`Oracle.adjustments`, taken from a projection's report."""
    return {"poor": stock_numbers(report), "exited": stock_numbers(report["exited_stock"])}


def stock_numbers(report: dict[str, Any]) -> dict[str, Any]:
    """One stock's numbers, in the shape of :meth:`Oracle._stock`."""
    flows = {}
    for direction, key in (("in", "inflows"), ("out", "outflows")):
        for kind, v in report[key].items():
            if kind != "total" and (v["households"] or v["persons"]):
                flows[(direction, kind)] = [v["households"], v["persons"]]
    return {
        "opening": [report["opening"]["households"], report["opening"]["persons"]],
        "closing": [report["closing"]["households"], report["closing"]["persons"]],
        "flows": flows,
    }
