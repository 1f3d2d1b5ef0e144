"""Bearer tokens → actors, and who may read what (docs/api.md, "Who may do what").

Writes are authorised by the registry itself (:func:`domain.access.may_record`,
``put_division``, ``record_policy``); this module adds the read side:

- ``subscriber`` reads the event feed only;
- ``investigator`` reads everything in its scope, audit trails included;
- ``admin`` reads everything in its scope and manages divisions, policies, tokens;
- ``recorder`` and ``approver`` read cards, timelines, rosters, reports and
  divisions in their scope (not audit trails, not the feed).

A token scoped to a division prefix sees only households and divisions under it.
Personal information is masked for every role but investigator and admin.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Unauthorized
from domain.access import Role, require_role, require_scope, sees_pii
from domain.history import Actor
from domain.masking import mask
from service.registry import Registry

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A token from `povreg token create --role ROLE [--division PREFIX]` (or POST /v1/tokens).",
)

READERS = (Role.RECORDER, Role.APPROVER, Role.INVESTIGATOR, Role.ADMIN)
AUDITORS = (Role.INVESTIGATOR, Role.ADMIN)
FEED_READERS = (Role.SUBSCRIBER, Role.INVESTIGATOR, Role.ADMIN)
WRITERS = (Role.RECORDER, Role.APPROVER)


def registry_of(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    if credentials is None or not credentials.credentials:
        raise Unauthorized(
            "此接口需要 'Authorization: Bearer <令牌>'",
            detail_en="this endpoint needs 'Authorization: Bearer <token>'", rule="missing_token",
        )
    # 401 with the rule that refused it: invalid_token, token_revoked or token_expired.
    return registry_of(request).authenticate(credentials.credentials)


ActorDep = Annotated[Actor, Depends(current_actor)]
RegistryDep = Annotated[Registry, Depends(registry_of)]


def require_reader(actor: Actor, division_code: str, *roles: Role) -> None:
    """403 unless ``actor`` has one of ``roles`` (default: the reading roles) and
    ``division_code`` is inside its scope."""
    require_role(actor, *(roles or READERS))
    require_scope(actor, division_code)


def masked_for(actor: Actor, data: Any) -> Any:
    """``data`` as ``actor`` may see it: personal information masked unless investigator/admin."""
    return data if sees_pii(actor) else mask(data)


__all__ = ["ActorDep", "RegistryDep", "Role", "bearer", "current_actor", "masked_for", "require_reader"]
