"""The household events of the notification log, in recording order."""

from __future__ import annotations

from typing import Any

from eventsourcing.application import Application

from domain.aggregate import STORED_TOPIC_MODULE
from domain.history import RecordedEvent
from domain.household import Household

#: The stored topics of household events start with this (the log also holds the indexes').
HOUSEHOLD_TOPIC_PREFIX = f"{STORED_TOPIC_MODULE}:Household."


def feed(app: Application[str], after: int = 0, limit: int = 100) -> list[tuple[int, RecordedEvent]]:
    """Household events in recording order after notification ``after``."""
    items: list[tuple[int, RecordedEvent]] = []
    start = after + 1
    while len(items) < limit:
        page = app.recorder.select_notifications(start=start, limit=max(limit, 100))  # type: ignore[attr-defined]
        if not page:
            break
        for n in page:
            if n.topic.startswith(HOUSEHOLD_TOPIC_PREFIX):
                items.append((n.id, to_recorded_event(app.mapper.to_domain_event(n))))
                if len(items) == limit:
                    break
        start = page[-1].id + 1
    return items


def to_recorded_event(ev: Any) -> RecordedEvent:
    """The RecordedEvent of a stored Household event (as the notification log decodes it)."""
    holder = Household.__new__(Household)
    holder.history = []
    Household.Event.apply(ev, holder)
    return holder.history[0]
