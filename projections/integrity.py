"""Hashes that make the trail tamper-evident.

Three digests, all SHA-256 in lowercase hex:

* ``raw_hash`` of every stored row of the event store (every notification,
  household or not): ``originator_id \\0 originator_version \\0 topic \\0 state``,
  ``state`` being the stored bytes exactly as the library wrote them (encrypted
  when a cipher key is configured). Any direct change to a row changes it.
* ``event_hash`` of an event's canonical JSON (:func:`canonical`): event id,
  household, version, type, effective date, recording moment (UTC, microseconds),
  actor and data, keys sorted, no spaces, UTF-8. Anyone holding an audit trail
  served by the API can recompute it without access to the database.
* two chains: per household, ``h_v = sha256(h_{v-1} | event_hash_v)`` from
  ``h_0 = "0"*64``; and global over the whole log in notification order,
  ``c_p = sha256(c_prev | raw_hash_p | event_hash_p)``. Changing, inserting or
  deleting one row breaks every later link; the head ``(position, c_p)`` can be
  written down outside the database (``povreg projections anchor``) so even a
  rewrite of the whole chain table is detected by ``povreg verify --anchors``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from domain.events import event_json
from domain.history import RecordedEvent
from projections import jsontext

GENESIS = "0" * 64


def sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def as_bytes(state: Any) -> bytes:
    """A stored ``state`` as bytes (a row edited by hand may come back as text)."""
    return state.encode() if isinstance(state, str) else bytes(state)


def raw_hash(originator_id: str, originator_version: int, topic: str, state: Any) -> str:
    h = hashlib.sha256()
    h.update(f"{originator_id}\0{originator_version}\0{topic}\0".encode())
    h.update(as_bytes(state))
    return h.hexdigest()


def moment_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(record: dict[str, Any], *, finite: bool = False) -> bytes:
    """Keys sorted, no spaces, UTF-8 (as ``json.dumps(sort_keys=True, …)`` writes it);
    ``finite``: the record surely holds no NaN or infinity (then orjson writes it)."""
    return jsontext.canonical(record, finite=finite)


def event_record(event: RecordedEvent) -> dict[str, Any]:
    """The fields of a household event that its hash covers (JSON types only)."""
    return {
        "event_id": event.event_id,
        "household_id": event.household_id,
        "version": event.version,
        "type": event.type,
        "effective_date": event.body.effective_date.isoformat(),
        "recorded_at": moment_text(event.recorded_at),
        "recorded_by": event.recorded_by.as_dict(),
        "data": event_json(event.body),
    }


def record_hash(record: dict[str, Any], *, finite: bool = False) -> str:
    return sha256(canonical(record, finite=finite))


def to_bytes(digest: str | None) -> bytes | None:
    """A hex digest as the tables keep it: its 32 bytes (half the text)."""
    return None if digest is None else bytes.fromhex(digest)


def to_hex(stored: Any) -> Any:
    """A stored digest back as the hex the chains are defined over (None stays None; a value
    that is not bytes — a row edited by hand — is shown as it is, so that it fails to match)."""
    if isinstance(stored, bytes | bytearray | memoryview):
        return bytes(stored).hex()
    return stored


def link(previous: str, *parts: str | None) -> str:
    return sha256("|".join([previous, *(p or "" for p in parts)]))
