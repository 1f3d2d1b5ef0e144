"""A household's state and the state machine that moves it (docs/domain.md, "Statuses").

:func:`transition` applies one event, in valid-time order, and refuses what the
state machine forbids. It checks structure only (which event may follow which,
what an event refers to); the policy rules of :mod:`domain.rules` are
checked when an event is recorded, with the policy in force on its date.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from domain.errors import RuleViolation
from domain.events import (
    AssistanceMeasureAssigned,
    AssistanceMeasureCompleted,
    AttributeChanged,
    ExitConfirmed,
    ExitProposed,
    ExitWithdrawn,
    GuaranteesAssessed,
    HelperAssigned,
    HouseholdClosed,
    HouseholdTransferred,
    IdentificationApproved,
    IdentificationProposed,
    IdentificationRejected,
    IncomeAssessed,
    MembersChanged,
    MemberUpdated,
    RemovedAsIneligible,
    ReturnedToPoverty,
    Revisited,
)
from domain.history import EffectiveEvent
from domain.idnumber import mask_id_number
from domain.values import Guarantees, Member
from domain.vocab import (
    ACTIVE,
    MAINTAINABLE,
    Attribute,
    Cause,
    Finding,
    MeasureCategory,
    Pathway,
    Relation,
    Status,
    label_zh,
)


@dataclass(frozen=True)
class Income:
    year: int
    per_capita: float
    assessed_on: date


@dataclass(frozen=True)
class Measure:
    """An assigned measure: what its AssistanceMeasureAssigned gave (None where it gave nothing),
    and its completion once recorded."""

    measure_id: str
    category: MeasureCategory
    assigned_on: date
    amount: float | None
    funding_source: str | None
    helper: str | None
    description: str | None
    completed_on: date | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class Helper:
    name: str
    assigned_on: date
    unit: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class HouseholdState:
    household_id: str
    status: Status
    division_code: str
    attribute: Attribute
    main_cause: Cause
    secondary_causes: tuple[Cause, ...]
    members: tuple[Member, ...]
    income: Income
    guarantees: Guarantees
    proposed_on: date
    measures: tuple[Measure, ...] = ()
    helpers: tuple[Helper, ...] = ()
    approved_on: date | None = None
    exit_proposed_on: date | None = None
    exit_pathway: Pathway | None = None
    exited_on: date | None = None
    returned_on: date | None = None
    return_cause: Cause | None = None
    #: The status ExitWithdrawn goes back to.
    exit_from: Status | None = None
    at_risk: bool = False
    #: Back on the register after a revisit found the exit wrong (错退纳回), not 返贫.
    readmitted: bool = False
    #: The latest 回头看 since the household last exited (None: not revisited since).
    last_revisited_on: date | None = None
    #: The date of the latest event applied.
    as_of: date = field(default=date.min)

    @property
    def persons(self) -> int:
        return len(self.members)

    def measure(self, measure_id: str) -> Measure | None:
        return next((m for m in self.measures if m.measure_id == measure_id), None)


def _refuse(
    state: HouseholdState | None, ev: EffectiveEvent, rule: str, why: str, why_zh: str | None = None
) -> RuleViolation:
    status = state.status.value if state else "not registered"
    status_zh = label_zh("status", state.status.value) if state else "未登记"
    return RuleViolation(
        f"{ev.body.effective_date} 生效的 {ev.body.type} 不能用于{status_zh}状态的贫困户: {why_zh or why}",
        detail_en=f"{ev.body.type} effective {ev.body.effective_date} is not allowed while the "
        f"household is {status}: {why}",
        rule=rule,
        state=status,
        event_type=ev.body.type,
        event_id=ev.event_id,
        effective_date=ev.body.effective_date.isoformat(),
    )


_FROM: dict[str, frozenset[Status]] = {
    "IdentificationApproved": frozenset({Status.PROPOSED}),
    "IdentificationRejected": frozenset({Status.PROPOSED}),
    "ExitProposed": frozenset({Status.POOR, Status.RETURNED}),
    "ExitConfirmed": frozenset({Status.EXIT_PENDING}),
    "ExitWithdrawn": frozenset({Status.EXIT_PENDING}),
    "ReturnedToPoverty": frozenset({Status.EXITED}),
    "Revisited": frozenset({Status.EXITED}),
    "RemovedAsIneligible": ACTIVE,
    "HouseholdClosed": frozenset(Status) - {Status.CLOSED},
    "AssistanceMeasureAssigned": MAINTAINABLE,
    "AssistanceMeasureCompleted": MAINTAINABLE,
    "HelperAssigned": MAINTAINABLE,
    "IncomeAssessed": MAINTAINABLE,
    "MembersChanged": MAINTAINABLE,
    "MemberUpdated": MAINTAINABLE,
    "GuaranteesAssessed": MAINTAINABLE,
    "AttributeChanged": MAINTAINABLE,
    "HouseholdTransferred": MAINTAINABLE,
}

_RULE_TEXT: dict[str, tuple[str, str]] = {
    "IdentificationApproved": ("only a proposed household can be approved", "只有拟识别户可以审定"),
    "IdentificationRejected": ("only a proposed household can be rejected", "只有拟识别户可以不予识别"),
    "ExitProposed": (
        "only a poor or returned household can be proposed for exit", "只有在档未脱贫户或返贫户可以拟退出"
    ),
    "ExitConfirmed": ("only a household proposed for exit can exit", "只有拟退出户可以确认退出"),
    "ExitWithdrawn": ("only a pending exit can be withdrawn", "只有公示中的退出可以撤回"),
    "ReturnedToPoverty": ("only an exited household can return to poverty", "只有已脱贫户可以返贫"),
    "Revisited": ("only exited households are revisited (回头看)", "只有已脱贫户进行回头看"),
    "RemovedAsIneligible": ("only a household on the register can be removed", "只有在册贫困户可以清退"),
    "HouseholdClosed": ("the household is already closed", "该户已销户"),
}
_SAME_TEXT = (
    "this event is accepted only while the household is poor, returned, exit_pending or exited",
    "此类事件只适用于在档未脱贫、返贫、拟退出或已脱贫的贫困户",
)


def _evolve(state: HouseholdState, on: date, **changes: object) -> HouseholdState:
    """``replace(state, as_of=on, **changes)`` for the fold's hot path.

    ``dataclasses.replace`` reads every field and re-runs the frozen ``__init__``
    (21 guarded ``__setattr__`` calls): it was the largest single cost of recording
    and folding an event. The state has no ``__post_init__`` and no validation,
    so copying its fields and overwriting the changed ones builds the same object;
    ``changes`` are only ever field names, written by the code below.
    """
    new = object.__new__(HouseholdState)
    fields = new.__dict__
    fields.update(state.__dict__)
    fields.update(changes)
    fields["as_of"] = on
    return new


def transition(state: HouseholdState | None, ev: EffectiveEvent, household_id: str) -> HouseholdState:
    """The state after ``ev``; raises RuleViolation where the state machine forbids it."""
    body = ev.body
    on = body.effective_date
    if isinstance(body, IdentificationProposed):
        if state is not None and state.status != Status.REMOVED:
            raise _refuse(
                state, ev, "already_identified",
                "a household is identified once (only a removed household may be re-identified)",
                "贫困户只识别一次(只有被清退的户可以重新识别)",
            )
        return HouseholdState(
            household_id=household_id,
            status=Status.PROPOSED,
            division_code=body.division_code,
            attribute=body.attribute,
            main_cause=body.main_cause,
            secondary_causes=tuple(body.secondary_causes),
            members=tuple(body.members),
            income=Income(body.income_year, body.income_per_capita, on),
            guarantees=body.guarantees,
            proposed_on=on,
            as_of=on,
        )
    if state is None:
        raise _refuse(
            state, ev, "not_identified", "the first event of a household is IdentificationProposed",
            "贫困户的第一个事件须为识别申报(IdentificationProposed)",
        )
    allowed = _FROM.get(body.type)
    if allowed is None:  # pragma: no cover - every household event type is listed
        raise _refuse(state, ev, "unknown_event", "unknown event type")
    if state.status not in allowed:
        why, why_zh = _RULE_TEXT.get(body.type, _SAME_TEXT)
        raise _refuse(state, ev, "illegal_transition", why, why_zh)
    match body:
        case IdentificationApproved():
            return _evolve(state, on, status=Status.POOR, approved_on=on)
        case IdentificationRejected():
            return _evolve(state, on, status=Status.REJECTED)
        case AssistanceMeasureAssigned():
            assigned = Measure(
                measure_id=ev.event_id,
                category=body.category,
                assigned_on=on,
                amount=body.amount,
                funding_source=body.funding_source,
                helper=body.helper,
                description=body.description,
            )
            return _evolve(state, on, measures=(*state.measures, assigned))
        case AssistanceMeasureCompleted():
            measure = state.measure(body.measure_id)
            if measure is None:
                raise _refuse(
                    state, ev, "unknown_measure",
                    f"measure {body.measure_id} was not assigned to this household by then",
                    f"帮扶措施 {body.measure_id} 此时尚未落实到该户",
                )
            if measure.completed_on is not None:
                raise _refuse(
                    state, ev, "measure_completed",
                    f"measure {body.measure_id} was already completed on {measure.completed_on}",
                    f"帮扶措施 {body.measure_id} 已于 {measure.completed_on} 完成",
                )
            done = replace(measure, completed_on=on, outcome=body.outcome)
            return _evolve(
                state,
                on,
                measures=tuple(done if m.measure_id == body.measure_id else m for m in state.measures),
            )
        case HelperAssigned():
            helper = Helper(body.helper_name, on, body.unit, body.phone)
            return _evolve(state, on, helpers=(*state.helpers, helper))
        case IncomeAssessed():
            current = state.income
            if (body.year, on) >= (current.year, current.assessed_on):
                return _evolve(state, on, income=Income(body.year, body.income_per_capita, on))
            return _evolve(state, on)
        case MembersChanged():
            return _evolve(state, on, members=_change_members(state, ev, body))
        case MemberUpdated():
            return _evolve(state, on, members=_update_member(state, ev, body))
        case GuaranteesAssessed():
            return _evolve(state, on, guarantees=body.guarantees)
        case AttributeChanged():
            return _evolve(state, on, attribute=body.attribute)
        case ExitProposed():
            return _evolve(
                state,
                on,
                status=Status.EXIT_PENDING,
                exit_from=state.status,
                exit_proposed_on=on,
                exit_pathway=body.pathway,
                guarantees=body.guarantees,
            )
        case ExitConfirmed():
            return _evolve(
                state, on, status=Status.EXITED, exited_on=on, at_risk=False, readmitted=False, last_revisited_on=None
            )
        case ExitWithdrawn():
            return _evolve(
                state, on, status=state.exit_from or Status.POOR, exit_from=None, exit_proposed_on=None
            )
        case ReturnedToPoverty():
            return _evolve(
                state, on, status=Status.RETURNED, returned_on=on, return_cause=body.cause, readmitted=False
            )
        case Revisited():
            if body.finding == Finding.WRONGLY_EXITED:
                return _evolve(
                    state, on, status=Status.RETURNED, returned_on=on, at_risk=False, readmitted=True,
                    last_revisited_on=on,
                )
            return _evolve(state, on, at_risk=body.finding == Finding.AT_RISK, last_revisited_on=on)
        case RemovedAsIneligible():
            return _evolve(state, on, status=Status.REMOVED)
        case HouseholdTransferred():
            if body.division_code == state.division_code:
                raise _refuse(
                    state, ev, "same_division", f"the household is already in {body.division_code}",
                    f"该户已在 {body.division_code}",
                )
            return _evolve(state, on, division_code=body.division_code)
        case HouseholdClosed():
            return _evolve(state, on, status=Status.CLOSED)
    raise AssertionError(f"unhandled event {body.type}")  # pragma: no cover


def _update_member(state: HouseholdState, ev: EffectiveEvent, body: MemberUpdated) -> tuple[Member, ...]:
    if not any(m.id_number == body.id_number for m in state.members):
        raise _refuse(
            state, ev, "unknown_member", f"{mask_id_number(body.id_number)} is not a member by then",
            f"{mask_id_number(body.id_number)} 此时不是本户成员",
        )
    changes = {
        name: value
        for name, value in (("labour", body.labour), ("health", body.health), ("in_school", body.in_school))
        if value is not None
    }
    return tuple(m.model_copy(update=changes) if m.id_number == body.id_number else m for m in state.members)


def _change_members(state: HouseholdState, ev: EffectiveEvent, body: MembersChanged) -> tuple[Member, ...]:
    current = {m.id_number: m for m in state.members}
    for id_number in body.left:
        if id_number not in current:
            raise _refuse(
                state, ev, "unknown_member", f"{mask_id_number(id_number)} is not a member by then",
                f"{mask_id_number(id_number)} 此时不是本户成员",
            )
    for m in body.joined:
        if m.id_number in current:
            raise _refuse(
                state, ev, "duplicate_member", f"{mask_id_number(m.id_number)} is already a member",
                f"{mask_id_number(m.id_number)} 已是本户成员",
            )
    gone = set(body.left)
    members = [m for m in state.members if m.id_number not in gone] + list(body.joined)
    if not members:
        raise _refuse(
            state, ev, "empty_household", "a household cannot be left without members (close it instead)",
            "家庭不能没有成员(应办理销户)",
        )
    if body.new_head is not None:
        if body.new_head not in {m.id_number for m in members}:
            raise _refuse(
                state, ev, "unknown_member",
                f"the new head {mask_id_number(body.new_head)} is not a member after the change",
                f"新户主 {mask_id_number(body.new_head)} 不是变更后的家庭成员",
            )
        members = [
            m.model_copy(update={"relation": Relation.HEAD}) if m.id_number == body.new_head else m
            for m in members
        ]
    heads = sum(1 for m in members if m.relation == Relation.HEAD)
    if heads != 1:
        raise _refuse(
            state, ev, "one_head",
            f"a household has exactly one head (this change leaves {heads}); when the head leaves, "
            "name the new one in new_head",
            f"每户须有且仅有一名户主(此变更后为 {heads} 名);户主离开时请以 new_head 指定新户主",
        )
    return tuple(members)
