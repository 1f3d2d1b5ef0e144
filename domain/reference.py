"""The registry's reference data as aggregates: divisions with their rural population over
time, the decisions about a division as a whole (贫困村出列, 贫困县摘帽), and the policy
versions. What they share, and why their stored topics name ``povreg.domain.household``:
:mod:`domain.aggregate`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import BaseAggregate

from domain.aggregate import TextEvent, create, keep_stored_topics, opening_and_later
from domain.history import Actor
from domain.policy import PolicyVersion, RecordedPolicy


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
    class Event(TextEvent):
        name: str
        rural_population: int
        effective_date: str

        def apply(self, aggregate: Division) -> None:
            aggregate.versions.append(
                DivisionVersion(
                    self.name, self.rural_population, date.fromisoformat(self.effective_date), self.timestamp
                )
            )

    Registered, Updated = opening_and_later(Event)

    def __init__(self) -> None:
        self.versions: list[DivisionVersion] = []

    @property
    def code(self) -> str:
        return self.id.removeprefix("division:")

    @classmethod
    def register(cls, code: str, name: str, rural_population: int, effective_date: date, at: datetime) -> Division:
        return create(cls, cls.Registered, division_key(code), at, **_version_fields(name, rural_population,
                                                                                        effective_date))

    def update(self, name: str, rural_population: int, effective_date: date, at: datetime) -> None:
        self.trigger_event(self.Updated, timestamp=at, **_version_fields(name, rural_population, effective_date))


def division_key(code: str) -> str:
    return f"division:{code}"


def _version_fields(name: str, rural_population: int, effective_date: date) -> dict[str, Any]:
    return {"name": name, "rural_population": rural_population, "effective_date": effective_date.isoformat()}


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


class DivisionDecisions(BaseAggregate[str]):
    """A village's 出列 or a county's 摘帽: decisions about a division as a whole (apart from
    :class:`Division`, whose events the read models read as names and populations)."""

    @dataclass(frozen=True)
    class Event(TextEvent):
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

    Opened, Decided = opening_and_later(Event)

    def __init__(self) -> None:
        self.decisions: list[DivisionDecision] = []

    @classmethod
    def open(cls, code: str, decision: DivisionDecision) -> DivisionDecisions:
        return create(cls, cls.Opened, decisions_key(code), decision.recorded_at, **_decision_fields(decision))

    def record(self, decision: DivisionDecision) -> None:
        self.trigger_event(self.Decided, timestamp=decision.recorded_at, **_decision_fields(decision))


def decisions_key(code: str) -> str:
    return f"decisions:{code}"


def _decision_fields(d: DivisionDecision) -> dict[str, Any]:
    return {"type": d.type, "effective_date": d.effective_date.isoformat(), "reason": d.reason,
            "evidence": list(d.evidence), "recorded_by": d.recorded_by.as_dict(), "poor_persons": d.poor_persons,
            "population": d.population}


POLICY_KEY = "policies"


class PolicyRegister(BaseAggregate[str]):
    """Every recorded policy version, of every jurisdiction (policy changes are rare)."""

    @dataclass(frozen=True)
    class Event(TextEvent):
        version: dict[str, Any]

        def apply(self, aggregate: PolicyRegister) -> None:
            aggregate.recorded.append(
                RecordedPolicy(PolicyVersion.model_validate(self.version), self.timestamp)
            )

    Opened, VersionRecorded = opening_and_later(Event)

    def __init__(self) -> None:
        self.recorded: list[RecordedPolicy] = []

    @classmethod
    def open(cls, version: PolicyVersion, at: datetime) -> PolicyRegister:
        return create(cls, cls.Opened, POLICY_KEY, at, version=version.model_dump(mode="json"))

    def record(self, version: PolicyVersion, at: datetime) -> None:
        self.trigger_event(self.VersionRecorded, timestamp=at, version=version.model_dump(mode="json"))


keep_stored_topics(Division, DivisionDecisions, PolicyRegister)
