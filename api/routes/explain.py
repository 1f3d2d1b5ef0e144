"""``GET /v1/households/{id}/why``: the status then and the minimal chain behind it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.auth import ActorDep, RegistryDep, masked_for
from api.routes.common import AsOf, HouseholdPath, KnownAt, moment, problem_responses
from api.routes.queries import household_scope, query_errors, read_model_of
from api.schemas import Why
from domain.errors import NotFound
from domain.explain import explain

router = APIRouter(tags=["queries"])


@router.get(
    "/v1/households/{household_id}/why",
    response_model=Why,
    responses=problem_responses(401, 403, 404, 422),
    summary="Why the household had its status on a date, as known at a moment",
)
def why(
    household_id: HouseholdPath,
    actor: ActorDep,
    registry: RegistryDep,
    request: Request,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> JSONResponse:
    """The decision that set the status (event, who, when recorded), the policy checks that
    admitted it with the sources of their settings (as known when it was decided), the facts
    they read, the corrections and retractions known by then of events effective by `as_of`,
    and the card's open findings. `404` when the household is not on the register then."""
    household_scope(actor, registry, household_id)
    day = as_of or registry.today()
    known = moment(known_at, registry)
    found = explain(registry.history(household_id), day, known, registry.policy_book())
    if found is None:
        raise NotFound(
            f"household {household_id} is not on the register as of {day}"
            + (f" as known at {known.isoformat()}" if known else ""),
            rule="not_on_register",
        )
    with query_errors():
        card = read_model_of(request).card(household_id, day, known) or {}
    found["findings"] = [f for f in card.get("findings", []) if f.get("state", "open") == "open"]
    return JSONResponse(masked_for(actor, found))
