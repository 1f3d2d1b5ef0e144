"""The bitemporal fold: a household's state as of any date, as known at any moment.

This is the one function the aggregate, the projections and the tests share.
:func:`replay` folds a history in valid-time order; :func:`state_as_of` and
:func:`timeline` answer queries; :func:`decide` checks a new event against the
whole history with it inserted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from domain.errors import InvalidInput, RuleViolation
from domain.events import META_EVENTS, EventCorrected, EventRetracted, IdentificationProposed
from domain.history import EffectiveEvent, RecordedEvent, apply_changes, effective_events
from domain.policy import PolicyBook
from domain.rules import check_rules
from domain.state import HouseholdState, transition
from domain.vocab import Status


@dataclass(frozen=True)
class Step:
    """One event in valid-time order and the state right after it."""

    event: EffectiveEvent
    state: HouseholdState


def replay(
    effective: Sequence[EffectiveEvent], household_id: str, state: HouseholdState | None = None
) -> list[Step]:
    """Fold events (already in valid-time order), from ``state`` if given (the fold of the
    events before them); raises RuleViolation on an illegal path."""
    steps: list[Step] = []
    for ev in effective:
        state = transition(state, ev, household_id)
        steps.append(Step(ev, state))
    return steps


def appends(steps: Sequence[Step], event: RecordedEvent) -> bool:
    """Whether ``event`` folds in after every step of ``steps``, leaving them as they are."""
    return event.type not in META_EVENTS and (not steps or event.body.effective_date >= steps[-1].event.effective_date)


def extend(steps: Sequence[Step], history: Sequence[RecordedEvent]) -> list[Step]:
    """The fold of ``history`` given ``steps``, the fold of all but its last event.

    An event that takes effect on or after the last folded one (and is not a correction or a
    retraction, which change other events) sorts last: the fold is the previous one plus one
    transition, exactly what :func:`replay` would compute. Otherwise, replay.
    """
    event = history[-1]
    if appends(steps, event):
        ev = EffectiveEvent(event, event.body)
        return [*steps, Step(ev, transition(steps[-1].state if steps else None, ev, event.household_id))]
    return replay(effective_events(history), event.household_id)


def state_as_of(
    history: Sequence[RecordedEvent],
    as_of: date,
    known_at: datetime | None = None,
    household_id: str | None = None,
) -> HouseholdState | None:
    """The household on ``as_of`` as known at ``known_at``; None if not on the register then."""
    hid = household_id or (history[0].household_id if history else "")
    state = None
    for step in replay(effective_events(history, known_at), hid):
        if step.event.effective_date > as_of:
            break
        state = step.state
    return state


@dataclass(frozen=True)
class Interval:
    """``status`` held from ``start`` (inclusive) to ``end`` (exclusive; None = open)."""

    status: Status
    start: date
    end: date | None


def intervals(steps: Sequence[Step]) -> list[Interval]:
    """Valid-time status intervals; several events on one day count as the day's last."""
    changes: list[tuple[date, Status]] = []
    for step in steps:
        on = step.event.effective_date
        if changes and changes[-1][0] == on:
            changes[-1] = (on, step.state.status)
        else:
            changes.append((on, step.state.status))
    merged: list[tuple[date, Status]] = []
    for on, status in changes:
        if not merged or merged[-1][1] != status:
            merged.append((on, status))
    return [
        Interval(status, on, merged[i + 1][0] if i + 1 < len(merged) else None)
        for i, (on, status) in enumerate(merged)
    ]


def timeline(history: Sequence[RecordedEvent], known_at: datetime | None = None) -> list[Interval]:
    hid = history[0].household_id if history else ""
    return intervals(replay(effective_events(history, known_at), hid))


