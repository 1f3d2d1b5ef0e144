"""The event-sourced aggregates, on the eventsourcing library's BaseAggregate.

A household's aggregate state is simply its recorded history: validation is the
pure fold of :mod:`domain.fold` over that history with the new event
inserted, so there is one source of truth for "what the history means".

The other aggregates keep what a command must see of other households or of
the registry's reference data, and give each a version so that racing writers
conflict instead of both winning: :class:`PersonIndex` (which households ever
listed an ID number), :class:`QuotaLedger` (approvals counted against a county's
quota in a year), :class:`IdempotencyRecord`, :class:`Division`,
:class:`PolicyRegister` and :class:`AccessToken`.

Aggregate IDs are text (``ORIGINATOR_ID_TYPE=text``): the household's registry
number itself, and prefixed keys for the others.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from eventsourcing.domain import BaseAggregate, CanInitAggregate, CanMutateAggregate
from eventsourcing.utils import get_topic, register_topic

from domain.events import EVENT_TYPES, EventBody, event_json
from domain.history import Actor, RecordedEvent
from domain.policy import PolicyVersion, RecordedPolicy


@dataclass(frozen=True)
class _Event(CanMutateAggregate[str]):
    """Base for events of aggregates with text IDs (the library's DomainEvent wants UUIDs)."""

    originator_id: str
    originator_version: int
    timestamp: datetime


_A = TypeVar("_A", bound=BaseAggregate[str])


def _load_body(data: dict[str, Any]) -> EventBody:
    return EVENT_TYPES[data["type"]].model_validate(data)


class Household(BaseAggregate[str]):
    """A registered household: its recorded events, in recording order."""

    @dataclass(frozen=True)
    class Event(_Event):
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
    class Identified(CanInitAggregate[str], Event):
        """The household's first event (an IdentificationProposed)."""

        originator_topic: str

    @dataclass(frozen=True)
    class Recorded(Event):
        """Any later event of the household."""

    def __init__(self) -> None:
        self.history: list[RecordedEvent] = []

    @classmethod
    def start(cls, event: RecordedEvent) -> Household:
        """A new household whose first recorded event is ``event`` (not yet saved)."""
        created = cls.Identified(
            originator_topic=_topic(cls),
            originator_id=event.household_id,
            originator_version=cls.INITIAL_VERSION,
            timestamp=event.recorded_at,
            event_id=event.event_id,
            body=event_json(event.body),
            recorded_by=event.recorded_by.as_dict(),
        )
        household = _shell(cls, created)
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


def _topic(cls: type) -> str:
    topic = _TOPICS.get(cls)
    if topic is None:
        topic = _TOPICS[cls] = get_topic(cls)
    return topic


_TOPICS: dict[type, str] = {}


def _shell(cls: type[_A], created: CanInitAggregate[str]) -> _A:
    """A new aggregate of ``cls`` (whose ``__init__`` takes no arguments) with
    ``created`` pending, not applied: what the library's ``_create`` and
    ``CanInitAggregate.mutate`` do but the ``apply``, without their per-call
    signature inspection and topic resolution (~100 µs an aggregate here)."""
    aggregate = cls.__new__(cls)
    aggregate.__base_init__(created.originator_id, created.originator_version, created.timestamp)
    aggregate.__init__()  # type: ignore[misc]
    aggregate.pending_events.append(created)
    return aggregate


def _create(cls: type[_A], event_class: type[Any], key: str, at: datetime, **fields: Any) -> _A:
    """``cls._create(event_class, id=key, timestamp=at, **fields)``, the fast way."""
    created = event_class(
        originator_topic=_topic(cls), originator_id=key, originator_version=cls.INITIAL_VERSION,
        timestamp=at, **fields,
    )
    aggregate = _shell(cls, created)
    created.apply(aggregate)
    return aggregate


def person_key(id_number: str, secret: bytes = b"") -> str:
    """The index key of an ID number: a keyed hash, so the key itself is no PII."""
    return "person:" + hashlib.blake2b(id_number.encode(), key=secret[:64], digest_size=20).hexdigest()


class PersonIndex(BaseAggregate[str]):
    """Households that have listed one ID number, to keep it in one active household."""

    @dataclass(frozen=True)
    class Event(_Event):
        household_id: str

        def apply(self, aggregate: PersonIndex) -> None:
            if self.household_id not in aggregate.households:
                aggregate.households.append(self.household_id)

    @dataclass(frozen=True)
    class Opened(CanInitAggregate[str], Event):
        originator_topic: str

    @dataclass(frozen=True)
    class Listed(Event):
        pass

    def __init__(self) -> None:
        self.households: list[str] = []

    @classmethod
    def open(cls, key: str, household_id: str, at: datetime) -> PersonIndex:
        return _create(cls, cls.Opened, key, at, household_id=household_id)

    def list_household(self, household_id: str, at: datetime) -> None:
        if household_id not in self.households:
            self.trigger_event(self.Listed, timestamp=at, household_id=household_id)


def quota_key(jurisdiction: str, year: int) -> str:
    return f"quota:{jurisdiction}:{year}"


class QuotaLedger(BaseAggregate[str]):
    """Households whose identification a jurisdiction approved in one calendar year."""

    @dataclass(frozen=True)
    class Event(_Event):
        household_id: str

    @dataclass(frozen=True)
    class Opened(CanInitAggregate[str], Event):
        originator_topic: str

        def apply(self, aggregate: QuotaLedger) -> None:
            aggregate.households.add(self.household_id)

    @dataclass(frozen=True)
    class Counted(Event):
        def apply(self, aggregate: QuotaLedger) -> None:
            aggregate.households.add(self.household_id)

    @dataclass(frozen=True)
    class Released(Event):
        def apply(self, aggregate: QuotaLedger) -> None:
            aggregate.households.discard(self.household_id)

    def __init__(self) -> None:
        self.households: set[str] = set()

    @classmethod
    def open(cls, key: str, household_id: str, at: datetime) -> QuotaLedger:
        return _create(cls, cls.Opened, key, at, household_id=household_id)

    def count(self, household_id: str, at: datetime) -> None:
        if household_id not in self.households:
            self.trigger_event(self.Counted, timestamp=at, household_id=household_id)

    def release(self, household_id: str, at: datetime) -> None:
        if household_id in self.households:
            self.trigger_event(self.Released, timestamp=at, household_id=household_id)


class IdempotencyRecord(BaseAggregate[str]):
    """The first answer to a request that carried an Idempotency-Key."""

    @dataclass(frozen=True)
    class Event(_Event):
        pass

    @dataclass(frozen=True)
    class Stored(CanInitAggregate[str], Event):
        originator_topic: str
        request_hash: str
        response: dict[str, Any]

    def __init__(self, request_hash: str, response: dict[str, Any]) -> None:
        self.request_hash = request_hash
        self.response = response

    @classmethod
    def store(cls, key: str, request_hash: str, response: dict[str, Any], at: datetime) -> IdempotencyRecord:
        return cls._create(cls.Stored, id=key, timestamp=at, request_hash=request_hash, response=response)


@dataclass(frozen=True)
class DivisionVersion:
    name: str
    rural_population: int
    effective_date: date
    recorded_at: datetime


def version_in_force(
    versions: list[DivisionVersion], on: date, known_at: datetime | None = None
) -> DivisionVersion | None:
    """The division's version in force on ``on`` as known at ``known_at``."""
    candidates = [v for v in versions if v.effective_date <= on and (known_at is None or v.recorded_at <= known_at)]
    return max(candidates, key=lambda v: (v.effective_date, v.recorded_at), default=None)


class Division(BaseAggregate[str]):
    """A county, township or village, with its rural population over time."""

    @dataclass(frozen=True)
    class Event(_Event):
        name: str
        rural_population: int
        effective_date: str

        def apply(self, aggregate: Division) -> None:
            aggregate.versions.append(
                DivisionVersion(
                    self.name, self.rural_population, date.fromisoformat(self.effective_date), self.timestamp
                )
            )

    @dataclass(frozen=True)
    class Registered(CanInitAggregate[str], Event):
        originator_topic: str

    @dataclass(frozen=True)
    class Updated(Event):
        pass

    def __init__(self) -> None:
        self.versions: list[DivisionVersion] = []

    @property
    def code(self) -> str:
        return self.id.removeprefix("division:")

    @classmethod
    def register(cls, code: str, name: str, rural_population: int, effective_date: date, at: datetime) -> Division:
        return cls._create(
            cls.Registered,
            id=division_key(code),
            timestamp=at,
            name=name,
            rural_population=rural_population,
            effective_date=effective_date.isoformat(),
        )

    def update(self, name: str, rural_population: int, effective_date: date, at: datetime) -> None:
        self.trigger_event(
            self.Updated,
            timestamp=at,
            name=name,
            rural_population=rural_population,
            effective_date=effective_date.isoformat(),
        )


def division_key(code: str) -> str:
    return f"division:{code}"


@dataclass(frozen=True)
class DivisionDecision:
    """贫困村出列 or 贫困县摘帽, as recorded, with the rosters' figures it was judged on."""

    type: str
    effective_date: date
    reason: str | None
    evidence: tuple[str, ...]
    recorded_by: Actor
    recorded_at: datetime
    poor_persons: int
    population: int


def decisions_key(code: str) -> str:
    return f"decisions:{code}"


class DivisionDecisions(BaseAggregate[str]):
    """A village's 出列 or a county's 摘帽: decisions about a division as a whole (apart from
    :class:`Division`, whose events the read models read as names and populations)."""

    @dataclass(frozen=True)
    class Event(_Event):
        type: str
        effective_date: str
        reason: str | None
        evidence: list[str]
        recorded_by: dict[str, Any]
        poor_persons: int
        population: int

        def apply(self, aggregate: DivisionDecisions) -> None:
            aggregate.decisions.append(DivisionDecision(
                self.type, date.fromisoformat(self.effective_date), self.reason, tuple(self.evidence),
                Actor.from_dict(self.recorded_by), self.timestamp, self.poor_persons, self.population,
            ))

    @dataclass(frozen=True)
    class Opened(CanInitAggregate[str], Event):
        originator_topic: str

    @dataclass(frozen=True)
    class Decided(Event):
        pass

    def __init__(self) -> None:
        self.decisions: list[DivisionDecision] = []

    @classmethod
    def open(cls, code: str, decision: DivisionDecision) -> DivisionDecisions:
        return _create(cls, cls.Opened, decisions_key(code), decision.recorded_at, **_decision_fields(decision))

    def record(self, decision: DivisionDecision) -> None:
        self.trigger_event(self.Decided, timestamp=decision.recorded_at, **_decision_fields(decision))


def _decision_fields(d: DivisionDecision) -> dict[str, Any]:
    return {"type": d.type, "effective_date": d.effective_date.isoformat(), "reason": d.reason,
            "evidence": list(d.evidence), "recorded_by": d.recorded_by.as_dict(), "poor_persons": d.poor_persons,
            "population": d.population}


POLICY_KEY = "policies"


class PolicyRegister(BaseAggregate[str]):
    """Every recorded policy version, of every jurisdiction (policy changes are rare)."""

    @dataclass(frozen=True)
    class Event(_Event):
        version: dict[str, Any]

        def apply(self, aggregate: PolicyRegister) -> None:
            aggregate.recorded.append(
                RecordedPolicy(PolicyVersion.model_validate(self.version), self.timestamp)
            )

    @dataclass(frozen=True)
    class Opened(CanInitAggregate[str], Event):
        originator_topic: str

    @dataclass(frozen=True)
    class VersionRecorded(Event):
        pass

    def __init__(self) -> None:
        self.recorded: list[RecordedPolicy] = []

    @classmethod
    def open(cls, version: PolicyVersion, at: datetime) -> PolicyRegister:
        return cls._create(cls.Opened, id=POLICY_KEY, timestamp=at, version=version.model_dump(mode="json"))

    def record(self, version: PolicyVersion, at: datetime) -> None:
        self.trigger_event(self.VersionRecorded, timestamp=at, version=version.model_dump(mode="json"))


class AccessToken(BaseAggregate[str]):
    """An API token, stored by the hash of its secret (authentication looks it up by that).

    ``token_id`` is the public handle that lists and revokes it; ``expires_at`` the
    moment from which it no longer authenticates. Tokens issued before either
    existed have an empty id and no expiry (the class defaults below decode them)."""

    @dataclass(frozen=True)
    class Event(_Event):
        pass

    @dataclass(frozen=True)
    class Issued(CanInitAggregate[str], Event):
        originator_topic: str
        name: str
        role: str
        division: str
        token_id: str = ""
        expires_at: str | None = None

    @dataclass(frozen=True)
    class Revoked(Event):
        def apply(self, aggregate: AccessToken) -> None:
            aggregate.revoked = True
            aggregate.revoked_at = self.timestamp

    def __init__(
        self, name: str, role: str, division: str, token_id: str = "", expires_at: str | None = None
    ) -> None:
        self.name = name
        self.role = role
        self.division = division
        self.token_id = token_id
        self.expires_at = datetime.fromisoformat(expires_at) if expires_at else None
        self.revoked = False
        self.revoked_at: datetime | None = None

    @classmethod
    def issue(
        cls,
        secret_hash: str,
        name: str,
        role: str,
        division: str,
        at: datetime,
        token_id: str = "",
        expires_at: datetime | None = None,
    ) -> AccessToken:
        return cls._create(
            cls.Issued, id=f"token:{secret_hash}", timestamp=at, name=name, role=role, division=division,
            token_id=token_id, expires_at=expires_at.isoformat() if expires_at else None,
        )

    def revoke(self, at: datetime) -> None:
        if not self.revoked:
            self.trigger_event(self.Revoked, timestamp=at)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    @property
    def actor(self) -> Actor:
        return Actor(self.name, self.role, self.division, token_id=self.token_id or self.id)


TOKENS_KEY = "tokens"


class TokenRegister(BaseAggregate[str]):
    """Every token issued, by its public id: what ``token list`` and ``token revoke`` read."""

    @dataclass(frozen=True)
    class Event(_Event):
        token_id: str
        secret_hash: str

        def apply(self, aggregate: TokenRegister) -> None:
            aggregate.tokens[self.token_id] = self.secret_hash

    @dataclass(frozen=True)
    class Opened(CanInitAggregate[str], Event):
        originator_topic: str

    @dataclass(frozen=True)
    class Listed(Event):
        pass

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}

    @classmethod
    def open(cls, token_id: str, secret_hash: str, at: datetime) -> TokenRegister:
        return _create(cls, cls.Opened, TOKENS_KEY, at, token_id=token_id, secret_hash=secret_hash)

    def list_token(self, token_id: str, secret_hash: str, at: datetime) -> None:
        self.trigger_event(self.Listed, timestamp=at, token_id=token_id, secret_hash=secret_hash)


def _keep_stored_topics() -> None:
    """Stored events name their classes by topic (``module:qualname``). The topics were fixed
    when this module was ``povreg.domain.household``, and a store keeps them for ever: pin each
    class's topic with the library's ``TOPIC`` attribute (read by ``get_topic``), and register the
    old module name so that ``resolve_topic`` finds this module under it."""
    module = sys.modules[__name__]
    register_topic(STORED_TOPIC_MODULE, module)
    for aggregate in (Household, PersonIndex, QuotaLedger, IdempotencyRecord, Division, DivisionDecisions,
                      PolicyRegister,
                      AccessToken, TokenRegister):
        aggregate.TOPIC = f"{STORED_TOPIC_MODULE}:{aggregate.__qualname__}"  # type: ignore[union-attr]
        for value in vars(aggregate).values():
            if isinstance(value, type) and issubclass(value, _Event):
                value.TOPIC = f"{STORED_TOPIC_MODULE}:{value.__qualname__}"  # type: ignore[attr-defined]


#: the module name in the topics of stored events (see :func:`_keep_stored_topics`)
STORED_TOPIC_MODULE = "povreg.domain.household"
_keep_stored_topics()
