"""API tokens: issue, authenticate, list, revoke.

A token's secret is shown once; the store keeps the SHA-256 of it (the
:class:`~domain.tokens.AccessToken` aggregate's key, so that authenticating
is one lookup) and a public id (``tok_…``) in the :class:`TokenRegister`, by
which admins list and revoke tokens. Every token expires: 90 days after issue
unless asked otherwise, at most 365. A token's life is counted in wall-clock time
(``Registry.token_clock``), whatever moments the registry stamps its records with.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from eventsourcing.application import AggregateNotFoundError

from domain import access, divisions
from domain.errors import InvalidInput, NotFound, Unauthenticated
from domain.history import SYSTEM, Actor
from domain.tokens import TOKENS_KEY, AccessToken, TokenRegister
from service.unit_of_work import unit_of_work

if TYPE_CHECKING:
    from service.registry import Registry

DEFAULT_EXPIRY_DAYS = 90
MAX_EXPIRY_DAYS = 365


@dataclass(frozen=True)
class IssuedToken:
    """What issuing a token answers (the secret only here, once)."""

    id: str
    token: str
    name: str
    role: str
    division: str
    expires_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "token": self.token,
            "role": self.role,
            "division": self.division,
            "expires_at": self.expires_at.isoformat(timespec="microseconds"),
        }


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(
    registry: Registry,
    role: str,
    division: str = "",
    name: str | None = None,
    expires_in_days: int = DEFAULT_EXPIRY_DAYS,
    actor: Actor = SYSTEM,
) -> IssuedToken:
    """Issue a token; ``actor`` (an admin) may issue tokens inside its own scope only."""
    access.require_role(actor, access.Role.ADMIN)
    try:
        access.Role(role)
    except ValueError:
        raise InvalidInput(
            f"未知角色 {role!r}；可用角色：{', '.join(r.value for r in access.Role)}",
            detail_en=f"unknown role {role!r}; roles: {', '.join(r.value for r in access.Role)}",
            rule="unknown_role",
        ) from None
    if not divisions.is_scope(division):
        raise InvalidInput(
            "令牌的区划范围须为 2、4、6、9 或 12 位 ASCII 数字的代码前缀（或留空）",
            detail_en="a division scope is a 2, 4, 6, 9 or 12-digit code prefix (or empty)",
            rule="division_scope_format",
        )
    access.require_scope(actor, division)
    if not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise InvalidInput(
            f"令牌有效期须为 1 至 {MAX_EXPIRY_DAYS} 天",
            detail_en=f"expires_in_days is 1 to {MAX_EXPIRY_DAYS}",
            rule="token_expiry",
            errors=[{"loc": ["expires_in_days"], "msg": f"1 to {MAX_EXPIRY_DAYS}"}],
        )
    secret = "pvr_" + secrets.token_urlsafe(24)
    token_id = "tok_" + secrets.token_hex(8)
    secret_hash = hash_secret(secret)
    with unit_of_work(registry.store, registry.gate) as uow:
        at = uow.stamp()
        expires_at = registry.token_clock() + timedelta(days=expires_in_days)
        token = AccessToken.issue(secret_hash, name or f"{role}-{token_id}", role, division, at, token_id, expires_at)
        uow.add(token)
        register: TokenRegister | None = uow.get(TOKENS_KEY)
        if register is None:
            uow.add(TokenRegister.open(token_id, secret_hash, at))
        else:
            register.list_token(token_id, secret_hash, at)
        uow.commit()
    return IssuedToken(token_id, secret, token.name, role, division, expires_at)


def authenticate(registry: Registry, secret: str) -> Actor:
    """The actor of a bearer token, or 401: ``invalid_token``, ``token_revoked``, ``token_expired``."""
    # Read from the store on every request (a revocation holds at once, in every process),
    # replayed without the repository's per-event Protocol check: this runs for every request.
    key = f"token:{hash_secret(secret)}"
    token = registry.store.load_many([key])[key]
    if not isinstance(token, AccessToken):
        raise Unauthenticated("令牌无效（未知令牌）", detail_en="the token is unknown", rule="invalid_token")
    if token.revoked:
        raise Unauthenticated("令牌已被吊销", detail_en="the token has been revoked", rule="token_revoked")
    if token.expired(registry.token_clock()):
        raise Unauthenticated("令牌已过期", detail_en="the token has expired", rule="token_expired")
    return token.actor


def list_tokens(registry: Registry, actor: Actor = SYSTEM) -> list[dict[str, Any]]:
    """Every token inside ``actor``'s scope (an admin's), never its secret."""
    access.require_role(actor, access.Role.ADMIN)
    register = _register(registry)
    if register is None:
        return []
    now = registry.token_clock()
    found = registry.store.load_many([f"token:{h}" for h in register.tokens.values()])
    out = []
    for token_id, secret_hash in register.tokens.items():
        token = found.get(f"token:{secret_hash}")
        if isinstance(token, AccessToken) and access.in_scope(actor, token.division):
            out.append(_token_json(token_id, token, now))
    return out


def revoke_token(registry: Registry, token_id: str, actor: Actor = SYSTEM) -> dict[str, Any]:
    """Revoke a token by its id (an admin's, inside its scope); revoking twice is no error."""
    access.require_role(actor, access.Role.ADMIN)
    with unit_of_work(registry.store, registry.gate) as uow:
        register: TokenRegister | None = uow.get(TOKENS_KEY)
        secret_hash = register.tokens.get(token_id) if register else None
        token: AccessToken | None = uow.get(f"token:{secret_hash}") if secret_hash is not None else None
        # A token outside the caller's scope is as unknown to it as one that does not exist.
        if token is None or not access.in_scope(actor, token.division):
            raise NotFound(f"没有编号为 {token_id} 的令牌", detail_en=f"no token {token_id}", rule="unknown_token")
        token.revoke(uow.stamp())
        uow.commit()
        return _token_json(token_id, token, registry.token_clock())


def _register(registry: Registry) -> TokenRegister | None:
    try:
        return registry.repository.get(TOKENS_KEY)  # type: ignore[no-any-return]
    except AggregateNotFoundError:
        return None


def _token_json(token_id: str, token: AccessToken, now: datetime) -> dict[str, Any]:
    state = "revoked" if token.revoked else "expired" if token.expired(now) else "active"
    return {
        "id": token_id,
        "name": token.name,
        "role": token.role,
        "division": token.division,
        "issued_at": token.created_on.isoformat(timespec="microseconds"),
        "expires_at": token.expires_at.isoformat(timespec="microseconds") if token.expires_at else None,
        "revoked_at": token.revoked_at.isoformat(timespec="microseconds") if token.revoked_at else None,
        "state": state,
    }
