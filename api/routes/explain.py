"""``GET /v1/households/{id}/why``: the status then and the minimal chain behind it."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Read
from api.routes.common import HouseholdPath, problem_responses, query_errors
from api.schemas.households import Why
from domain.explain import explain

router = APIRouter(prefix="/v1/households", tags=["queries"])


@router.get(
    "/{household_id}/why",
    response_model=Why,
    responses=problem_responses(401, 403, 404, 422),
    summary="Why the household had its status on a date, as known at a moment",
)
def why(household_id: HouseholdPath, ask: Read) -> Why:
    """The decision that set the status (event, who, when recorded), the policy checks that
    admitted it with the sources of their settings (as known when it was decided), the facts
    they read, the corrections and retractions known by then of events effective by `as_of`,
    and the card's open findings. `404` when the household is not on the register then."""
    ask.require_household(household_id)
    registry = ask.registry
    # The explanation folds the household's events (the chain of decisions and the policy
    # checks they passed); the read model has the card's findings.
    found = explain(registry.history(household_id), ask.as_of, ask.known_at, registry.policy_book())
    if found is None:
        raise ask.not_on_register(household_id)
    with query_errors():
        card = ask.read_model.card(household_id, ask.as_of, ask.known_at) or {}
    found["findings"] = [f for f in card.get("findings", []) if f.get("state", "open") == "open"]
    return Why.model_validate(ask.masked(found))
