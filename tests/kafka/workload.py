"""A realistic, deterministic stream of household events for the Kafka tests.

Each household goes through identification, approval, income assessment and an
assistance measure; some are low-income (低保, ``dibao``) households, some exit,
some of those return to poverty, some get their attribute corrected to dibao
late. Commands are recorded in batches (``Registry.record_many``) with a clock
that moves forward, so thousands of events are written in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.commands import Command
from domain.history import Actor
from domain.idnumber import with_check_digit
from service.registry import Registry

RECORDER = Actor("village-clerk", "recorder", "620422")
APPROVER = Actor("county-office", "approver", "620422")
VILLAGES = ("620422100201", "620422100202", "620422101203")
GUARANTEED = {k: True for k in ("food", "clothing", "education", "medical", "housing", "water")}


class StepClock:
    """A clock the workload moves forward; strictly increasing recording moments."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2014, 1, 2, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = max(self.now, moment)


def setup_divisions(registry: Registry, clock: StepClock | None = None) -> None:
    if clock is not None:
        clock.set(datetime(2014, 1, 2, tzinfo=UTC))
    registry.put_division("620422", "会宁县", 480_000, date(2014, 1, 1))
    registry.put_division("620422100", "会师镇", 30_000, date(2014, 1, 1))
    registry.put_division("620422101", "郭城驿镇", 25_000, date(2014, 1, 1))
    for code, name in zip(VILLAGES, ("南关村", "北关村", "新堡村"), strict=True):
        registry.put_division(code, name, 1_200, date(2014, 1, 1))


