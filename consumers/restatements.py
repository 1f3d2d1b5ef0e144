"""Restatement messages: what the relay tells subscribers when a recording changes the past.

For each household event of the notification log, in log order, the relay computes the
restatements it causes (:func:`domain.restate.restatements`: the valid-time ranges before its
recording day whose status it changed; :func:`domain.restate.finding_restatements`: those whose
findings it changed; consumers/folds.py) and encodes each as a message for
``<topic>.restatements``, keyed by household like the events, so a household's restatements
arrive in order on one partition, after the event that caused them.

Each message has a ``restatement_id`` (``<event_id>/<n>``): a relay that restarts re-sends
the events it had not yet recorded as acknowledged, and their restatements with them, under
the same ids — a subscriber applies each id once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from domain.restate import Restatement

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


def values(found: Sequence[Restatement], position: int) -> list[bytes]:
    """The messages of the restatements ``found`` for the event at ``position``, in order."""
    return [orjson.dumps(message(r, n, position)) for n, r in enumerate(found, start=1)]


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


__all__ = ["MESSAGE_TYPE", "STATUS_EVENTS", "decode_restatement", "message", "restatement_topic", "values"]
