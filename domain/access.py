"""Who may do what (docs/api.md, "Who may do what"): roles and division scopes, as pure rules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from domain.errors import DomainError
from domain.events import APPROVAL_EVENTS, EventCorrected, EventRetracted
from domain.history import Actor, RecordedEvent


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
            f"区划 {division_code} 超出本令牌的权限范围({actor.division or '全国'})",
            detail_en=f"division {division_code} is outside this token's scope ({actor.division or 'everywhere'})",
            rule="out_of_scope",
        )


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        raise Forbidden(
            f"角色 {actor.role!r} 无权执行此操作;需要: {', '.join(roles)}",
            detail_en=f"role {actor.role!r} may not do this; needs one of: {', '.join(roles)}",
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


def change_target(history: Sequence[RecordedEvent], target_event_id: str) -> RecordedEvent | None:
    """The event whose type governs a correction or retraction of ``target_event_id``:
    the target itself, or, for a change of record, the event that change targeted."""
    by_id = {e.event_id: e for e in history}
    target = by_id.get(target_event_id)
    while target is not None and isinstance(target.body, EventCorrected | EventRetracted):
        target = by_id.get(target.body.target_event_id)
    return target


def may_change(actor: Actor, target_type: str, division_codes: Iterable[str]) -> None:
    """Correcting or retracting an event is recording it anew: it needs a role that may
    record the target's type (an approver's decision only by an approver; a fact by a
    role that records facts), within the scope of every division the target touched."""
    roles = (Role.APPROVER,) if target_type in APPROVAL_EVENTS else (Role.RECORDER, Role.APPROVER)
    if actor.role not in roles:
        raise Forbidden(
            f"角色 {actor.role} 无权更正或撤销 {target_type}：只有可以录入该类事件的角色"
            f"（{'、'.join(roles)}）才能更正或撤销它",
            rule="correction_needs_role",
            detail_en=f"role {actor.role!r} may not correct or retract a {target_type}: only a role that "
            f"may record it ({', '.join(roles)}) may",
            target_type=target_type,
        )
    for code in division_codes:
        require_scope(actor, code)