def person(seq: int, relation: str) -> dict[str, Any]:
    born = date(1950, 1, 1) + timedelta(days=seq // 1000)
    return {"name": f"成员{seq}", "id_number": with_check_digit(f"620422{born:%Y%m%d}{seq % 1000:03d}"),
            "relation": relation, "labour": "full", "health": "healthy", "in_school": False}


_PERSON_BASES: dict[str, int] = {}


def person_base(prefix: str) -> int:
    """Each prefix gets its own block of ID numbers, so households of different prefixes never share one."""
    return _PERSON_BASES.setdefault(prefix, len(_PERSON_BASES) * 200_000)


def household_id(prefix: str, i: int) -> str:
    return f"H-{prefix}-{i:06d}"


def is_dibao(i: int) -> bool:
    return i % 3 == 0


def plan(prefix: str, first: int, count: int) -> list[list[tuple[datetime, Command]]]:
    """Phases of commands for households ``first .. first+count-1``: each phase in one clock step."""
    base = person_base(prefix)
    ids = [(i, household_id(prefix, i)) for i in range(first, first + count)]

    def proposal(i: int) -> dict[str, Any]:
        return {
            "type": "IdentificationProposed", "division_code": VILLAGES[i % 3], "effective_date": "2014-05-02",
            "attribute": "dibao" if is_dibao(i) else "general", "main_cause": "illness",
            "secondary_causes": ["lack_of_skills"], "income_per_capita": 2100, "income_year": 2013,
            "guarantees": GUARANTEED,
            "members": [person(base + 2 * i, "head"), person(base + 2 * i + 1, "spouse")],
            "reason": "农户申请，村民主评议通过", "evidence": [f"notice-2014-{i:05d}"],
        }

    def at(s: str) -> datetime:
        return datetime.fromisoformat(s)

    phases: list[list[tuple[datetime, Command]]] = [
        [(at("2014-05-02T09:00:00+00:00"), Command(proposal(i), RECORDER, household_id=h)) for i, h in ids],
        [(at("2014-05-21T09:00:00+00:00"), Command({"type": "IdentificationApproved", "effective_date": "2014-05-20"},
                                                   APPROVER, household_id=h)) for _, h in ids],
        [(at("2015-03-01T09:00:00+00:00"), Command(
            {"type": "AssistanceMeasureAssigned", "effective_date": "2015-03-01", "category": "industry",
             "amount": 3000, "funding_source": "county"}, RECORDER, household_id=h)) for _, h in ids],
        [(at("2016-10-20T09:00:00+00:00"), Command(
            {"type": "IncomeAssessed", "effective_date": "2016-10-15", "year": 2016, "income_per_capita": 3600 + i},
            RECORDER, household_id=h)) for i, h in ids],
        # Half of them exit ...
        [(at("2016-11-01T09:00:00+00:00"), Command(
            {"type": "ExitProposed", "effective_date": "2016-11-01", "pathway": "industry", "guarantees": GUARANTEED},
            RECORDER, household_id=h)) for i, h in ids if i % 2 == 0],
        [(at("2016-12-20T09:00:00+00:00"), Command(
            {"type": "ExitConfirmed", "effective_date": "2016-11-15", "household_acknowledged": True},
            APPROVER, household_id=h)) for i, h in ids if i % 2 == 0],
        # ... some of those fall back into poverty ...
        [(at("2017-09-01T09:00:00+00:00"), Command(
            {"type": "ReturnedToPoverty", "effective_date": "2017-08-03", "cause": "illness"},
            RECORDER, household_id=h)) for i, h in ids if i % 4 == 0],
        # ... and some general households turn out to have been dibao households all along.
        [(at("2018-01-10T09:00:00+00:00"), Command(
            {"type": "HelperAssigned", "effective_date": "2018-01-10", "helper_name": f"干部{i % 50}",
             "unit": "县民政局"}, RECORDER, household_id=h)) for i, h in ids if i % 2 == 1],
    ]
    return phases


def correction_commands(registry: Registry, prefix: str, first: int, count: int) -> list[Command]:
    """Correct the attribute of every 5th general household to dibao (a late, retroactive change)."""
    commands = []
    for i in range(first, first + count):
        if i % 5 == 1 and not is_dibao(i):
            hid = household_id(prefix, i)
            target = registry.history(hid)[0].event_id
            commands.append(Command({"type": "EventCorrected", "effective_date": "2018-03-01",
                                     "target_event_id": target, "changes": {"attribute": "dibao"},
                                     "reason": "民政核对：低保户"}, RECORDER, household_id=hid))
    return commands


def record_all(registry: Registry, clock: StepClock, commands: list[tuple[datetime, Command]],
               chunk: int = 500) -> int:
    """Record commands in chunks; returns how many were accepted (refusals raise)."""
    accepted = 0
    for start in range(0, len(commands), chunk):
        part = commands[start:start + chunk]
        clock.set(part[0][0])
        for result in registry.record_many([c for _, c in part]):
            if isinstance(result, Exception):
                raise result
            accepted += 1
    return accepted


def write_households(registry: Registry, clock: StepClock, prefix: str, count: int, first: int = 0,
                     chunk: int = 500, corrections: bool = True,
                     on_chunk: Callable[[int], None] | None = None) -> int:
    """Record the whole life of ``count`` households; returns the number of household events."""
    total = 0
    for phase in plan(prefix, first, count):
        n = record_all(registry, clock, phase, chunk)
        total += n
        if on_chunk:
            on_chunk(total)
    if corrections:
        clock.set(datetime(2018, 3, 2, 9, tzinfo=UTC))
        fixes = correction_commands(registry, prefix, first, count)
        total += record_all(registry, clock, [(clock.now, c) for c in fixes], chunk)
    return total


def late_exit_and_correction(registry: Registry, clock: Any) -> dict[str, str]:
    """Household ``H-1``, dibao: on time until its exit, confirmed 35 days late, whose date is then
    corrected five days earlier; and an income correction, which changes no status. Its event ids
    by name (``income``, ``exit``, ``fix``); ``clock`` is the registry's (its ``set`` takes a moment)."""
    from tests.support import proposal

    def record(at: str, actor: Actor, **payload: Any) -> str:
        clock.set(datetime.fromisoformat(at))
        return registry.record(Command(payload, actor, household_id="H-1")).event_id

    ids = {}
    record("2014-05-02T02:00:00+00:00", RECORDER, **proposal(attribute="dibao"))
    record("2014-05-20T02:00:00+00:00", APPROVER, type="IdentificationApproved", effective_date="2014-05-20")
    ids["income"] = record("2016-10-15T02:00:00+00:00", RECORDER, type="IncomeAssessed", effective_date="2016-10-15",
                           year=2016, income_per_capita=3600)
    record("2016-11-01T02:00:00+00:00", RECORDER, type="ExitProposed", effective_date="2016-11-01",
           pathway="industry", guarantees=GUARANTEED)
    ids["exit"] = record("2016-12-20T02:00:00+00:00", APPROVER, type="ExitConfirmed", effective_date="2016-11-15",
                         household_acknowledged=True)
    ids["fix"] = record("2017-01-10T02:00:00+00:00", APPROVER, type="EventCorrected", effective_date="2017-01-10",
                        target_event_id=ids["exit"], changes={"effective_date": "2016-11-10"}, reason="日期录错")
    record("2017-02-01T02:00:00+00:00", RECORDER, type="EventCorrected", effective_date="2017-02-01",
           target_event_id=ids["income"], changes={"income_per_capita": 3700}, reason="录入错误")
    return ids


def bulk_households(registry: Registry, prefix: str, count: int, first: int = 0, chunk: int = 2000,
                    start: datetime | None = None) -> int:
    """Save the same lives as :func:`write_households` straight as aggregates (no command checks).

    For load tests of the relay and the subscribers, where tens of thousands of
    events must be in the log in seconds: the histories are the legal ones of
    :func:`plan`, recorded at strictly increasing moments after ``start``.
    """
    import uuid

    from domain.events import parse_event
    from domain.history import RecordedEvent
    from domain.household import Household

    moment = start or datetime(2019, 1, 1, tzinfo=UTC)
    households: dict[str, Household] = {}
    total = 0
    for phase in plan(prefix, first, count):
        for offset in range(0, len(phase), chunk):
            changed = []
            for _, command in phase[offset:offset + chunk]:
                hid = command.household_id
                assert hid is not None
                moment += timedelta(microseconds=10)
                current = households.get(hid)
                event = RecordedEvent(
                    event_id=str(uuid.uuid4()), household_id=hid,
                    version=(current.version if current else 0) + 1, recorded_at=moment,
                    recorded_by=command.actor, body=parse_event(command.payload))
                if current is None:
                    households[hid] = current = Household.start(event)
                else:
                    current.append(event)
                changed.append(current)
                total += 1
            registry.save(*changed)
    return total
