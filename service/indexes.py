"""The cross-household indexes a household command may touch.

A person is on the register in one household at a time (:class:`PersonIndex`,
one per ID number, lists the households that ever held them), and a
jurisdiction's identifications per year may be capped (:class:`QuotaLedger`).
Each check here reads the indexes through the unit of work and returns the
changes to make once every check has passed, so that a refused command leaves
the unit of work as it found it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from domain.fold import Step
from domain.household import Household, PersonIndex, QuotaLedger, person_key, quota_key
from domain.policy import PolicyBook
from domain.registry import approval_of, changed_memberships, check_person_conflicts, check_quota
from domain.state import HouseholdState
from domain.vocab import ACTIVE
from service.unit_of_work import UnitOfWork

Effect = Callable[[], None]


def check_people(
    uow: UnitOfWork,
    household_id: str,
    old_steps: list[Step],
    new_steps: list[Step],
    at: datetime,
    secret: bytes,
    steps_of: Callable[[Household], list[Step]],
    scope: str = "",
) -> list[Effect]:
    """Refuse a person kept on the register by two households at once; the index changes.
    ``scope``: the caller's division scope (a conflict outside it names no household)."""
    effects: list[Effect] = []
    for id_number, spans in changed_memberships(old_steps, new_steps).items():
        key = person_key(id_number, secret)
        index: PersonIndex | None = uow.get(key)
        if index is not None:
            others = {}
            for other_id in index.households:
                if other_id == household_id:
                    continue
                other: Household | None = uow.get(other_id)
                if other is not None:
                    others[other_id] = steps_of(other)
            check_person_conflicts(household_id, id_number, spans, others, scope)
            effects.append(partial(index.list_household, household_id, at))
        else:
            effects.append(partial(uow.add, PersonIndex.open(key, household_id, at)))
    return effects


def count_quota(
    uow: UnitOfWork,
    household_id: str,
    old_steps: list[Step],
    new_steps: list[Step],
    policies: PolicyBook,
    at: datetime,
) -> list[Effect]:
    """Refuse an approval beyond its county's yearly quota; the ledger changes. Every approval
    is counted in its county's ledger of the year, whether or not a quota is in force then:
    a quota recorded later counts the approvals recorded before it."""
    before, after = approval_of(old_steps), approval_of(new_steps)
    if before == after:
        return []
    effects: list[Effect] = []
    old_ledger = quota_key(before.division_code[:6], before.on.year) if before else None
    new_ledger = quota_key(after.division_code[:6], after.on.year) if after else None
    if old_ledger and old_ledger != new_ledger:
        ledger: QuotaLedger | None = uow.get(old_ledger)
        if ledger is not None:
            effects.append(partial(ledger.release, household_id, at))
    if after is not None and new_ledger is not None:
        ledger = uow.get(new_ledger)
        quota = policies.resolve(after.division_code, after.on).identification_quota
        if quota is not None:
            check_quota(after.division_code[:6], after.on.year, quota,
                        ledger.households if ledger else set(), household_id)
        if ledger is None:
            effects.append(partial(uow.add, QuotaLedger.open(new_ledger, household_id, at)))
        else:
            effects.append(partial(ledger.count, household_id, at))
    return effects


def same_active_ids(a: HouseholdState, b: HouseholdState) -> bool:
    """Whether two states keep the same ID numbers on the register."""
    if a.members is b.members and (a.status in ACTIVE) == (b.status in ACTIVE):
        return True  # the fold keeps the members' tuple unless the members change
    return _active_ids(a) == _active_ids(b)


def _active_ids(state: HouseholdState) -> frozenset[str]:
    """The ID numbers a state keeps on the register (as ``active_memberships`` counts them)."""
    return frozenset(m.id_number for m in state.members) if state.status in ACTIVE else frozenset()
