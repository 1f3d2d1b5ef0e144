"""Random but mostly legal household histories, recorded through the registry.

:func:`populate` plans lifecycles in valid time (proposal, approval, measures,
income, exit, revisits, returns, transfers, removals, closures), records them
in recording-time order with realistic delays (some events months late), then
records corrections and retractions of earlier events. Commands the domain
refuses are simply dropped: the generator feeds projections, it does not test
the rules. Used by the projection tests and to measure rebuild throughput.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from domain.commands import Command
from domain.errors import DomainError
from domain.idnumber import with_check_digit
from domain.vocab import Attribute, Cause, MeasureCategory, Pathway
from service.registry import Registry
from tests.support import GUARANTEED, Clock

VILLAGES = ("620422100201", "620422100202", "620422101203")
ACTOR_NAMES = ("village-clerk", "township-office", "county-office")
END = date(2020, 12, 31)


@dataclass
class Planned:
    household_id: str
    recorded_on: datetime
    payload: dict[str, Any]


def person(seq: int, relation: str = "head") -> dict[str, Any]:
    """A member whose ID number is unique for every ``seq`` below ~10 million."""
    born = date(1950, 1, 1) + timedelta(days=seq // 1000)
    return {
        "name": f"户{seq}",
        "id_number": with_check_digit(f"620422{born:%Y%m%d}{seq % 1000:03d}"),
        "relation": relation,
        "labour": "full",
        "health": "healthy",
    }


class Planner:
    def __init__(self, rng: random.Random, villages: tuple[str, ...] = VILLAGES) -> None:
        self.rng = rng
        self.villages = villages
        self.seq = 0

    def _people(self, n: int) -> list[dict[str, Any]]:
        out = []
        for i in range(n):
            self.seq += 1
            out.append(person(self.seq, "head" if i == 0 else self.rng.choice(["spouse", "child", "parent"])))
        return out

    def household(self, number: int) -> list[tuple[date, int, dict[str, Any]]]:
        """(effective date, delay days, payload) of one lifecycle, in valid-time order."""
        r = self.rng
        village = r.choice(self.villages)
        d = date(2014, 3, 1) + timedelta(days=r.randrange(0, 5 * 365))
        events: list[tuple[date, dict[str, Any]]] = []

        def add(on: date, payload: dict[str, Any]) -> bool:
            if on > END:
                return False
            events.append((on, {"effective_date": on.isoformat(), **payload}))
            return True

        people = self._people(r.randint(1, 5))
        members = [p["id_number"] for p in people]  # the head first
        add(d, {
            "type": "IdentificationProposed", "division_code": village,
            "attribute": r.choice(list(Attribute)).value, "main_cause": r.choice(list(Cause)).value,
            "income_per_capita": r.randrange(1200, 2700), "income_year": d.year - 1,
            "guarantees": {**GUARANTEED, "housing": r.random() < 0.5},
            "members": people, "reason": "农户申请", "evidence": [f"notice-{number}"],
        })
        d += timedelta(days=r.randint(8, 30))
        if r.random() < 0.08:
            add(d, {"type": "IdentificationRejected", "reason": "异议成立"})
            return self._delays(events)
        if not add(d, {"type": "IdentificationApproved", "approving_office": "县扶贫办"}):
            return self._delays(events)
        entered = d
        status = "poor"
        while d < END:
            d += timedelta(days=r.randint(20, 200))
            roll = r.random()
            if status in ("poor", "returned"):
                if roll < 0.25:
                    add(d, {"type": "AssistanceMeasureAssigned", "category": r.choice(list(MeasureCategory)).value,
                            "amount": r.randrange(500, 20000), "helper": "王五"})
                elif roll < 0.35:
                    add(d, {"type": "HelperAssigned", "helper_name": f"干部{r.randint(1, 99)}", "unit": "县农业局"})
                elif roll < 0.42:
                    joined = self._people(1)
                    if add(d, {"type": "MembersChanged", "joined": joined}):
                        members.append(joined[0]["id_number"])
                elif roll < 0.46:
                    village2 = r.choice([v for v in self.villages if v != village] or [village])
                    if village2 != village and add(d, {"type": "HouseholdTransferred", "division_code": village2}):
                        village = village2
                elif roll < 0.50:
                    add(d, {"type": "RemovedAsIneligible", "reason": "家庭成员有财政供养人员"})
                    break
                elif roll < 0.52:
                    add(d, {"type": "HouseholdClosed", "reason": "户籍迁出"})
                    break
                elif roll < 0.55:
                    add(d, {"type": "MemberUpdated", "id_number": r.choice(members),
                            "health": r.choice(["chronic_illness", "serious_illness", "healthy"]),
                            "labour": r.choice(["full", "weak", "none", None])})
                elif roll < 0.57:
                    add(d, {"type": "GuaranteesAssessed", "guarantees": {**GUARANTEED, "water": r.random() < 0.7},
                            "evidence": [f"核查-{d.year}"]})
                elif roll < 0.59:
                    add(d, {"type": "AttributeChanged", "attribute": r.choice(list(Attribute)).value,
                            "reason": "民政认定"})
                elif roll < 0.60 and len(members) > 1:
                    if add(d, {"type": "MembersChanged", "left": [members[0]], "new_head": members[1],
                               "reason": "户主去世"}):
                        members.pop(0)
                else:
                    if d.year == entered.year:
                        d = date(d.year + 1, 1, 1) + timedelta(days=r.randint(0, 100))
                    add(d, {"type": "IncomeAssessed", "year": d.year - 1, "income_per_capita": r.randrange(4500, 9000)})
                    d += timedelta(days=r.randint(1, 30))
                    add(d, {"type": "ExitProposed", "pathway": r.choice(list(Pathway)).value, "guarantees": GUARANTEED})
                    d += timedelta(days=r.randint(8, 25))
                    if r.random() < 0.12:
                        add(d, {"type": "ExitWithdrawn", "reason": "公示期内有异议"})
                    elif add(d, {"type": "ExitConfirmed", "household_acknowledged": True}):
                        status = "exited"
            elif status == "exited":
                if roll < 0.45:
                    add(d, {"type": "Revisited", "finding": r.choice(["stable", "stable", "at_risk"])})
                elif roll < 0.6:
                    add(d, {"type": "ReturnedToPoverty", "cause": r.choice(list(Cause)).value})
                    status, entered = "returned", d
                elif roll < 0.65:
                    add(d, {"type": "Revisited", "finding": "wrongly_exited"})
                    status, entered = "returned", d
                elif roll < 0.72:
                    add(d, {"type": "AssistanceMeasureAssigned", "category": "training", "amount": 800})
                elif roll < 0.74:
                    add(d, {"type": "HouseholdClosed", "reason": "全户死亡"})
                    break
                else:
                    d += timedelta(days=200)
        return self._delays(events)

    def _delays(self, events: list[tuple[date, dict[str, Any]]]) -> list[tuple[date, int, dict[str, Any]]]:
        r = self.rng
        return [(on, r.randint(120, 500) if r.random() < 0.08 else r.randint(0, 6), p) for on, p in events]


def _moment(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(1, 0), tzinfo=UTC) + timedelta(seconds=rng.randrange(0, 8 * 3600))


def populate(
    registry: Registry,
    clock: Clock,
    households: int,
    seed: int = 1,
    batch: int = 200,
    corrections: float = 0.08,
    villages: tuple[str, ...] = VILLAGES,
) -> int:
    """Record ``households`` lifecycles (≈ 8 events each) plus corrections; returns events recorded."""
    rng = random.Random(seed)
    planner = Planner(rng, villages)
    planned: list[Planned] = []
    for number in range(households):
        hid = f"H-{seed}-{number:06d}"
        last = datetime.min.replace(tzinfo=UTC)
        for on, delay, payload in planner.household(number):
            moment = max(_moment(on + timedelta(days=delay), rng), last + timedelta(seconds=1))
            last = moment
            planned.append(Planned(hid, moment, payload))
    planned.sort(key=lambda p: p.recorded_on)
    recorded = 0
    actor_for = {name: _actor(name) for name in ACTOR_NAMES}
    for start in range(0, len(planned), batch):
        chunk = planned[start : start + batch]
        clock.set(max(chunk[-1].recorded_on, clock.now))
        commands = [
            Command(payload=p.payload, actor=actor_for[rng.choice(ACTOR_NAMES)], household_id=p.household_id)
            for p in chunk
        ]
        recorded += sum(1 for r in registry.record_many(commands) if not isinstance(r, DomainError))
    return recorded + amend(registry, clock, rng, households, seed, corrections)


def _actor(name: str) -> Any:
    from domain.history import Actor

    return Actor(name, "approver", "620422")


def amend(registry: Registry, clock: Clock, rng: random.Random, households: int, seed: int, share: float) -> int:
    """Corrections and retractions of earlier events, recorded after everything else."""
    count = 0
    clock.set(max(clock.now, datetime(2021, 3, 1, tzinfo=UTC)))
    commands = []
    for number in rng.sample(range(households), int(households * share)):
        hid = f"H-{seed}-{number:06d}"
        try:
            history = registry.history(hid)
        except DomainError:
            continue
        target = rng.choice(history)
        body = target.body
        kind = rng.random()
        base = {"effective_date": clock.now.date().isoformat(), "reason": "核查更正",
                "target_event_id": target.event_id}
        if body.type in ("EventCorrected", "EventRetracted"):
            continue
        if body.type == "IncomeAssessed" and kind < 0.5:
            commands.append((hid, {"type": "EventCorrected", **base,
                                   "changes": {"income_per_capita": body.income_per_capita + 100}}))
        elif body.type == "IdentificationProposed":
            commands.append((hid, {"type": "EventCorrected", **base,
                                   "changes": {"main_cause": rng.choice(list(Cause)).value,
                                               "attribute": rng.choice(list(Attribute)).value}}))
        elif kind < 0.5:
            moved = body.effective_date + timedelta(days=rng.randint(-5, 5))
            commands.append((hid, {"type": "EventCorrected", **base, "changes": {"effective_date": moved.isoformat()}}))
        else:
            commands.append((hid, {"type": "EventRetracted", **base}))
    actor = _actor("county-auditor")
    for start in range(0, len(commands), 100):
        clock.advance(hours=1)
        chunk = commands[start : start + 100]
        results = registry.record_many([Command(payload=p, actor=actor, household_id=h) for h, p in chunk])
        count += sum(1 for r in results if not isinstance(r, DomainError))
    return count
