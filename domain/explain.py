"""Why a household had its status on a date, as known at a moment: the minimal chain.

:func:`explain` folds the history as believed at ``known_at`` up to ``as_of`` and
answers with the decision that set the status then (the last event that changed
it), the decisions it needed (an exit's proposal, an approval's proposal), the
policy checks that admitted them with the policy as known when they were decided
and the sources of each setting, the facts those checks read, and the corrections
and retractions known by then that touched the events up to ``as_of``.

The answer is JSON-ready. Findings are not part of the fold's rules: the caller
adds those of the card.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from domain.events import (
    EventCorrected,
    EventRetracted,
    ExitConfirmed,
    ExitProposed,
    IdentificationApproved,
    IdentificationProposed,
    IncomeAssessed,
)
from domain.fold import Step, decision_moments, replay
from domain.history import EffectiveEvent, RecordedEvent, effective_events
from domain.policy import PolicyBook, ResolvedPolicy, poverty_line_for
from domain.rules import has_labour_capacity
from domain.state import HouseholdState
from domain.vocab import COUNTED_POOR, Status

#: Decisions whose admission rests on an earlier status change: the proposal they act on.
_NEEDS_ANTECEDENT = frozenset({"IdentificationApproved", "IdentificationRejected", "ExitConfirmed", "ExitWithdrawn"})

CHECK_LABELS_ZH: dict[str, str] = {
    "income_above_line": "人均纯收入低于所属年度扶贫标准(或属政策允许的识别例外)",
    "exit_income_outdated": "退出所依据的收入核算在有效期内",
    "identification_notice_period": "识别公示期已满",
    "exit_income_below_line": "人均纯收入不低于扶贫标准",
    "exit_guarantees": "两不愁三保障及饮水安全均已实现",
    "exit_notice_period": "退出公示期已满",
    "no_exit_in_year_of_entry": "当年新识别或返贫原则上不能退出",
}


def _moment(value: datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") if value else None


def _recorded(e: RecordedEvent) -> dict[str, Any]:
    return {
        "event_id": e.event_id,
        "type": e.body.type,
        "effective_date": e.body.effective_date.isoformat(),
        "recorded_at": _moment(e.recorded_at),
        "recorded_by": e.recorded_by.as_dict(),
        "reason": e.body.reason,
        "evidence": list(e.body.evidence),
    }


def _effective(ev: EffectiveEvent) -> dict[str, Any]:
    out = _recorded(ev.original)
    # As then believed: a correction may have moved the date or changed the reason.
    out.update(effective_date=ev.body.effective_date.isoformat(), reason=ev.body.reason,
               evidence=list(ev.body.evidence), corrected_by=list(ev.corrected_by))
    return out


def _source(policy: ResolvedPolicy, setting: str) -> dict[str, Any] | None:
    found = policy.provenance.get(setting)
    if found is None:
        return None
    jurisdiction, effective, document = found
    return {"setting": setting, "jurisdiction": jurisdiction, "effective_date": effective.isoformat(),
            "document": document}


def _check(rule: str, event_id: str, passed: bool, policy: ResolvedPolicy, setting: str | None,
           source: tuple[str, date, str | None] | None = None, **values: Any) -> dict[str, Any]:
    found = _source(policy, setting) if setting else None
    if source is not None and setting:
        found = {"setting": setting, "jurisdiction": source[0], "effective_date": source[1].isoformat(),
                 "document": source[2]}
    return {"rule": rule, "label": CHECK_LABELS_ZH[rule], "event_id": event_id, "passed": passed,
            "setting": setting, "source": found, **values}


def _checks(
    before: HouseholdState | None, ev: EffectiveEvent, policy: ResolvedPolicy, book: PolicyBook
) -> list[dict[str, Any]]:
    """The policy rules :func:`domain.rules.check_rules` applies to ``ev``, each with its values."""
    body, on, eid = ev.body, ev.body.effective_date, ev.event_id
    if isinstance(body, IdentificationProposed):
        line, line_from = poverty_line_for(book, body.division_code, body.income_year,
                                           has_labour_capacity(body.members))
        exception = body.eligibility_exception
        below = line is not None and body.income_per_capita < line
        return [_check("income_above_line", eid, below or exception in policy.eligibility_exceptions, policy,
                       "poverty_line", line_from, value=line, income_per_capita=body.income_per_capita,
                       income_year=body.income_year,
                       eligibility_exception=exception.value if exception else None)]
    if before is None:
        return []
    if isinstance(body, IdentificationApproved):
        earliest = before.proposed_on + timedelta(days=policy.identification_notice_days)
        return [_check("identification_notice_period", eid, on >= earliest, policy, "identification_notice_days",
                       value=policy.identification_notice_days, notice_from=before.proposed_on.isoformat(),
                       earliest=earliest.isoformat(), on=on.isoformat())]
    if isinstance(body, ExitProposed):
        income = before.income
        line, line_from = poverty_line_for(book, before.division_code, income.year,
                                           has_labour_capacity(before.members))
        oldest = on - timedelta(days=policy.exit_income_max_age_days)
        missing = body.guarantees.missing()
        return [
            _check("exit_income_outdated", eid, income.assessed_on >= oldest, policy, "exit_income_max_age_days",
                   value=policy.exit_income_max_age_days, assessed_on=income.assessed_on.isoformat(),
                   oldest=oldest.isoformat()),
            _check("exit_income_below_line", eid, line is not None and income.per_capita >= line, policy,
                   "poverty_line", line_from, value=line, income_per_capita=income.per_capita,
                   income_year=income.year),
            _check("exit_guarantees", eid, not missing, policy, None,
                   value=body.guarantees.model_dump(), missing=missing),
        ]
    if isinstance(body, ExitConfirmed) and before.exit_proposed_on is not None:
        earliest = before.exit_proposed_on + timedelta(days=policy.exit_notice_days)
        entries = [d for d in (before.approved_on, before.returned_on) if d]
        entered = max(entries) if entries else None
        same_year = entered is not None and entered.year == on.year
        return [
            _check("exit_notice_period", eid, on >= earliest, policy, "exit_notice_days",
                   value=policy.exit_notice_days, notice_from=before.exit_proposed_on.isoformat(),
                   earliest=earliest.isoformat(), on=on.isoformat()),
            _check("no_exit_in_year_of_entry", eid, not (policy.no_exit_in_year_of_entry and same_year), policy,
                   "no_exit_in_year_of_entry", value=policy.no_exit_in_year_of_entry,
                   entered_on=entered.isoformat() if entered else None, on=on.isoformat()),
        ]
    return []


def _income_source(steps: Sequence[Step], upto: int) -> EffectiveEvent | None:
    """The event that set the income the state at ``steps[upto]`` holds."""
    income = steps[upto].state.income
    for step in reversed(steps[: upto + 1]):
        body = step.event.body
        if isinstance(body, IncomeAssessed | IdentificationProposed) and body.effective_date == income.assessed_on:
            return step.event
    return None


def _entry_event(steps: Sequence[Step], before: int) -> EffectiveEvent | None:
    """The approval or return to poverty that last put the household among the poor before
    ``steps[before]`` (the "year of entry" an exit is checked against)."""
    for j in reversed(range(1, before)):
        if steps[j].state.status in COUNTED_POOR and steps[j - 1].state.status != steps[j].state.status \
                and steps[j - 1].state.status != Status.EXIT_PENDING:
            return steps[j].event
    return None


def _status_changes(steps: Sequence[Step]) -> list[int]:
    return [i for i, s in enumerate(steps) if i == 0 or steps[i - 1].state.status != s.state.status]


def explain(
    history: Sequence[RecordedEvent],
    as_of: date,
    known_at: datetime | None,
    policies: PolicyBook,
) -> dict[str, Any] | None:
    """The status on ``as_of`` as known at ``known_at`` and the chain behind it; None if the
    household was not on the register then (as then known)."""
    known = [e for e in history if known_at is None or e.recorded_at <= known_at]
    if not known:
        return None
    household_id = known[0].household_id
    all_steps = replay(effective_events(known), household_id)
    steps = [s for s in all_steps if s.event.effective_date <= as_of]
    if not steps:
        return None
    state = steps[-1].state
    changes = _status_changes(steps)
    chain_at = [changes[-1]]
    if steps[chain_at[0]].event.body.type in _NEEDS_ANTECEDENT and len(changes) > 1:
        chain_at.append(changes[-2])
    decided_at = decision_moments(known)

    chain: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    facts: dict[str, dict[str, Any]] = {}
    versions: dict[tuple[str, str], dict[str, Any]] = {}
    for i in chain_at:
        step = steps[i]
        before = steps[i - 1].state if i else None
        link = {**_effective(step.event), "from_status": before.status.value if before else None,
                "to_status": step.state.status.value}
        body = step.event.body
        division = before.division_code if before else getattr(body, "division_code", None)
        if division is not None:
            moment = decided_at[step.event.event_id]
            book = policies.known_at(moment)
            try:
                policy = book.resolve(division, step.event.effective_date)
            except LookupError:
                policy = None
            if policy is not None:
                found = _checks(before, step.event, policy, book)
                checks.extend(found)
                link["policy_known_at"] = _moment(moment)
                for check in found:
                    src = check["source"]
                    if src:
                        key = (src["jurisdiction"], src["effective_date"])
                        entry = versions.setdefault(key, {"jurisdiction": src["jurisdiction"],
                                                          "effective_date": src["effective_date"],
                                                          "document": src["document"], "settings": []})
                        entry["settings"].append(src["setting"])
                if before is not None and any(c["rule"] == "exit_income_below_line" for c in found):
                    income_event = _income_source(steps, i - 1)
                    if income_event is not None:
                        facts.setdefault(income_event.event_id, {
                            **_effective(income_event), "used_for": "income_per_capita",
                            "values": {"income_per_capita": before.income.per_capita, "year": before.income.year},
                        })
        chain.append(link)
    for i in chain_at[1:]:
        ev = steps[i].event
        facts.setdefault(ev.event_id, {**_effective(ev), "used_for": "notice_from",
                                      "values": {"effective_date": ev.body.effective_date.isoformat()}})
    decision = chain[0]
    if decision["type"] == "ExitConfirmed":
        entered = _entry_event(steps, chain_at[-1])
        if entered is not None:
            facts.setdefault(entered.event_id, {**_effective(entered), "used_for": "entered_on",
                                                "values": {"effective_date": entered.body.effective_date.isoformat()}})

    return {
        "household_id": household_id,
        "as_of": as_of.isoformat(),
        "known_at": _moment(known_at),
        "status": state.status.value,
        "division_code": state.division_code,
        "since": steps[changes[-1]].event.effective_date.isoformat(),
        "decision": decision,
        "chain": chain,
        "policy": {"versions": list(versions.values())},
        "checks": checks,
        "facts": list(facts.values()),
        "changes": _shaping_changes(known, all_steps, as_of),
        "findings": [],
    }


def _shaping_changes(known: Sequence[RecordedEvent], steps: Sequence[Step], as_of: date) -> list[dict[str, Any]]:
    """Corrections and retractions known by then whose target was, as recorded or as corrected,
    effective on or before ``as_of`` (what they did to the events the status rests on)."""
    by_id = {e.event_id: e for e in known}
    current = {s.event.event_id: s.event.body.effective_date for s in steps}
    out = []
    for e in known:
        body = e.body
        if not isinstance(body, EventCorrected | EventRetracted):
            continue
        target = by_id.get(body.target_event_id)
        if target is None:
            continue
        dates = [target.body.effective_date]
        if target.event_id in current:
            dates.append(current[target.event_id])
        if min(dates) > as_of:
            continue
        item = {**_recorded(e), "target_event_id": target.event_id, "target_type": target.body.type,
                "target_effective_date": target.body.effective_date.isoformat()}
        if isinstance(body, EventCorrected):
            item["changes"] = body.changes
        out.append(item)
    return out


__all__ = ["CHECK_LABELS_ZH", "explain"]
