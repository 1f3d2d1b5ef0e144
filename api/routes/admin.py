"""Reference data for admins: tokens (``POST``/``GET /v1/tokens``, ``DELETE /v1/tokens/{id}``),
``POST /v1/policies``; and ``GET /v1/policies``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response
from fastapi.responses import JSONResponse

from api.auth import ActorDep, RegistryDep, require_reader
from api.routes.common import problem_responses
from api.schemas import PolicyRecorded, ResolvedPolicyOut, TokenList, TokenOut, TokenRequest
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
    A scoped admin issues tokens inside its own scope only. A token expires after
    `expires_in_days` (default 90, at most 365)."""
    require_role(actor, Role.ADMIN)
    require_scope(actor, body.division)
    issued = registry.issue_token(body.role.value, body.division, body.name, body.expires_in_days, actor=actor)
    return JSONResponse(issued.as_dict(), status_code=201)


@router.get(
    "/v1/tokens",
    response_model=TokenList,
    responses=problem_responses(401, 403),
    summary="The tokens inside the caller's scope (admin); never their secrets",
)
def list_tokens(actor: ActorDep, registry: RegistryDep) -> JSONResponse:
    """Each token's id, name, role, scope, when it was issued, expires or was revoked, and its
    state (`active`, `expired`, `revoked`)."""
    return JSONResponse({"tokens": registry.list_tokens(actor)})


@router.delete(
    "/v1/tokens/{token_id}",
    status_code=204,
    responses=problem_responses(401, 403, 404),
    summary="Revoke a token (admin, inside its scope)",
)
def revoke_token(token_id: Annotated[str, Path(min_length=1, max_length=64)], actor: ActorDep,
                 registry: RegistryDep) -> Response:
    """From then on the token gets 401 (rule `token_revoked`). Revoking twice is no error."""
    registry.revoke_token(token_id, actor)
    return Response(status_code=204)


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
