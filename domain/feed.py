"""The shape of a household event outside the process: the feed item.

``GET /v1/events`` serves it and the Kafka relay publishes the same JSON
(docs/kafka.md: the value is the same JSON as a feed item, the position a header).
"""

from __future__ import annotations

from typing import Any

from domain.events import event_json
from domain.history import RecordedEvent

ENVELOPE = ("type", "effective_date", "reason", "evidence")


def feed_item(position: int, event: RecordedEvent) -> dict[str, Any]:
    body = event_json(event.body)
    return {
        "position": position,
        "event_id": event.event_id,
        "household_id": event.household_id,
        "version": event.version,
        "type": event.type,
        "effective_date": body["effective_date"],
        "recorded_at": event.recorded_at.isoformat(timespec="microseconds"),
        "recorded_by": event.recorded_by.as_dict(),
        "data": body,
    }
