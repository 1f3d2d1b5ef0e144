"""Rules that look across households: one active household per person, county quotas.

The application service loads what these functions need (the other households'
histories, the quota ledger) and saves the index aggregates in the same
transaction as the household, so racing writers conflict instead of both winning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from domain.errors import RuleViolation
from domain.fold import Step
from domain.idnumber import mask_id_number
from domain.vocab import ACTIVE

#: A membership span [start, end) in valid time; end None = open.
Span = tuple[date, date | None]


def active_memberships(steps: Sequence[Step]) -> dict[str, list[Span]]:
    """For each ID number, the valid-time spans in which it belongs to this household
    while the household is active (on the register)."""
    spans: dict[str, list[Span]] = {}
    open_since: dict[str, date] = {}
    # Several events on one day: only the day's last state counts.
    days: list[tuple[date, frozenset[str]]] = []
    for step in steps:
        on = step.event.effective_date
        ids = (
            frozenset(m.id_number for m in step.state.members)
            if step.state.status in ACTIVE
            else frozenset()
        )
        if days and days[-1][0] == on:
            days[-1] = (on, ids)
        else:
            days.append((on, ids))
    for on, ids in days:
        for id_number in list(open_since):
            if id_number not in ids:
                spans.setdefault(id_number, []).append((open_since.pop(id_number), on))
        for id_number in ids:
            open_since.setdefault(id_number, on)
    for id_number, start in open_since.items():
        spans.setdefault(id_number, []).append((start, None))
    return {k: [s for s in v if s[1] is None or s[0] < s[1]] for k, v in spans.items()}


def _overlap(a: Span, b: Span) -> bool:
    a_end = a[1] or date.max
    b_end = b[1] or date.max
    return a[0] < b_end and b[0] < a_end


def changed_memberships(before: Sequence[Step], after: Sequence[Step]) -> dict[str, list[Span]]:
    """ID numbers whose active spans in this household the command changes (new spans)."""
    old = active_memberships(before)
    new = active_memberships(after)
    return {k: v for k, v in new.items() if v != old.get(k)}


def check_person_conflicts(
    household_id: str,
    id_number: str,
    spans: Sequence[Span],
    others: Mapping[str, Sequence[Step]],
    scope: str = "",
) -> None:
    """Refuse if ``id_number`` is in another active household during any of ``spans``.

    The refusal names the other household only if it has always been inside
    ``scope`` (the caller's division prefix): otherwise a caller could learn, ID
    number by ID number, who is registered where outside its scope."""
    for other_id, other_steps in others.items():
        if other_id == household_id:
            continue
        for theirs in active_memberships(other_steps).get(id_number, []):
            for ours in spans:
                if _overlap(ours, theirs):
                    if not all(step.state.division_code.startswith(scope) for step in other_steps):
                        raise RuleViolation(
                            f"身份证号 {mask_id_number(id_number)} 已在本权限范围之外的另一在册户中；"
                            "同一日期一个身份证号至多属于一个在册户",
                            rule="person_in_another_household",
                            detail_en=f"person {mask_id_number(id_number)} belongs to an active household "
                            "outside this token's scope; an ID number belongs to at most one active "
                            "household at any date",
                        )
                    until = f"until {theirs[1]}" if theirs[1] else "and still is"
                    until_zh = f"至 {theirs[1]}" if theirs[1] else "至今"
                    raise RuleViolation(
                        f"{mask_id_number(id_number)} 自 {theirs[0]} {until_zh}属于在册贫困户 {other_id};"
                        f"同一身份证号任一时点只能属于一个在册贫困户",
                        detail_en=f"person {mask_id_number(id_number)} belongs to active household "
                        f"{other_id} from {theirs[0]} {until}; an ID number belongs to at "
                        f"most one active household at any date",
                        rule="person_in_another_household",
                        other_household_id=other_id,
                    )


@dataclass(frozen=True)
class Approval:
    """Where a household's identification approval counts: a division and a year."""

    division_code: str
    on: date


def approval_of(steps: Sequence[Step]) -> Approval | None:
    """The latest approval in the household's fold (re-identification counts anew)."""
    found = None
    for step in steps:
        if step.event.body.type == "IdentificationApproved":
            found = Approval(step.state.division_code, step.event.effective_date)
    return found


def check_quota(
    jurisdiction: str, year: int, quota: int, approved: set[str], household_id: str
) -> None:
    """Refuse an approval beyond the county's quota for the year; ``approved`` holds every
    approval of that county-year, including those recorded before the quota was."""
    counted = approved | {household_id}
    if len(counted) > quota:
        raise RuleViolation(
            f"{jurisdiction} {year} 年识别规模({quota} 户)已用完: 已审定 {len(approved)} 户",
            detail_en=f"the identification quota of {jurisdiction} for {year} ({quota} households, "
            f"规模控制) is used up: {len(approved)} already approved",
            rule="identification_quota_exceeded",
            quota=quota,
            approved=len(approved),
        )
