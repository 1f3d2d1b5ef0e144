"""Reading the registry's notification log in pages, decoded once for every projection.

The notification log (the eventsourcing library's ``stored_events`` table, in
notification order) is the projections' only input. :func:`read_page` returns
:class:`Entry` objects: the raw stored row (for the integrity chain) and, for
the kinds the projections use, the decoded event: household events as the
domain's :class:`~povreg.domain.history.RecordedEvent`, division versions and
policy versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from povreg.application import HOUSEHOLD_TOPIC_PREFIX, Registry, to_recorded_event
from povreg.domain.history import RecordedEvent
from povreg.domain.policy import PolicyVersion
from povreg.projections.integrity import as_bytes

DIVISION_TOPIC_PREFIX = "povreg.domain.household:Division."
POLICY_TOPIC_PREFIX = "povreg.domain.household:PolicyRegister."


@dataclass(frozen=True)
class DivisionChange:
    code: str
    name: str
    rural_population: int
    effective_date: date
    recorded_at: datetime
    registered: bool


@dataclass(frozen=True)
class PolicyChange:
    version: PolicyVersion
    recorded_at: datetime


@dataclass(frozen=True)
class Entry:
    """One notification: the stored row and what it means to the projections."""

    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes
    household: RecordedEvent | None = None
    division: DivisionChange | None = None
    policy: PolicyChange | None = None


def decode(registry: Registry, notification: Any) -> Entry:
    topic: str = notification.topic
    base = {
        "position": notification.id,
        "originator_id": str(notification.originator_id),
        "originator_version": notification.originator_version,
        "topic": topic,
        "state": as_bytes(notification.state),
    }
    if topic.startswith(HOUSEHOLD_TOPIC_PREFIX):
        return Entry(**base, household=to_recorded_event(registry.mapper.to_domain_event(notification)))
    if topic.startswith(DIVISION_TOPIC_PREFIX):
        ev: Any = registry.mapper.to_domain_event(notification)
        change = DivisionChange(
            code=str(ev.originator_id).removeprefix("division:"),
            name=ev.name,
            rural_population=ev.rural_population,
            effective_date=date.fromisoformat(ev.effective_date),
            recorded_at=ev.timestamp,
            registered=ev.originator_version == 1,
        )
        return Entry(**base, division=change)
    if topic.startswith(POLICY_TOPIC_PREFIX):
        policy: Any = registry.mapper.to_domain_event(notification)
        return Entry(**base, policy=PolicyChange(PolicyVersion.model_validate(policy.version), policy.timestamp))
    return Entry(**base)


def read_page(registry: Registry, after: int, limit: int) -> list[Entry]:
    """Up to ``limit`` notifications with position > ``after``, decoded."""
    notifications = registry.recorder.select_notifications(start=after + 1, limit=limit)
    return [decode(registry, n) for n in notifications]


def head(registry: Registry) -> int:
    """The log's last position (0 when empty)."""
    return registry.recorder.max_notification_id() or 0
