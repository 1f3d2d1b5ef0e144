"""When each planned event is recorded: most a day or two after it took effect, some weeks
late; and the corrections and retractions recorded afterwards.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from simulation.constants import _DAY_US, _US, LAST_DAY, LATE_DAYS, _local_us, local_day, poverty_line
from simulation.households import CountyState, _Ev, _Household


class Scheduler(CountyState):
    """Recording moments, corrections and retractions (a part of :class:`~simulation.county.Simulation`)."""

    # ----------------------------------------------------------- recording moments

    def _schedule(self, rng: random.Random, evs: list[_Ev]) -> None:
        """Recording moments: mostly on the day, some days later, a share weeks late.

        A household's status and member changes are recorded in valid-time order,
        and every event after the status changes that precede it, so whatever is
        known at any moment is a legal path; events that refer to another come
        after it (on a later day, so a loader can resolve the reference).
        """
        late = self.shares.late
        last_struct = 0
        prev_eff: date | None = None
        prev_rec = 0
        for ev in evs:
            r = rng.random()
            if r < late:
                delay = rng.randint(LATE_DAYS, 56)
            elif r < late + 0.03:
                delay = rng.randint(7, 13)
            elif r < late + 0.25:
                delay = rng.randint(1, 6)
            else:
                delay = 0
            rec = _local_us(ev.eff + timedelta(days=delay), rng.uniform(8.5 * 3600, 18 * 3600))
            gap = rng.randint(60, 1200) * _US
            rec = max(rec, last_struct + gap)
            if ev.eff == prev_eff:
                rec = max(rec, prev_rec + gap)
            for dep in ev.deps:
                if ev.refs:  # a reference: on a later (local) day than its target
                    rec = max(rec, _local_us(date.fromordinal(local_day(dep.rec) + 1), rng.uniform(8.5, 11) * 3600))
                rec = max(rec, dep.rec + gap)
            ev.rec = rec
            if ev.structural:
                last_struct = rec
            prev_eff, prev_rec = ev.eff, rec

    def _meta_events(self, rng: random.Random, evs: list[_Ev], h: _Household, p_correct: float) -> list[_Ev]:
        """Corrections of incomes and dates, and retractions of the double entries."""
        out: list[_Ev] = []
        last_struct_eff: date | None = None
        for ev in evs:
            if ev.structural:
                last_struct_eff = ev.eff
                continue
            if ev.key == "dup":
                ev.key = None
                rec = ev.rec + rng.randint(2, 30) * _DAY_US
                out.append(self._meta(h, ev, rec, {"type": "EventRetracted", "reason": "重复录入，撤销"}))
                continue
            if ev.kind not in ("IncomeAssessed", "HelperAssigned", "AssistanceMeasureAssigned"):
                continue
            if rng.random() >= p_correct or local_day(ev.rec) > LAST_DAY.toordinal() - 70:
                continue
            rec = ev.rec + rng.randint(7, 60) * _DAY_US
            if ev.kind == "IncomeAssessed" and rng.random() < 0.6:
                old = ev.payload["income_per_capita"]
                new = round(old * rng.uniform(0.93, 1.07), 0)
                line = poverty_line(ev.payload["year"])
                if old >= line > new:
                    new = round(old * rng.uniform(1.01, 1.07), 0)
                if new == old:
                    new = old + 10
                changes: dict[str, Any] = {"income_per_capita": new}
                reason = "收入核算录入错误，更正人均纯收入"
            else:
                shift = rng.randint(1, 10)
                new_day = ev.eff - timedelta(days=shift)
                if last_struct_eff is None or new_day <= last_struct_eff:
                    continue
                changes = {"effective_date": new_day.isoformat()}
                reason = "录入日期有误，按入户记录更正"
            out.append(self._meta(h, ev, rec, {"type": "EventCorrected", "changes": changes, "reason": reason}))
        return out

    @staticmethod
    def _meta(h: _Household, target: _Ev, rec: int, payload: dict[str, Any]) -> _Ev:
        day = date.fromordinal(local_day(rec))
        payload["target_event_id"] = f"@{target.serial}"
        payload["effective_date"] = day.isoformat()
        ev = _Ev(h, day, 10_000, payload, target.actor, False, (target,), {"target_event_id": target})
        ev.rec = rec
        return ev
