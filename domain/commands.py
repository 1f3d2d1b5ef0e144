"""What the registry is asked to record, and what it answers when it accepts.

Plain values: the entry points (CLI, HTTP, importers, simulation) build a
:class:`Command`; the application service answers with a :class:`Receipt` or
the :class:`~domain.errors.DomainError` that refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from domain.history import Actor


@dataclass(frozen=True)
class Command:
    """A request to record one household event."""

    payload: dict[str, Any]
    actor: Actor
    household_id: str | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Receipt:
    """The answer to an accepted command (the body of the HTTP API's ``201``)."""

    household_id: str
    event_id: str
    type: str
    version: int
    effective_date: date
    recorded_at: datetime
    status: str | None
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "household_id": self.household_id,
            "event_id": self.event_id,
            "type": self.type,
            "version": self.version,
            "effective_date": self.effective_date.isoformat(),
            "recorded_at": self.recorded_at.isoformat(timespec="microseconds"),
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], replayed: bool = False) -> Receipt:
        return cls(
            household_id=data["household_id"],
            event_id=data["event_id"],
            type=data["type"],
            version=data["version"],
            effective_date=date.fromisoformat(data["effective_date"]),
            recorded_at=datetime.fromisoformat(data["recorded_at"]),
            status=data["status"],
            replayed=replayed,
        )
