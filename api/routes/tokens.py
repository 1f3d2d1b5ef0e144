"""Tokens (admin): ``POST /v1/tokens`` issues one, ``GET /v1/tokens`` lists them,
``DELETE /v1/tokens/{id}`` revokes one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Response

from api.auth import ActorDep, RegistryDep
from api.routes.common import problem_responses
from api.schemas.admin import TokenList, TokenOut, TokenRequest
from domain.access import Role, require_role, require_scope

router = APIRouter(prefix="/v1/tokens", tags=["admin"])


@router.post(
    "",
    status_code=201,
    response_model=TokenOut,
    responses=problem_responses(401, 403, 422),
    summary="Issue an API token (admin)",
)
def create_token(body: Annotated[TokenRequest, Body()], actor: ActorDep, registry: RegistryDep) -> TokenOut:
    """The same as `povreg token create`: the secret is returned once; only its hash is stored.
    A scoped admin issues tokens inside its own scope only. A token expires after
    `expires_in_days` (default 90, at most 365)."""
    require_role(actor, Role.ADMIN)
    require_scope(actor, body.division)
    issued = registry.issue_token(body.role.value, body.division, body.name, body.expires_in_days, actor=actor)
    return TokenOut.model_validate(issued.as_dict())


@router.get(
    "",
    response_model=TokenList,
    responses=problem_responses(401, 403),
    summary="The tokens inside the caller's scope (admin); never their secrets",
)
def list_tokens(actor: ActorDep, registry: RegistryDep) -> TokenList:
    """Each token's id, name, role, scope, when it was issued, expires or was revoked, and its
    state (`active`, `expired`, `revoked`)."""
    return TokenList.model_validate({"tokens": registry.list_tokens(actor)})


@router.delete(
    "/{token_id}",
    status_code=204,
    responses=problem_responses(401, 403, 404),
    summary="Revoke a token (admin, inside its scope)",
)
def revoke_token(token_id: Annotated[str, Path(min_length=1, max_length=64)], actor: ActorDep,
                 registry: RegistryDep) -> Response:
    """From then on the token gets 401 (rule `token_revoked`). Revoking twice is no error."""
    registry.revoke_token(token_id, actor)
    return Response(status_code=204)
