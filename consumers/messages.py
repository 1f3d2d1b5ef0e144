"""The Kafka message of a household event, both ways (docs/kafka.md).

key = ``household_id``; value = the feed item JSON (:func:`domain.feed.feed_item`);
header ``position`` = the notification id. The relay encodes straight from the
stored event: its body is already the JSON that ``event_json`` produced, so the
pydantic round trip is skipped (a test checks the result equals ``feed_item``
for every event type). Subscribers decode with :func:`decode` and get a
:class:`FeedMessage` whose ``event`` is the domain's :class:`RecordedEvent`,
validated.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Generic, TypeVar, overload

import orjson

from domain.errors import DomainError
from domain.events import parse_event
from domain.history import Actor, RecordedEvent
from domain.masking import foldable, mask_with_refs

T = TypeVar("T")

POSITION_HEADER = "position"
#: the envelope field that marks a masked message (the household topic's)
PERSONAL_DATA = "personal_data"
_REQUIRED = ("position", "event_id", "household_id", "version", "type", "recorded_at", "recorded_by", "data")


def item_from_stored(position: int, ev: Any) -> dict[str, Any]:
    """The feed item of a stored ``Household.Event`` (same dict as ``feed_item(position, to_recorded_event(ev))``)."""
    body = ev.body
    return {
        "position": position,
        "event_id": ev.event_id,
        "household_id": ev.originator_id,
        "version": ev.originator_version,
        "type": body["type"],
        "effective_date": body["effective_date"],
        "recorded_at": ev.timestamp.isoformat(timespec="microseconds"),
        "recorded_by": ev.recorded_by,
        "data": body,
    }


def item_from_notification(notification: Any, mapper: Any) -> dict[str, Any]:
    """The feed item of a stored household notification."""
    return stored_item(notification, mapper)[0]


def stored_item(notification: Any, mapper: Any,
                position: int | None = None) -> tuple[dict[str, Any], Callable[[Any], bytes]]:
    """The feed item of a stored household notification, and the encoder that writes it (and what
    is derived from it) back exactly (the relay's hot path). A stored event that is not a
    notification (no ``id``) is given its ``position``.

    What orjson read from the stored JSON it writes back exactly, several times faster than
    :mod:`json`; anything else goes through the mapper and :func:`encode_value`.
    """
    at = notification.id if position is None else position
    item = _plain_item(notification, mapper, at)
    if item is None:
        return item_from_stored(at, mapper.to_domain_event(notification)), encode_value
    return item, orjson.dumps


def value_from_notification(notification: Any, mapper: Any) -> bytes:
    """The message value of a stored household notification, unmasked (the personal-data topic's)."""
    item, dumps = stored_item(notification, mapper)
    return dumps(item)


def values_from_notification(notification: Any, mapper: Any, ref_key: bytes, full: bool = False,
                             findings: list[dict[str, Any]] | None = None) -> tuple[bytes, bytes | None]:
    """The household topic's value of a stored household notification — its event masked as for a
    subscriber, a ``person_ref`` beside each ID number — and, with ``full``, the complete feed item
    (the opt-in personal-data topic's value). ``findings`` (the findings the event opened or
    resolved, consumers/findings.py) ride on both when there are any."""
    item, dumps = stored_item(notification, mapper)
    return encode_values(item, dumps, ref_key, full, findings)


def encode_values(item: dict[str, Any], dumps: Callable[[Any], bytes], ref_key: bytes, full: bool,
                  findings: list[dict[str, Any]] | None) -> tuple[bytes, bytes | None]:
    """:func:`values_from_notification` of an item read by :func:`stored_item`."""
    if findings:
        item = {**item, "findings": findings}
    return dumps(masked_item(item, ref_key)), (dumps(item) if full else None)


def masked_item(item: dict[str, Any], ref_key: bytes) -> dict[str, Any]:
    """``item`` with its event's personal data masked and ``person_ref`` beside each ID number (the
    actor in ``recorded_by`` is staff, not personal data: as the HTTP feed shows it)."""
    return {**item, "data": mask_with_refs(item["data"], ref_key), PERSONAL_DATA: "masked"}


def _plain_item(notification: Any, mapper: Any, position: int) -> dict[str, Any] | None:
    """The feed item read straight from the stored JSON, or None where that shortcut is not exact.

    It needs the stored JSON (decrypted here when the store is encrypted, as it is by
    default; no compressor). It bypasses the library's
    transcoder (which calls a hook on every object). orjson refuses NaN/Infinity
    (None: the mapper reads them) and would read an integer beyond 64 bits as a
    float; such an integer can only be in the free-form ``changes`` of a
    correction (every other integer field is bounded), so corrections take the
    mapper's path too.
    """
    if mapper.compressor is not None:
        return None
    raw = notification.state if mapper.cipher is None else mapper.cipher.decrypt(notification.state)
    try:
        state = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    stamp = state.get("timestamp")
    body = state.get("body")
    if not (isinstance(stamp, dict) and stamp.get("_type_") == "datetime_iso" and isinstance(body, dict)
            and body.get("type") != "EventCorrected"):
        return None
    return {
        "position": position,
        "event_id": state["event_id"],
        "household_id": notification.originator_id,
        "version": notification.originator_version,
        "type": body["type"],
        "effective_date": body["effective_date"],
        "recorded_at": _iso_micro(stamp["_data_"]),
        "recorded_by": state["recorded_by"],
        "data": body,
    }


def _iso_micro(value: str) -> str:
    """``value`` with its microseconds always written (``isoformat()`` leaves them out when zero)."""
    if len(value) > 19 and value[19] == ".":  # "YYYY-MM-DDTHH:MM:SS.ffffff…" already
        return value
    return datetime.fromisoformat(value).isoformat(timespec="microseconds")


#: compact, UTF-8 (one encoder: ``json.dumps`` with options builds a new one per call)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_dumps = _ENCODER.encode


def encode_value(item: dict[str, Any]) -> bytes:
    return _dumps(item).encode()


class PoisonMessage(Exception):
    """A message that can never be applied: it goes to the dead-letter topic with ``reason``."""

    def __init__(self, reason: str, kind: str = "poison") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class ItemField(Generic[T]):
    """A field of the feed item, read as ``kind``: ``FeedMessage.position`` is ``int(item["position"])``."""

    def __init__(self, kind: Callable[[Any], T]) -> None:
        self.kind = kind
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, message: None, owner: type) -> ItemField[T]: ...
    @overload
    def __get__(self, message: FeedMessage, owner: type) -> T: ...
    def __get__(self, message: FeedMessage | None, owner: type) -> T | ItemField[T]:
        return self if message is None else self.kind(message.item[self.name])


@dataclass(frozen=True)
class FeedMessage:
    """One household event as a subscriber receives it."""

    item: dict[str, Any]
    topic: str = ""
    partition: int = -1
    offset: int = -1

    position = ItemField(int)
    event_id = ItemField(str)
    household_id = ItemField(str)
    version = ItemField(int)
    type = ItemField(str)

    @cached_property
    def event(self) -> RecordedEvent:
        """The validated domain event (raises :class:`PoisonMessage` if the payload is invalid)."""
        return to_recorded(self.item)


def to_recorded(item: dict[str, Any]) -> RecordedEvent:
    """The domain event of a feed item. A masked item's members are known by stand-in ID numbers
    derived from their ``person_ref`` (:func:`domain.masking.foldable`), so the domain can fold it."""
    try:
        data = item["data"]
        body = parse_event(foldable(data) if item.get(PERSONAL_DATA) == "masked" else data)
        recorded_at = datetime.fromisoformat(item["recorded_at"])
        actor = Actor.from_dict(item["recorded_by"])
    except DomainError as exc:
        raise PoisonMessage(f"schema-invalid event: {exc.detail}", kind="schema") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise PoisonMessage(f"schema-invalid envelope: {exc!r}", kind="schema") from None
    if recorded_at.tzinfo is None:
        raise PoisonMessage("schema-invalid envelope: recorded_at has no offset", kind="schema")
    if body.type != item["type"]:
        raise PoisonMessage(f"schema-invalid envelope: type {item['type']!r} but data is {body.type}", kind="schema")
    return RecordedEvent(
        event_id=item["event_id"],
        household_id=item["household_id"],
        version=int(item["version"]),
        recorded_at=recorded_at,
        recorded_by=actor,
        body=body,
    )


def decode(value: bytes | None, key: bytes | None = None, topic: str = "", partition: int = -1,
           offset: int = -1) -> FeedMessage:
    """Parse a message value; raises :class:`PoisonMessage` on anything that is not a feed item."""
    if value is None:
        raise PoisonMessage("empty message value (tombstone)", kind="decode")
    try:
        item = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoisonMessage(f"undecodable JSON: {exc}", kind="decode") from None
    if not isinstance(item, dict):
        raise PoisonMessage("the value is not a JSON object", kind="schema")
    missing = [f for f in _REQUIRED if f not in item]
    if missing:
        raise PoisonMessage(f"schema-invalid envelope: missing {', '.join(missing)}", kind="schema")
    ok_types = (
        isinstance(item["position"], int) and not isinstance(item["position"], bool)
        and isinstance(item["version"], int) and not isinstance(item["version"], bool) and item["version"] >= 1
        and isinstance(item["event_id"], str) and item["event_id"]
        and isinstance(item["household_id"], str) and item["household_id"]
        and isinstance(item["data"], dict) and isinstance(item["recorded_by"], dict)
    )
    if not ok_types:
        raise PoisonMessage("schema-invalid envelope: position/version must be integers, "
                            "event_id/household_id non-empty strings, data/recorded_by objects", kind="schema")
    if key is not None and key.decode("utf-8", "replace") != item["household_id"]:
        raise PoisonMessage(f"key {key!r} is not the household_id {item['household_id']!r}", kind="schema")
    return FeedMessage(item, topic, partition, offset)
