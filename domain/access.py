"""Who may do what (API.md, "Auth"): roles and division scopes, as pure rules."""

from __future__ import annotations

from enum import StrEnum

from domain.errors import DomainError
from domain.events import APPROVAL_EVENTS
from domain.history import Actor


class Role(StrEnum):
    RECORDER = "recorder"
    APPROVER = "approver"
    INVESTIGATOR = "investigator"
    SUBSCRIBER = "subscriber"
    ADMIN = "admin"


class Forbidden(DomainError):
    """The actor's role may not do this, or the division is outside its scope."""


#: Roles that see personal information unmasked.
SEES_PII = frozenset({Role.INVESTIGATOR, Role.ADMIN})


def in_scope(actor: Actor, division_code: str) -> bool:
    return division_code.startswith(actor.division)


def require_scope(actor: Actor, division_code: str) -> None:
    if not in_scope(actor, division_code):
        raise Forbidden(
            f"division {division_code} is outside this token's scope ({actor.division or 'everywhere'})",
            rule="out_of_scope",
        )


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        raise Forbidden(
            f"role {actor.role!r} may not do this; needs one of: {', '.join(roles)}",
            rule="wrong_role",
        )


def may_record(actor: Actor, event_type: str, division_code: str) -> None:
    """Recorders submit events in scope except approvals; approvers also approvals."""
    if event_type in APPROVAL_EVENTS:
        require_role(actor, Role.APPROVER)
    else:
        require_role(actor, Role.RECORDER, Role.APPROVER)
    require_scope(actor, division_code)


def sees_pii(actor: Actor) -> bool:
    return actor.role in SEES_PII
