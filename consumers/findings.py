"""Finding changes on the household topic: carried by the message of the event that causes them.

A finding opens when a fact recorded late (or a correction, a retraction) shows that an
earlier decision broke a rule, and is resolved by a later decision (or a correction); see
:mod:`domain.findings`. The relay publishes the event that did it as ever, with one more
field, ``findings``: ``[{"change": "opened" | "resolved", …the finding}]``. Subscribers
that know nothing of findings read the same feed item as before; those that do act on it.
No message of another shape appears on the topic, and the order per household holds.

Only an event that lands before another in valid time, a correction, a retraction — or any
event of a household that already had one — can change a finding (the domain's
:func:`~domain.findings.first_disturbance`). The relay tells those apart from what it
read before (each household's version, latest effective date and whether it is
disturbed, kept per household), so the common event costs a dictionary lookup; only the
events of disturbed households fold the ledger, from the household's stored history.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import date
from typing import Any

from domain.events import META_EVENTS
from domain.findings import Ledger, first_disturbance, ledger
from domain.history import RecordedEvent
from service.registry import Registry


class FindingNotes:
    """Computes the ``findings`` field of a household event's message (empty: none changed)."""

    def __init__(self, registry: Registry, size: int = 200_000) -> None:
        self.registry = registry
        self.size = size
        #: household → (version, latest effective date, disturbed) after the last event read
        self._seen: OrderedDict[str, tuple[int, date, bool]] = OrderedDict()

    def changes(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        hid, version = str(item["household_id"]), int(item["version"])
        on = date.fromisoformat(item["effective_date"])
        seen = self._seen.get(hid)
        history: list[RecordedEvent] | None = None
        if seen is not None and seen[0] == version - 1:
            latest, disturbed = seen[1], seen[2]
        elif version == 1:
            latest, disturbed = on, False
        else:  # not read since this relay started: what the store says of the events before
            history = self._history(hid, version)
            prior = history[:-1]
            latest = max((e.body.effective_date for e in prior), default=on)
            disturbed = first_disturbance(prior) is not None
        disturbed = disturbed or item["type"] in META_EVENTS or on < latest
        self._remember(hid, (version, max(latest, on), disturbed))
        if not disturbed:
            return []
        history = history or self._history(hid, version)
        policies = self.registry.policy_book()
        return diff(ledger(history[:-1], policies), ledger(history, policies))

    def _history(self, household_id: str, version: int) -> list[RecordedEvent]:
        return self.registry.history(household_id)[:version]

    def _remember(self, household_id: str, value: tuple[int, date, bool]) -> None:
        self._seen[household_id] = value
        self._seen.move_to_end(household_id)
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)


def diff(before: Ledger, after: Ledger) -> list[dict[str, Any]]:
    """The findings that one event opened or resolved."""
    out: list[dict[str, Any]] = []
    for fid, found in after.items():
        was = before.get(fid)
        was_open = was is not None and was.resolved_by is None and not was.withdrawn
        if found.resolved_by is None and not found.withdrawn:
            if not was_open:
                out.append({"change": "opened", **found.as_dict()})
        elif was is None or was_open or was.resolved_by != found.resolved_by:
            out.append({"change": "resolved", **found.as_dict()})
    return out
