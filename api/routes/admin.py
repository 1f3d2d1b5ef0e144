"""Reference data for admins: ``POST /v1/tokens``, ``POST /v1/policies``; and ``GET /v1/policies``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from api.auth import ActorDep, RegistryDep, require_reader
from api.routes.common import problem_responses
from api.schemas import PolicyRecorded, ResolvedPolicyOut, TokenOut, TokenRequest
from domain.access import Role, require_role, require_scope
from domain.divisions import PREFIX_PATTERN
from domain.errors import InvalidInput
from domain.policy import PolicyVersion

router = APIRouter(tags=["admin"])


@router.post(
    "/v1/tokens",
    status_code=201,
    response_model=TokenOut,
    responses=problem_responses(401, 403, 422),
    summary="Issue an API token (admin)",
)
def create_token(body: Annotated[TokenRequest, Body()], actor: ActorDep, registry: RegistryDep) -> JSONResponse:
    """The same as `povreg token create`: the secret is returned once; only its hash is stored.
    A scoped admin issues tokens inside its own scope only."""
    require_role(actor, Role.ADMIN)
    require_scope(actor, body.division)
    secret = registry.create_token(body.role.value, body.division, body.name)
    return JSONResponse({"token": secret, "role": body.role.value, "division": body.division}, status_code=201)


@router.post(
    "/v1/policies",
    status_code=201,
    response_model=PolicyRecorded,
    responses=problem_responses(401, 403, 422),
    summary="Record a policy version for a jurisdiction (admin)",
)
def record_policy(body: Annotated[PolicyVersion, Body()], actor: ActorDep, registry: RegistryDep) -> JSONResponse:
    """A jurisdiction is a division-code prefix (`""` = national); each setting left out
    is inherited. Policy versions are recorded with both time axes, like events."""
    recorded = registry.record_policy(body, actor=actor)
    assert recorded.recorded_at is not None
    return JSONResponse(
        {
            **body.model_dump(mode="json"),
            "recorded_at": recorded.recorded_at.isoformat(timespec="microseconds"),
        },
        status_code=201,
    )


@router.get(
    "/v1/policies",
    response_model=ResolvedPolicyOut,
    responses=problem_responses(401, 403, 422),
    summary="The rules in force for a division on a date",
)
def resolved_policy(
    actor: ActorDep,
    registry: RegistryDep,
    division: Annotated[
        str, Query(pattern=PREFIX_PATTERN, description="a division code or prefix")
    ],
    on: Annotated[date | None, Query(description="YYYY-MM-DD; default today")] = None,
) -> JSONResponse:
    """Each rule with the jurisdiction, effective date and source it comes from."""
    require_reader(actor, division)
    day = on or registry.today()
    try:
        policy = registry.policy_book().resolve(division, day)
    except LookupError as exc:
        raise InvalidInput(str(exc), rule="no_policy") from None
    out = {k: v for k, v in policy.__dict__.items() if k != "provenance"}
    out["post_exit_continuation"] = policy.post_exit_continuation.model_dump(mode="json")
    out["provenance"] = {
        name: {"jurisdiction": j, "effective_date": d.isoformat(), "source": s}
        for name, (j, d, s) in policy.provenance.items()
    }
    return JSONResponse({"division": division, "on": day.isoformat(), **out})
