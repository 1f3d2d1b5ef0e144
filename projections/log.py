"""Reading the registry's notification log in pages, decoded once for every projection.

The notification log (the eventsourcing library's stored events, in notification
order) is the projections' only input. :func:`read_page` returns :class:`Entry`
objects: the raw stored row (for the integrity chain) and, decoded on first use,
what it means: its JSON state (:attr:`Entry.data`, all the audit trail needs),
household events as the domain's :class:`~domain.history.RecordedEvent`,
division versions and policy versions.

Household events are decoded here directly from the stored JSON — the state is
decrypted and decompressed with the registry's own mapper, parsed once, and the
body validated once into its event model — rather than through the library's
``Mapper.to_domain_event`` and the aggregate event class, which validated it a
second time. A rebuild decodes millions of events: this is most of its cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar, overload

from domain.aggregate import STORED_TOPIC_MODULE
from domain.events import EVENT_TYPES
from domain.history import Actor, RecordedEvent
from domain.policy import PolicyVersion
from projections import jsontext
from projections.integrity import as_bytes
from service.feed import HOUSEHOLD_TOPIC_PREFIX
from service.registry import Registry

T = TypeVar("T")


class cached(Generic[T]):
    """:func:`functools.cached_property` without its lock: Python 3.11's takes an RLock
    on every first access, which was a tenth of a rebuild's audit lane (millions of
    entries, each asked for several decoded views once). An entry is never shared
    between threads while it is decoded."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> cached[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> T | cached[T]:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj)
        return value


DIVISION_TOPIC_PREFIX = f"{STORED_TOPIC_MODULE}:Division."
POLICY_TOPIC_PREFIX = f"{STORED_TOPIC_MODULE}:PolicyRegister."


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


class Entry:
    """One notification: the stored row and, decoded when first asked for, what it means."""

    def __init__(self, registry: Registry, position: int, originator_id: str, originator_version: int, topic: str,
                 state: bytes) -> None:
        self._registry = registry
        self.position = position
        self.originator_id = originator_id
        self.originator_version = originator_version
        self.topic = topic
        self.state = state

    @property
    def is_household(self) -> bool:
        return self.topic.startswith(HOUSEHOLD_TOPIC_PREFIX)

    @cached
    def data(self) -> dict[str, Any]:
        """The stored state as JSON (decrypted and decompressed as the registry's mapper does)."""
        mapper = self._registry.mapper
        state: Any = self.state
        if mapper.cipher:
            state = mapper.cipher.decrypt(state)
        if mapper.compressor:
            state = mapper.compressor.decompress(state)
        value, self._finite = jsontext.loads(state)
        return value  # type: ignore[no-any-return]

    @property
    def finite(self) -> bool:
        """False if :attr:`data` may hold a NaN or an infinity (see :mod:`~projections.jsontext`)."""
        _ = self.data
        return self._finite

    @cached
    def recorded_at(self) -> datetime:
        stamp = self.data["timestamp"]
        return datetime.fromisoformat(stamp["_data_"] if isinstance(stamp, dict) else stamp)

    @cached
    def household(self) -> RecordedEvent | None:
        if not self.is_household:
            return None
        data = self.data
        body = data["body"]
        return RecordedEvent(
            event_id=data["event_id"],
            household_id=self.originator_id,
            version=self.originator_version,
            recorded_at=self.recorded_at,
            recorded_by=Actor.from_dict(data["recorded_by"]),
            body=EVENT_TYPES[body["type"]].model_validate(body),
        )

    @cached
    def body_json(self) -> str | None:
        """A household event's body as compact JSON (what ``proj_events`` keeps)."""
        if not self.is_household:
            return None
        return jsontext.compact(self.data["body"], finite=self.finite)

    @cached
    def division(self) -> DivisionChange | None:
        if not self.topic.startswith(DIVISION_TOPIC_PREFIX):
            return None
        ev: Any = self._registry.mapper.to_domain_event(self._stored())
        return DivisionChange(
            code=str(ev.originator_id).removeprefix("division:"),
            name=ev.name,
            rural_population=ev.rural_population,
            effective_date=date.fromisoformat(ev.effective_date),
            recorded_at=ev.timestamp,
            registered=ev.originator_version == 1,
        )

    @cached
    def policy(self) -> PolicyChange | None:
        if not self.topic.startswith(POLICY_TOPIC_PREFIX):
            return None
        ev: Any = self._registry.mapper.to_domain_event(self._stored())
        return PolicyChange(PolicyVersion.model_validate(ev.version), ev.timestamp)

    def _stored(self) -> Any:
        from eventsourcing.persistence import StoredEvent

        return StoredEvent(self.originator_id, self.originator_version, self.topic, self.state)


def decode(registry: Registry, notification: Any) -> Entry:
    return Entry(registry, notification.id, str(notification.originator_id), notification.originator_version,
                 notification.topic, as_bytes(notification.state))


def read_page(registry: Registry, after: int, limit: int) -> list[Entry]:
    """Up to ``limit`` notifications with position > ``after`` (decoded lazily)."""
    return [
        Entry(registry, position, originator_id, version, topic, as_bytes(state))
        for position, originator_id, version, topic, state in registry.notification_rows(after, limit)
    ]


def head(registry: Registry) -> int:
    """The log's last position (0 when empty)."""
    return registry.recorder.max_notification_id() or 0