def decide(
    history: Sequence[RecordedEvent],
    candidate: RecordedEvent,
    policies: PolicyBook,
    today: date,
    steps: Sequence[Step] | None = None,
) -> list[Step]:
    """Check ``candidate`` against the household's whole history; return the new fold.

    Refuses (InvalidInput, RuleViolation) unless the valid-time history with the
    candidate inserted, or with its correction/retraction applied, is still a legal
    path through the state machine, and the event the command changes (the candidate,
    or the event it corrects; a retraction restores a corrected event) keeps the policy
    rules of its date, as known now. The decisions after it are not re-judged here:
    where the change leaves one in breach, it carries a finding (domain.findings).

    ``steps``, the fold of ``history`` if the caller has it, spares work for a plain
    event landing after the first: the fold before it is that of ``history``, so
    only the path from where it lands is folded again (and judged, as ever).
    """
    body = candidate.body
    if body.effective_date > today:
        raise InvalidInput(
            f"生效日期 {body.effective_date} 晚于今天({today})",
            detail_en=f"effective_date {body.effective_date} is in the future (today is {today})",
            rule="future_effective_date",
            errors=[{"loc": ["effective_date"], "msg": "must not be in the future"}],
        )
    if not history and not isinstance(body, IdentificationProposed):
        raise RuleViolation(
            f"{body.type} 需要已登记的贫困户: 第一个事件须为识别申报(IdentificationProposed)",
            detail_en=f"{body.type} needs a registered household: the first event is IdentificationProposed",
            rule="not_identified",
        )
    changed_id = candidate.event_id
    if isinstance(body, EventCorrected | EventRetracted):
        changed_id = _check_target(history, body, today)
    landing = _landing(steps, body.effective_date) if steps and changed_id == candidate.event_id else 0
    if landing:
        assert steps is not None
        later = [EffectiveEvent(candidate, body), *(step.event for step in steps[landing:])]
        new_steps = [*steps[:landing], *replay(later, candidate.household_id, steps[landing - 1].state)]
        first = landing
    else:
        before = effective_events(history)
        after = effective_events([*history, candidate])
        new_steps = replay(after, candidate.household_id)
        first = _first_difference(before, after)
    # Only the event the command changes is judged by the rules of its date (the new
    # event, or the event it corrects; an identification too, when it is the first). Later
    # decisions that the change leaves in breach are not refused: they carry findings
    # (domain.findings). So a fact, which has no rule of its own, is never refused for what
    # it shows about the decisions after it.
    for i in range(first, len(new_steps)):
        event = new_steps[i].event
        if event.event_id == changed_id:
            check_rules(new_steps[i - 1].state if i else None, event.body, policies)
            break
    return new_steps


def _landing(steps: Sequence[Step], on: date) -> int:
    """Where an event effective ``on`` and recorded after every step lands in valid-time
    order (ties by recording order): after every step effective on or before ``on``."""
    at = len(steps)
    while at and steps[at - 1].event.body.effective_date > on:
        at -= 1
    return at


def _first_difference(before: Sequence[EffectiveEvent], after: Sequence[EffectiveEvent]) -> int:
    """The valid-time position from which the two histories differ."""
    for i, (old, new) in enumerate(zip(before, after, strict=False)):
        if old.event_id != new.event_id or old.body != new.body:
            return i
    return min(len(before), len(after))


def decision_moments(history: Sequence[RecordedEvent]) -> dict[str, datetime]:
    """When each event took its current form: its recording, or its latest correction."""
    moments = {e.event_id: e.recorded_at for e in history}
    for e in history:
        if isinstance(e.body, EventCorrected) and e.body.target_event_id in moments:
            moments[e.body.target_event_id] = max(moments[e.body.target_event_id], e.recorded_at)
    return moments


def _check_target(
    history: Sequence[RecordedEvent], body: EventCorrected | EventRetracted, today: date
) -> str:
    """Validate what a correction or retraction targets; return the target's id."""
    by_id = {e.event_id: e for e in history}
    target = by_id.get(body.target_event_id)
    if target is None:
        raise InvalidInput(
            f"事件 {body.target_event_id} 不是本户的事件",
            detail_en=f"event {body.target_event_id} is not an event of this household",
            rule="unknown_target_event",
            errors=[{"loc": ["target_event_id"], "msg": "no such event in this household"}],
        )
    if isinstance(target.body, EventRetracted):
        raise RuleViolation(
            "撤销不能被更正或撤销", detail_en="a retraction cannot be corrected or retracted",
            rule="target_is_retraction",
        )
    if isinstance(body, EventCorrected) and isinstance(target.body, EventCorrected):
        raise RuleViolation(
            "更正不能再被更正: 请再次更正原事件,或撤销该更正",
            detail_en="a correction cannot be corrected: correct the original event again, or retract "
            "the correction",
            rule="target_is_correction",
        )
    retracted = {e.body.target_event_id for e in history if isinstance(e.body, EventRetracted)}
    if target.event_id in retracted:
        raise RuleViolation(
            f"事件 {target.event_id} 已被撤销", detail_en=f"event {target.event_id} is already retracted",
            rule="target_retracted",
        )
    if isinstance(body, EventCorrected):
        current = next(
            (ev.body for ev in effective_events(history) if ev.event_id == target.event_id),
            target.body,
        )
        corrected = apply_changes(current, body.changes)
        if corrected.effective_date > today:
            raise InvalidInput(
                f"更正后的生效日期 {corrected.effective_date} 晚于今天",
                detail_en=f"the corrected effective_date {corrected.effective_date} is in the future",
                rule="future_effective_date",
            )
        return target.event_id
    # A retracted correction: the target's own rules are those of its restored form.
    if isinstance(target.body, EventCorrected):
        return target.body.target_event_id
    return target.event_id
