"""A household's recorded history and what of it is in effect at a given moment.

Events are kept in recording order (their ``version``). Corrections and
retractions never change the events they target; :func:`effective_events`
applies those recorded by ``known_at`` and returns the household's events as
then believed, in valid-time order. Every read model and every command check is
built on this one function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from domain.errors import InvalidInput
from domain.events import (
    META_EVENTS,
    EventBody,
    EventCorrected,
    EventRetracted,
    invalid_from,
)


@dataclass(frozen=True)
class Actor:
    """Who recorded an event: a token's name, its role and its division scope.

    ``token_id`` says which token acted (idempotency records belong to it); it is
    not part of what an event records of its actor, nor of an actor's equality."""

    name: str
    role: str
    division: str = ""
    token_id: str = field(default="", compare=False, repr=False)

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "role": self.role, "division": self.division}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Actor:
        return cls(name=data["name"], role=data["role"], division=data.get("division", ""))


SYSTEM = Actor(name="system", role="admin")


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored: the payload plus the envelope the store gives it."""

    event_id: str
    household_id: str
    version: int
    recorded_at: datetime
    recorded_by: Actor
    body: EventBody

    @property
    def type(self) -> str:
        return self.body.type


@dataclass(frozen=True)
class EffectiveEvent:
    """A base event as believed at some moment: corrections applied."""

    original: RecordedEvent
    body: EventBody
    corrected_by: tuple[str, ...] = field(default=())

    @property
    def event_id(self) -> str:
        return self.original.event_id

    @property
    def version(self) -> int:
        return self.original.version

    @property
    def effective_date(self):  # type: ignore[no-untyped-def]
        return self.body.effective_date


def apply_changes(body: EventBody, changes: dict[str, Any]) -> EventBody:
    """The body with ``changes`` applied, validated as a whole."""
    bad = sorted(set(changes) - set(type(body).model_fields) | (set(changes) & body.uncorrectable))
    if bad:
        raise InvalidInput(
            f"{body.type} 没有可更正的字段 {', '.join(bad)}",
            detail_en=f"{body.type} has no correctable field(s) {', '.join(bad)}",
            rule="correction_fields",
            errors=[{"loc": ["changes", name], "msg": "not a correctable field"} for name in bad],
        )
    data = body.model_dump(mode="json")
    data.update(changes)
    try:
        return type(body).model_validate(data)
    except ValidationError as exc:
        raise invalid_from(exc, f"the corrected {body.type} is invalid") from None


def effective_events(
    history: Sequence[RecordedEvent], known_at: datetime | None = None
) -> list[EffectiveEvent]:
    """The household's events as believed at ``known_at``, in valid-time order.

    Only events recorded at or before ``known_at`` count (all of them when it is
    None). Retracted events drop out; corrections apply in recording order. Ties
    on ``effective_date`` are broken by recording order.
    """
    known = [e for e in history if known_at is None or e.recorded_at <= known_at]
    retracted = {e.body.target_event_id for e in known if isinstance(e.body, EventRetracted)}
    corrections: dict[str, list[RecordedEvent]] = {}
    for e in known:
        if isinstance(e.body, EventCorrected) and e.event_id not in retracted:
            corrections.setdefault(e.body.target_event_id, []).append(e)
    result = []
    for e in known:
        if e.body.type in META_EVENTS or e.event_id in retracted:
            continue
        body = e.body
        applied = corrections.get(e.event_id, [])
        for c in applied:
            assert isinstance(c.body, EventCorrected)
            body = apply_changes(body, c.body.changes)
        result.append(EffectiveEvent(e, body, tuple(c.event_id for c in applied)))
    result.sort(key=lambda ev: (ev.body.effective_date, ev.version))
    return result
