"""Restatement messages: what the relay tells subscribers when a recording changes the past.

For each household event of the notification log, in log order, :class:`RestatementFeed`
computes the restatements it causes (:func:`domain.restate.restatements`: the valid-time
ranges before its recording day whose status it changed) and encodes each as a message for
``<topic>.restatements``, keyed by household like the events, so a household's
restatements arrive in order on one partition, after the event that caused them.

Each message has a ``restatement_id`` (``<event_id>/<n>``): a relay that restarts re-sends
the events it had not yet recorded as acknowledged, and their restatements with them, under
the same ids — a subscriber applies each id once. A household's history before each event
is kept in a bounded cache, and read from the store the first time a household is met (or
after it was evicted): only events that can change a status are folded.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson

from domain.events import META_EVENTS
from domain.history import RecordedEvent
from domain.restate import Restatement, finding_restatements, restatements
from service.feed import HOUSEHOLD_TOPIC_PREFIX, to_recorded_event
from service.registry import Registry

MESSAGE_TYPE = "restatement"
SUFFIX = ".restatements"

#: Events that change a status: only these (and corrections and retractions) can restate the past.
STATUS_EVENTS = frozenset({
    "IdentificationProposed", "IdentificationApproved", "IdentificationRejected", "ExitProposed",
    "ExitConfirmed", "ExitWithdrawn", "ReturnedToPoverty", "Revisited", "RemovedAsIneligible", "HouseholdClosed",
})


def restatement_topic(topic: str) -> str:
    return topic + SUFFIX


def message(r: Restatement, n: int, position: int) -> dict[str, Any]:
    return {"type": MESSAGE_TYPE, "restatement_id": f"{r.event_id}/{n}", "position": position, **r.as_dict()}


_FIELDS = {"restatement_id": str, "household_id": str, "division_code": str, "valid_from": str, "valid_to": str,
           "event_id": str, "event_type": str, "recorded_at": str, "position": int}


def decode_restatement(value: bytes | None) -> dict[str, Any]:
    """A restatement message's value, checked; raises PoisonMessage for anything else."""
    from consumers.messages import PoisonMessage

    try:
        item = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise PoisonMessage(f"undecodable JSON: {exc}", kind="decode") from None
    if not isinstance(item, dict) or item.get("type") != MESSAGE_TYPE:
        raise PoisonMessage("not a restatement message", kind="schema")
    wrong = [name for name, kind in _FIELDS.items() if not isinstance(item.get(name), kind)]
    if wrong:
        raise PoisonMessage(f"schema-invalid restatement: {', '.join(wrong)}", kind="schema")
    return item


class RestatementFeed:
    """The restatement messages of household notifications, given in log order."""

    def __init__(self, registry: Registry, cache_size: int = 50_000) -> None:
        self.registry = registry
        self.tz = registry.settings.tz
        self.cache_size = cache_size
        self._histories: OrderedDict[str, list[RecordedEvent]] = OrderedDict()

    def messages(self, notification: Any) -> list[bytes]:
        """The values to publish for ``notification`` (none for most events)."""
        if not notification.topic.startswith(HOUSEHOLD_TOPIC_PREFIX):
            return []
        event = to_recorded_event(self.registry.mapper.to_domain_event(notification))
        history = self._history_before(event)
        found: list[Restatement] = []
        if self._may_restate(event):
            found = restatements(history, event, self.tz)
        if self._may_show_findings(event):
            found += finding_restatements(history, event, self.registry.policy_book(), self.tz)
        history.append(event)
        self._histories[event.household_id] = history
        self._histories.move_to_end(event.household_id)
        while len(self._histories) > self.cache_size:
            self._histories.popitem(last=False)
        return [orjson.dumps(message(r, i, notification.id)) for i, r in enumerate(found, start=1)]

    def _may_restate(self, event: RecordedEvent) -> bool:
        body = event.body
        if body.type in META_EVENTS:
            return True
        return body.type in STATUS_EVENTS and body.effective_date < event.recorded_at.astimezone(self.tz).date()

    def _may_show_findings(self, event: RecordedEvent) -> bool:
        """A finding of the past comes only from a change of record or an event recorded late."""
        body = event.body
        return body.type in META_EVENTS or body.effective_date < event.recorded_at.astimezone(self.tz).date()

    def _history_before(self, event: RecordedEvent) -> list[RecordedEvent]:
        cached = self._histories.get(event.household_id)
        if cached is not None and (cached[-1].version if cached else 0) == event.version - 1:
            return cached
        if event.version == 1:
            return []
        return [e for e in self.registry.history(event.household_id) if e.version < event.version]


__all__ = ["MESSAGE_TYPE", "RestatementFeed", "decode_restatement", "restatement_topic"]
