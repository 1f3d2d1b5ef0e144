"""What the registry's aggregates share, on the eventsourcing library's BaseAggregate.

Aggregate IDs are text (``ORIGINATOR_ID_TYPE=text``): a household's registry number
itself, and prefixed keys for the others. Each aggregate nests its event classes, as
the library has them: an ``Event`` base on :class:`TextEvent` that applies itself, the
first event also an :class:`Opening`, and one class for each later kind of change; where
every event carries the same fields, :func:`opening_and_later` makes the first and the later.

The aggregates are in :mod:`domain.household` (a household and what its commands must
see of other households), :mod:`domain.reference` (divisions, their decisions, the
policies) and :mod:`domain.tokens` (API tokens).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from eventsourcing.domain import BaseAggregate, CanInitAggregate, CanMutateAggregate
from eventsourcing.utils import get_topic, register_topic

#: The module name in the topics of stored events (see :func:`keep_stored_topics`).
STORED_TOPIC_MODULE = "povreg.domain.household"

_A = TypeVar("_A", bound=BaseAggregate[str])
_E = TypeVar("_E", bound="TextEvent")


@dataclass(frozen=True)
class TextEvent(CanMutateAggregate[str]):
    """Base for events of aggregates with text IDs (the library's DomainEvent wants UUIDs)."""

    originator_id: str
    originator_version: int
    timestamp: datetime


@dataclass(frozen=True)
class Opening(CanInitAggregate[str]):
    """The first event of an aggregate (``class Opened(Opening, Event)``): it names the
    aggregate's class, as the library's created events do. Its field comes after the
    ``Event``'s own, where the stored events have it."""

    originator_topic: str


def opening_and_later(event: type[_E]) -> tuple[type[_E], type[_E]]:
    """The event classes of an aggregate whose every event carries the fields of ``event`` (its
    ``Event``, which applies them): the first, also an :class:`Opening`, and every later one. They are
    named as the aggregate names them (``Opened, Listed = opening_and_later(Event)``: see
    :func:`keep_stored_topics`)."""
    first: type[_E] = dataclass(frozen=True)(type("Opened", (Opening, event), {"__module__": event.__module__}))
    later: type[_E] = dataclass(frozen=True)(type("Later", (event,), {"__module__": event.__module__}))
    return first, later


def create(cls: type[_A], event_class: type[Any], key: str, at: datetime, **fields: Any) -> _A:
    """``cls._create(event_class, id=key, timestamp=at, **fields)``, the fast way: a new
    aggregate of ``cls`` (whose ``__init__`` takes no arguments) with its first event applied."""
    created = event_class(
        originator_topic=topic_of(cls), originator_id=key, originator_version=cls.INITIAL_VERSION,
        timestamp=at, **fields,
    )
    aggregate = shell(cls, created)
    created.apply(aggregate)
    return aggregate


def shell(cls: type[_A], created: CanInitAggregate[str]) -> _A:
    """A new aggregate of ``cls`` (whose ``__init__`` takes no arguments) with ``created``
    pending, not applied: what the library's ``_create`` and ``CanInitAggregate.mutate`` do
    but the ``apply``, without their per-call signature inspection and topic resolution
    (~100 µs an aggregate here)."""
    aggregate = cls.__new__(cls)
    aggregate.__base_init__(created.originator_id, created.originator_version, created.timestamp)
    aggregate.__init__()  # type: ignore[misc]
    aggregate.pending_events.append(created)
    return aggregate


def topic_of(cls: type) -> str:
    """The library's ``get_topic``, memoised (it is asked for every aggregate created)."""
    topic = _TOPICS.get(cls)
    if topic is None:
        topic = _TOPICS[cls] = get_topic(cls)
    return topic


_TOPICS: dict[type, str] = {}


def keep_stored_topics(*aggregates: type[BaseAggregate[str]]) -> None:
    """Stored events name their classes by topic (``module:qualname``). The topics were fixed
    when every aggregate was in the module ``povreg.domain.household``, and a store keeps them
    for ever: pin each aggregate's and each of its events' topic with the library's ``TOPIC``
    attribute (what ``get_topic`` writes), and register it, so that ``resolve_topic`` reads
    it back to the class wherever the class now lives."""
    for aggregate in aggregates:
        for name, value in vars(aggregate).items():
            if isinstance(value, type) and issubclass(value, TextEvent):
                value.__name__, value.__qualname__ = name, f"{aggregate.__qualname__}.{name}"
                _keep_topic(value)
        _keep_topic(aggregate)


def _keep_topic(cls: type) -> None:
    cls.TOPIC = f"{STORED_TOPIC_MODULE}:{cls.__qualname__}"  # type: ignore[attr-defined]
    register_topic(cls.TOPIC, cls)  # type: ignore[attr-defined]
