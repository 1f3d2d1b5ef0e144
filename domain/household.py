"""A household's aggregate, and what its commands must see of other households.

A household's aggregate state is simply its recorded history: validation is the
pure fold of :mod:`domain.fold` over that history with the new event
inserted, so there is one source of truth for "what the history means".

The other aggregates here give a version to what a command must see of other
households, so that racing writers conflict instead of both winning:
:class:`PersonIndex` (which households ever listed an ID number), :class:`QuotaLedger`
(approvals counted against a county's quota in a year) and :class:`IdempotencyRecord`.
What they share, and why their stored topics name ``povreg.domain.household``:
:mod:`domain.aggregate`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import BaseAggregate

from domain.aggregate import Opening, TextEvent, create, keep_stored_topics, opening_and_later, shell, topic_of
from domain.events import EVENT_TYPES, EventBody, event_json
from domain.history import Actor, RecordedEvent


def _load_body(data: dict[str, Any]) -> EventBody:
    return EVENT_TYPES[data["type"]].model_validate(data)


class Household(BaseAggregate[str]):
    """A registered household: its recorded events, in recording order."""

    @dataclass(frozen=True)
    class Event(TextEvent):
        event_id: str
        body: dict[str, Any]
        recorded_by: dict[str, Any]

        def apply(self, aggregate: Household) -> None:
            aggregate.history.append(
                RecordedEvent(
                    event_id=self.event_id,
                    household_id=self.originator_id,
                    version=self.originator_version,
                    recorded_at=self.timestamp,
                    recorded_by=Actor.from_dict(self.recorded_by),
                    body=_load_body(self.body),
                )
            )

    @dataclass(frozen=True)
    class Identified(Opening, Event):
        """The household's first event (an IdentificationProposed)."""

    @dataclass(frozen=True)
    class Recorded(Event):
        """Any later event of the household."""

    def __init__(self) -> None:
        self.history: list[RecordedEvent] = []

    @classmethod
    def start(cls, event: RecordedEvent) -> Household:
        """A new household whose first recorded event is ``event`` (not yet saved)."""
        created = cls.Identified(
            originator_topic=topic_of(cls),
            originator_id=event.household_id,
            originator_version=cls.INITIAL_VERSION,
            timestamp=event.recorded_at,
            event_id=event.event_id,
            body=event_json(event.body),
            recorded_by=event.recorded_by.as_dict(),
        )
        household = shell(cls, created)
        household.history.append(event)
        return household

    def append(self, event: RecordedEvent) -> None:
        """Record ``event`` as the household's next event (saved with the aggregate).

        The same steps as the library's ``trigger_event`` — the next event of the
        sequence, then the history, version and modification time, then the pending
        list — with ``event`` itself appended to the history: applying the stored
        form would validate its body dict back into the model ``event`` already
        holds (~30 µs an event).
        """
        version = self.version + 1
        assert event.version == version, "events are recorded in version order"
        recorded = self.Recorded(
            originator_id=self.id,
            originator_version=version,
            timestamp=event.recorded_at,
            event_id=event.event_id,
            body=event_json(event.body),
            recorded_by=event.recorded_by.as_dict(),
        )
        self.history.append(event)
        self.version = version
        self.modified_on = event.recorded_at
        self.pending_events.append(recorded)


def person_key(id_number: str, secret: bytes = b"") -> str:
    """The index key of an ID number: a keyed hash, so the key itself is no PII."""
    return "person:" + hashlib.blake2b(id_number.encode(), key=secret[:64], digest_size=20).hexdigest()


class PersonIndex(BaseAggregate[str]):
    """Households that have listed one ID number, to keep it in one active household."""

    @dataclass(frozen=True)
    class Event(TextEvent):
        household_id: str

        def apply(self, aggregate: PersonIndex) -> None:
            if self.household_id not in aggregate.households:
                aggregate.households.append(self.household_id)

    Opened, Listed = opening_and_later(Event)

    def __init__(self) -> None:
        self.households: list[str] = []

    @classmethod
    def open(cls, key: str, household_id: str, at: datetime) -> PersonIndex:
        return create(cls, cls.Opened, key, at, household_id=household_id)

    def list_household(self, household_id: str, at: datetime) -> None:
        if household_id not in self.households:
            self.trigger_event(self.Listed, timestamp=at, household_id=household_id)


def quota_key(jurisdiction: str, year: int) -> str:
    return f"quota:{jurisdiction}:{year}"


class QuotaLedger(BaseAggregate[str]):
    """Households whose identification a jurisdiction approved in one calendar year."""

    @dataclass(frozen=True)
    class Event(TextEvent):
        household_id: str

        def apply(self, aggregate: QuotaLedger) -> None:
            aggregate.households.add(self.household_id)

    Opened, Counted = opening_and_later(Event)

    @dataclass(frozen=True)
    class Released(Event):
        def apply(self, aggregate: QuotaLedger) -> None:
            aggregate.households.discard(self.household_id)

    def __init__(self) -> None:
        self.households: set[str] = set()

    @classmethod
    def open(cls, key: str, household_id: str, at: datetime) -> QuotaLedger:
        return create(cls, cls.Opened, key, at, household_id=household_id)

    def count(self, household_id: str, at: datetime) -> None:
        if household_id not in self.households:
            self.trigger_event(self.Counted, timestamp=at, household_id=household_id)

    def release(self, household_id: str, at: datetime) -> None:
        if household_id in self.households:
            self.trigger_event(self.Released, timestamp=at, household_id=household_id)


class IdempotencyRecord(BaseAggregate[str]):
    """The first answer to a request that carried an Idempotency-Key."""

    @dataclass(frozen=True)
    class Event(TextEvent):
        pass

    @dataclass(frozen=True)
    class Stored(Opening, Event):
        request_hash: str
        response: dict[str, Any]

    def __init__(self, request_hash: str, response: dict[str, Any]) -> None:
        self.request_hash = request_hash
        self.response = response

    @classmethod
    def store(cls, key: str, request_hash: str, response: dict[str, Any], at: datetime) -> IdempotencyRecord:
        return cls._create(cls.Stored, id=key, timestamp=at, request_hash=request_hash, response=response)


keep_stored_topics(Household, PersonIndex, QuotaLedger, IdempotencyRecord)
