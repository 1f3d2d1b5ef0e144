"""Small builders for domain tests: event bodies, recorded envelopes and histories.

Dates may be given as ISO strings (``"2014-05-02"``) to keep tests short. Recording
moments are timezone-aware UTC datetimes; by default an event is recorded at noon
UTC of its effective date, or one minute after the previous recording, whichever is
later, so that transaction time strictly increases with the version.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from domain.events import (
    AssistanceMeasureAssigned,
    AssistanceMeasureCompleted,
    EventBody,
    EventCorrected,
    EventRetracted,
    ExitConfirmed,
    ExitProposed,
    ExitWithdrawn,
    HelperAssigned,
    HouseholdClosed,
    HouseholdTransferred,
    IdentificationApproved,
    IdentificationProposed,
    IdentificationRejected,
    IncomeAssessed,
    MembersChanged,
    RemovedAsIneligible,
    ReturnedToPoverty,
    Revisited,
)
from domain.fold import Step, decide
from domain.history import Actor, EffectiveEvent, RecordedEvent
from domain.idnumber import with_check_digit
from domain.policy import PolicyBook, PolicyVersion, RecordedPolicy
from domain.policy_data import statutory_book
from domain.values import Guarantees, Member

Day = str | date

VILLAGE = "620422100201"
OTHER_VILLAGE = "620422100202"
THIRD_VILLAGE = "620422200301"
TAIZHOU_VILLAGE = "321202100201"

RECORDER = Actor(name="clerk-1", role="recorder", division="620422")
APPROVER = Actor(name="county-1", role="approver", division="620422")

ALL_SECURE = Guarantees(food=True, clothing=True, education=True, medical=True, housing=True, water=True)


def day(value: Day) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def at(value: Day, hour: int = 12, minute: int = 0) -> datetime:
    """A UTC moment on ``value``."""
    return datetime.combine(day(value), time(hour, minute), tzinfo=UTC)


def person_id(n: int, born: str = "19850101", region: str = "620422") -> str:
    """A valid 18-character ID number; ``n`` (0-999) makes it unique."""
    return with_check_digit(f"{region}{born}{n:03d}")


def member(n: int, relation: str = "head", name: str = "张三", **fields: Any) -> Member:
    return Member(name=name, id_number=person_id(n), relation=relation, **fields)  # type: ignore[arg-type]


def guarantees(**missing: bool) -> Guarantees:
    """All secured except those given (``guarantees(medical=False)``)."""
    return ALL_SECURE.model_copy(update=missing)


# --- event bodies -----------------------------------------------------------------


def proposed(
    eff: Day,
    *,
    division: str = VILLAGE,
    attribute: str = "general",
    income: float = 2100,
    income_year: int | None = None,
    members: Sequence[Member] | None = None,
    **fields: Any,
) -> IdentificationProposed:
    return IdentificationProposed(
        effective_date=day(eff),
        division_code=division,
        attribute=attribute,  # type: ignore[arg-type]
        main_cause="illness",  # type: ignore[arg-type]
        income_per_capita=income,
        income_year=income_year or day(eff).year - 1,
        guarantees=guarantees(medical=False, housing=False),
        members=list(members) if members is not None else [member(1), member(2, "spouse", "李四")],
        **fields,
    )


def approved(eff: Day) -> IdentificationApproved:
    return IdentificationApproved(effective_date=day(eff), approving_office="县扶贫办")


def rejected(eff: Day) -> IdentificationRejected:
    return IdentificationRejected(effective_date=day(eff), reason="异议成立")


def measure(eff: Day, category: str = "industry") -> AssistanceMeasureAssigned:
    return AssistanceMeasureAssigned(effective_date=day(eff), category=category, amount=3000)  # type: ignore[arg-type]


def measure_done(eff: Day, measure_id: str) -> AssistanceMeasureCompleted:
    return AssistanceMeasureCompleted(effective_date=day(eff), measure_id=measure_id, outcome="done")


def helper(eff: Day, name: str = "王五") -> HelperAssigned:
    return HelperAssigned(effective_date=day(eff), helper_name=name, unit="县农业局")


def income(eff: Day, amount: float, year: int | None = None) -> IncomeAssessed:
    return IncomeAssessed(effective_date=day(eff), year=year or day(eff).year, income_per_capita=amount)


def members_changed(
    eff: Day, joined: Sequence[Member] = (), left: Sequence[str] = ()
) -> MembersChanged:
    return MembersChanged(effective_date=day(eff), joined=list(joined), left=list(left))


def exit_proposed(eff: Day, g: Guarantees = ALL_SECURE, pathway: str = "industry") -> ExitProposed:
    return ExitProposed(effective_date=day(eff), pathway=pathway, guarantees=g)  # type: ignore[arg-type]


def exit_confirmed(eff: Day, acknowledged: bool = True) -> ExitConfirmed:
    return ExitConfirmed(effective_date=day(eff), household_acknowledged=acknowledged)


def exit_withdrawn(eff: Day) -> ExitWithdrawn:
    return ExitWithdrawn(effective_date=day(eff), reason="公示期内有异议")


def returned(eff: Day, cause: str = "illness") -> ReturnedToPoverty:
    return ReturnedToPoverty(effective_date=day(eff), cause=cause)  # type: ignore[arg-type]


def revisited(eff: Day, finding: str = "stable") -> Revisited:
    return Revisited(effective_date=day(eff), finding=finding)  # type: ignore[arg-type]


def removed(eff: Day) -> RemovedAsIneligible:
    return RemovedAsIneligible(effective_date=day(eff), reason="家庭成员有财政供养人员")


def transferred(eff: Day, division: str = OTHER_VILLAGE) -> HouseholdTransferred:
    return HouseholdTransferred(effective_date=day(eff), division_code=division)


def closed(eff: Day) -> HouseholdClosed:
    return HouseholdClosed(effective_date=day(eff), reason="户籍迁出")


def corrected(eff: Day, target: RecordedEvent | str, **changes: Any) -> EventCorrected:
    target_id = target if isinstance(target, str) else target.event_id
    return EventCorrected(effective_date=day(eff), target_event_id=target_id, changes=changes, reason="录入错误")


def retracted(eff: Day, target: RecordedEvent | str) -> EventRetracted:
    target_id = target if isinstance(target, str) else target.event_id
    return EventRetracted(effective_date=day(eff), target_event_id=target_id, reason="录入错误")


# --- envelopes and histories --------------------------------------------------------


def recorded(
    body: EventBody,
    version: int,
    recorded_at: datetime,
    household_id: str = "H-1",
    event_id: str | None = None,
) -> RecordedEvent:
    return RecordedEvent(
        event_id=event_id or f"{household_id}-e{version}",
        household_id=household_id,
        version=version,
        recorded_at=recorded_at,
        recorded_by=RECORDER,
        body=body,
    )


def effective(body: EventBody, event_id: str = "ev-x", version: int = 99) -> EffectiveEvent:
    """A body wrapped as an effective event, for calling ``transition`` directly."""
    rec = recorded(body, version, at(body.effective_date), event_id=event_id)
    return EffectiveEvent(rec, body)


def book_with(*versions: tuple[PolicyVersion, datetime | None]) -> PolicyBook:
    """The statutory book plus the given (version, recorded_at) pairs."""
    book = statutory_book()
    for version, moment in versions:
        book = book.with_version(RecordedPolicy(version, moment))
    return book


class History:
    """A household's history, built by recording events through ``decide``.

    ``record`` appends only what ``decide`` accepts (a refusal raises and leaves the
    history as it was); ``append_unchecked`` bypasses it for fold-only tests.
    """

    def __init__(self, household_id: str = "H-1", policies: PolicyBook | None = None) -> None:
        self.household_id = household_id
        self.policies = policies or statutory_book()
        self.events: list[RecordedEvent] = []
        self.last_steps: list[Step] = []

    def _envelope(self, body: EventBody, when: Day | datetime | None) -> RecordedEvent:
        if when is None:
            moment = at(body.effective_date)
            if self.events:
                moment = max(moment, self.events[-1].recorded_at + timedelta(minutes=1))
        elif isinstance(when, datetime):
            moment = when
        else:
            moment = at(when)
        if self.events:
            assert moment > self.events[-1].recorded_at, "transaction time must increase"
        return recorded(body, len(self.events) + 1, moment, self.household_id)

    def record(self, body: EventBody, when: Day | datetime | None = None) -> RecordedEvent:
        """Record ``body`` at ``when`` (default: its effective date, noon UTC) via ``decide``."""
        candidate = self._envelope(body, when)
        self.last_steps = decide(self.events, candidate, self.policies, candidate.recorded_at.date())
        self.events.append(candidate)
        return candidate

    def append_unchecked(self, body: EventBody, when: Day | datetime | None = None) -> RecordedEvent:
        candidate = self._envelope(body, when)
        self.events.append(candidate)
        return candidate

    def candidate(self, body: EventBody, when: Day | datetime | None = None) -> RecordedEvent:
        """The envelope ``record`` would use, without deciding or appending."""
        return self._envelope(body, when)


def registered_poor(h: History | None = None, proposed_on: Day = "2014-05-02") -> History:
    """A household proposed on ``proposed_on`` and approved 18 days later."""
    h = h or History()
    h.record(proposed(proposed_on))
    h.record(approved(day(proposed_on) + timedelta(days=18)))
    return h
