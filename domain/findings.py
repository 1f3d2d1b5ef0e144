"""Findings: decisions that the facts, as now known, show to have broken a rule.

A fact recorded late (or corrected) never moves the status and is never refused for
what it reveals (:mod:`domain.kinds`). Where it shows that an earlier decision broke
a policy rule of its date — the income behind an exit was below the line — the
decision stays in history and carries a **finding** from the moment the registry
learned it. Correcting or retracting a decision can likewise leave later decisions
in breach: they get findings too, not refusals.

Findings are derived, never recorded: :func:`ledger` folds a household's recorded
history version by version. At each recording moment it re-judges every decision
against the fold as then known, with the policy as known when the decision took its
current form (so a rule recorded later never re-judges an earlier decision; facts
recorded later do). The ledger remembers what it found before, which gives each
finding the moment since when it is known and lets a finding that the record no
longer shows (a correction made the decision compliant, the decision was retracted)
stay visible as resolved.

A finding stays open until a later decision acts on it: a ``Revisited`` with finding
``wrongly_exited`` (错退纳回) resolves the findings on the exit before it, a
``RemovedAsIneligible`` (清退) every finding before it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Literal

from domain.errors import DomainError
from domain.events import EventCorrected, EventRetracted, Revisited
from domain.fold import Step, appends, decision_moments, extend, replay
from domain.history import RecordedEvent, effective_events
from domain.kinds import Kind, is_decision, kind_of
from domain.policy import PolicyBook
from domain.rules import check_rules
from domain.vocab import Finding as RevisitFinding

State = Literal["open", "resolved"]
STATES: tuple[str, ...] = ("open", "resolved")

#: Chinese names of the rules a finding can name (the codes stay English).
RULE_LABELS: dict[str, str] = {
    "exit_income_below_line": "退出时人均收入低于贫困线（虚假脱贫）",
    "exit_guarantees": "退出时两不愁三保障未全部实现",
    "exit_notice_period": "退出公示期未满",
    "no_exit_in_year_of_entry": "当年新识别或返贫即退出",
    "identification_notice_period": "识别公示期未满",
    "income_above_line": "识别时人均收入不低于扶贫标准（错评）",
    "exit_income_outdated": "退出所依据的收入核算已过期",
    "eligibility_exception_unfounded": "识别例外“两不愁三保障未达标”但各项均已达标",
}

#: Decisions whose findings a Revisited with finding wrongly_exited resolves.
EXIT_DECISIONS = frozenset({"ExitProposed", "ExitConfirmed"})

_NAMESPACE = uuid.UUID("5b0c8f5e-6a54-4c1e-9a55-8f7f3a1c2d90")


def finding_id(decision_event_id: str, rule: str) -> str:
    """Stable across rebuilds and processes: one finding per decision and rule."""
    return str(uuid.uuid5(_NAMESPACE, f"{decision_event_id}:{rule}"))


@dataclass(frozen=True)
class Finding:
    finding_id: str
    rule: str
    decision_event_id: str
    decision_type: str
    #: the decision's effective date, as now known
    decision_on: date
    #: the facts (and changes of record) that show it
    shown_by: tuple[str, ...]
    known_since: datetime
    detail: str
    detail_en: str
    resolved_by: str | None = None
    #: the valid date from which it is resolved (the resolving decision's date; the
    #: decision's own date when the record no longer shows the breach at all)
    resolved_on: date | None = None
    #: True when the record no longer shows the breach (a correction, a retraction)
    withdrawn: bool = False

    def state_on(self, as_of: date | None) -> State:
        if self.resolved_by is not None and self.resolved_on is not None and (
            as_of is None or self.resolved_on <= as_of
        ):
            return "resolved"
        return "open"

    def as_dict(self, as_of: date | None = None) -> dict[str, Any]:
        state = self.state_on(as_of)
        return {
            "finding_id": self.finding_id,
            "rule": self.rule,
            "rule_label": RULE_LABELS.get(self.rule, self.rule),
            "decision_event_id": self.decision_event_id,
            "decision_type": self.decision_type,
            "decision_effective_date": self.decision_on.isoformat(),
            "shown_by": list(self.shown_by),
            "known_since": self.known_since.isoformat(timespec="microseconds"),
            "state": state,
            "resolved_by": self.resolved_by if state == "resolved" else None,
            "detail": self.detail,
            "detail_en": self.detail_en,
        }


Ledger = dict[str, Finding]
#: A decision that breaks a rule: its step's index, the rule, the refusal it would get.
Breach = tuple[int, str, DomainError]


def first_disturbance(history: Sequence[RecordedEvent]) -> int | None:
    """The index of the first event that can give a decision a finding, or None.

    A decision recorded after every event before it in valid time was judged against
    exactly the fold before it (the write path's promise), so it carries no finding
    until an event lands before it in valid time or a change of record is recorded:
    only from there on must the ledger re-judge anything.
    """
    latest: date | None = None
    for i, event in enumerate(history):
        on = event.body.effective_date
        if kind_of(event.type) is Kind.CHANGE or (latest is not None and on < latest):
            return i
        latest = on if latest is None or on > latest else latest
    return None


def ledger(history: Sequence[RecordedEvent], policies: PolicyBook, known_at: datetime | None = None) -> Ledger:
    """Every finding of the household as known at ``known_at`` (None: everything recorded).

    The ledger is advanced version by version from the first disturbance. Where a version only
    appends to the fold (the common case), the fold is extended by one step and only the new
    step's decision is judged: the steps before it, their decision moments and so their
    judgments are those of the version before. Anything else is replayed and judged again.
    """
    known = [e for e in history if known_at is None or e.recorded_at <= known_at]
    start = first_disturbance(known)
    found: Ledger = {}
    if start is None:
        return found
    steps = replay(effective_events(known[:start]), known[0].household_id)
    judged: list[Breach] = []
    for end in range(start + 1, len(known) + 1):
        prefix = known[:end]
        appended = end > start + 1 and appends(steps, prefix[-1])
        steps = extend(steps, prefix)  # one step where it appends, else the replay
        decided_at = decision_moments(prefix)
        if appended:
            judged = [*judged, *breaches(steps, decided_at, policies, first=len(steps) - 1)]
        else:
            judged = list(breaches(steps, decided_at, policies))
        found = advance(found, prefix, policies, steps, judged)
    return found


def advance(before: Mapping[str, Finding], prefix: Sequence[RecordedEvent], policies: PolicyBook,
            steps: Sequence[Step] | None = None, judged: Sequence[Breach] | None = None) -> Ledger:
    """The ledger once ``prefix[-1]`` is recorded, from the ledger ``before`` it (``steps``: the replay
    of ``prefix``, and ``judged``: its :func:`breaches`, where the caller has them)."""
    latest = prefix[-1]
    household_id = latest.household_id
    if steps is None:
        steps = replay(effective_events(prefix), household_id)
    decided_at = decision_moments(prefix)
    now: Ledger = {}
    for i, rule, error in breaches(steps, decided_at, policies) if judged is None else judged:
        decision = steps[i].event
        fid = finding_id(decision.event_id, rule)
        old = before.get(fid)
        resolver = _resolver(steps, i)
        now[fid] = Finding(
            finding_id=fid,
            rule=rule,
            decision_event_id=decision.event_id,
            decision_type=decision.body.type,
            decision_on=decision.effective_date,
            shown_by=_shown_by(prefix, steps, i, decided_at[decision.event_id]) or (latest.event_id,),
            known_since=old.known_since if old is not None and not old.withdrawn else latest.recorded_at,
            detail=error.detail,
            detail_en=error.detail_en,
            resolved_by=resolver[0] if resolver else None,
            resolved_on=resolver[1] if resolver else None,
        )
    for fid, old in before.items():
        if fid in now:
            continue
        if old.withdrawn:
            now[fid] = old
        else:
            # The record no longer shows the breach: the change just recorded resolved it.
            now[fid] = replace(
                old,
                withdrawn=True,
                resolved_by=old.resolved_by or latest.event_id,
                resolved_on=old.resolved_on or old.decision_on,
            )
    return now


def breaches(
    steps: Sequence[Step], decided_at: Mapping[str, datetime], policies: PolicyBook, first: int = 0
) -> Iterable[Breach]:
    """(step index, rule, error) of each decision (from step ``first`` on) that breaks a rule of
    its date, judged with the policy as known when the decision took its current form."""
    for i in range(first, len(steps)):
        event = steps[i].event
        if not is_decision(event.body.type):
            continue
        before = steps[i - 1].state if i else None
        try:
            book = policies.known_at(decided_at.get(event.event_id))
            check_rules(before, event.body, book)
        except LookupError:
            continue  # no policy in force: nothing to judge it by
        except DomainError as exc:
            yield i, exc.rule, exc


def _resolver(steps: Sequence[Step], i: int) -> tuple[str, date] | None:
    """The first later decision that acts on a finding of the decision at step ``i``."""
    decision_type = steps[i].event.body.type
    for step in steps[i + 1 :]:
        body = step.event.body
        if body.type == "RemovedAsIneligible" or (
            isinstance(body, Revisited)
            and body.finding == RevisitFinding.WRONGLY_EXITED
            and decision_type in EXIT_DECISIONS
        ):
            return step.event.event_id, step.event.effective_date
    return None


def _shown_by(
    prefix: Sequence[RecordedEvent], steps: Sequence[Step], i: int, decided: datetime
) -> tuple[str, ...]:
    """Facts and changes of record, learned after the decision took its form, that bear on
    the fold before it: facts effective by then, changes of events effective by then."""
    on = steps[i].event.effective_date
    decision_id = steps[i].event.event_id
    effective_on = {step.event.event_id: step.event.effective_date for step in steps}
    original_on = {e.event_id: e.body.effective_date for e in prefix}
    shown: list[str] = []
    for e in prefix:
        if e.recorded_at <= decided or e.event_id == decision_id:
            continue
        body = e.body
        if isinstance(body, EventCorrected | EventRetracted):
            target = body.target_event_id
            if target == decision_id:
                continue
            dates = [d for d in (effective_on.get(target), original_on.get(target)) if d is not None]
            if dates and min(dates) <= on:
                if target in effective_on and kind_of(_type_of(steps, target)) is Kind.FACT:
                    shown.append(target)  # the fact as corrected
                shown.append(e.event_id)
        elif kind_of(body.type) is Kind.FACT and body.effective_date <= on:
            shown.append(e.event_id)
        elif is_decision(body.type) and body.effective_date <= on and e.event_id in effective_on:
            shown.append(e.event_id)  # a late decision inserted before it
    return tuple(dict.fromkeys(shown))


def _type_of(steps: Sequence[Step], event_id: str) -> str:
    return next(step.event.body.type for step in steps if step.event.event_id == event_id)


def findings_view(
    history: Sequence[RecordedEvent],
    policies: PolicyBook,
    as_of: date | None = None,
    known_at: datetime | None = None,
    state: str = "all",
) -> list[dict[str, Any]]:
    """The findings "as of D, known at K": those on decisions effective by ``as_of``, in
    the ledger as known at ``known_at``; each open or resolved as of ``as_of``."""
    rows = [
        f.as_dict(as_of)
        for f in ledger(history, policies, known_at).values()
        if as_of is None or f.decision_on <= as_of
    ]
    if state != "all":
        rows = [r for r in rows if r["state"] == state]
    return sorted(rows, key=lambda r: (r["decision_effective_date"], r["known_since"], r["rule"]))
