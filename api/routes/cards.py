"""A household's queries: its card, its timeline and its audit trail.

They answer from the read models (:mod:`projections`), never by replaying events per
request; the scope check reads them too.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import AUDITORS
from api.deps import Read, ReadKnownAt, ReadNow, unknown_household
from api.routes.common import HouseholdPath, problem_responses, query_errors
from api.schemas.households import Audit, Card, StatusInterval
from domain.errors import NotFound
from projections import labels

router = APIRouter(prefix="/v1/households", tags=["queries"])


@router.get(
    "/{household_id}",
    response_model=Card,
    responses=problem_responses(401, 403, 404, 422),
    summary="The household card as of a date, as known at a moment",
)
def card(household_id: HouseholdPath, ask: Read) -> Card:
    """`404` when the household is not on the register as of / known at then."""
    ask.require_household(household_id)
    with query_errors():
        found = ask.read_model.card(household_id, ask.as_of, ask.known_at)
    if found is None:
        raise ask.not_on_register(household_id)
    return Card.model_validate(ask.masked(found))


@router.get(
    "/{household_id}/timeline",
    response_model=list[StatusInterval],
    response_model_exclude_unset=True,  # `findings` only on intervals that have some
    responses=problem_responses(401, 403, 404, 422),
    summary="Valid-time status intervals, as known at a moment",
)
def timeline(household_id: HouseholdPath, ask: ReadKnownAt) -> list[StatusInterval]:
    """`[{"status", "from", "to"}]`, `to` exclusive (null = open). `404` when nothing of the
    household was recorded by `known_at`."""
    ask.require_household(household_id)
    with query_errors():
        found = ask.read_model.timeline(household_id, ask.known_at)
    if found is None:
        raise NotFound(
            f"贫困户 {household_id} 在 {ask.known_at.isoformat() if ask.known_at else '此时'} 尚未登记",
            detail_en=f"household {household_id} was not yet recorded at "
            f"{ask.known_at.isoformat() if ask.known_at else 'now'}",
            rule="not_on_register",
        )
    return [StatusInterval.model_validate(interval) for interval in labels.timeline(found)]


@router.get(
    "/{household_id}/audit",
    response_model=Audit,
    responses=problem_responses(401, 403, 404),
    summary="The audit trail of a household (investigators, admins)",
)
def audit(household_id: HouseholdPath, ask: ReadNow) -> Audit:
    """Every event with both times, who recorded it, reason, evidence, its data and, for
    corrections and retractions, what they changed; plus the integrity proof."""
    ask.require_household(household_id, *AUDITORS)
    with query_errors():
        found = ask.read_model.audit(household_id)
    if found is None:
        raise unknown_household(household_id)
    return Audit.model_validate(ask.masked(found))
