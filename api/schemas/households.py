"""The answers about one household (docs/api.md "Queries"): its card, timeline, audit trail
and why it has its status; its events in the global feed."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import ConfigDict, Field

from api.schemas.common import ActorOut, EventType, Moment, Number, Open
from domain import values
from domain.vocab import Status


class FindingOut(Open):
    """A decision that the facts as known show to have broken a rule (domain: findings)."""

    finding_id: str
    rule: str = Field(description="the rule the decision broke, e.g. exit_income_below_line")
    rule_label: str | None = Field(None, description="the rule's Chinese name")
    decision_event_id: str
    decision_type: str
    decision_effective_date: date | None = None
    shown_by: list[str] = Field(description="the facts (and corrections) that show it")
    known_since: Moment = Field(description="since when the registry knows it")
    state: Literal["open", "resolved"]
    resolved_by: str | None = Field(description="the decision (or correction) that resolved it")
    detail: str | None = None


class StatusInterval(Open):
    status: Status
    from_: date = Field(alias="from")
    to: date | None = Field(description="exclusive end; null = still open")
    findings: list[FindingOut] = Field(
        default_factory=list, description="findings on the decisions effective in this interval (absent when none)"
    )


class MemberOut(Open):
    """A member as shown: name, ID number and phone are masked for most roles."""

    name: str
    id_number: str
    relation: str
    labour: str
    health: str
    in_school: bool
    phone: str | None = None


class Income(Open):
    year: int
    income_per_capita: Number
    assessed_on: date | None = None


class Guarantees(values.Guarantees):
    # The six guarantees of the events, as answers show them (which may gain fields).
    model_config = ConfigDict(extra="allow")


class MeasureOut(Open):
    measure_id: str = Field(description="the event_id of its AssistanceMeasureAssigned")
    category: str
    assigned_on: date
    amount: Number | None = Field(None, description="yuan (元), where the measure has an amount")
    funding_source: str | None = None
    helper: str | None = None
    description: str | None = None
    completed_on: date | None = Field(None, description="null until its AssistanceMeasureCompleted")
    outcome: str | None = None


class HelperOut(Open):
    name: str
    unit: str | None = None
    phone: str | None = None
    assigned_on: date


class CardFlags(Open):
    at_risk: bool = Field(description="the latest revisit found the exit unstable (脱贫不稳定)")
    policy_continuation_until: date | None = Field(
        description="脱贫不脱政策: the last day of continued support of an exited household"
    )
    exit_policy: Literal["enjoying", "not_enjoying"] | None = Field(
        description="已脱贫(享受政策) / 已脱贫(不再享受政策), derived from the continuation policy"
    )


class Card(Open):
    """The household card (户有卡) as of a date, as known at a moment."""

    household_id: str
    status: Status
    status_label: str | None = None
    division_code: str
    attribute: str
    main_cause: str
    secondary_causes: list[str] = []
    members: list[MemberOut]
    persons: int | None = None
    latest_income: Income
    guarantees: Guarantees
    measures: list[MeasureOut] = Field(description="assigned (and completed) as of then")
    helpers: list[HelperOut]
    flags: CardFlags
    version: int = Field(description="the household's events recorded at or before known_at")
    as_of: date
    known_at: Moment | None
    valid_from: date | None = Field(None, description="since when the card reads as it does")
    valid_to: date | None = Field(None, description="until when (exclusive; null = still)")
    findings: list[FindingOut] = Field(
        default_factory=list, description="decisions effective by as_of that the facts known at known_at show wrong"
    )


class AuditEvent(Open):
    position: int
    event_id: str
    household_id: str | None
    version: int | None
    type: str
    effective_date: date | None
    recorded_at: str
    recorded_by: ActorOut | None
    division_code: str | None = None
    reason: str | None = None
    evidence: list[str] = []
    data: dict[str, Any] | None = None
    changes: dict[str, Any] | None = Field(None, description="for corrections and retractions: what they changed")
    event_hash: str
    household_chain: str | None = None
    chain: str = Field(description="the global hash chain at this event's position")


class Audit(Open):
    household_id: str
    findings: list[FindingOut] = Field(default_factory=list, description="every finding, as now known")
    events: list[AuditEvent]
    integrity: dict[str, Any] = Field(description="how to recompute the hash chains, and their heads")


class WhyLink(Open):
    """A decision of the chain, as then believed (corrections applied)."""

    event_id: str
    type: str
    effective_date: date
    recorded_at: Moment
    recorded_by: dict[str, str]
    reason: str | None = None
    evidence: list[str] = []
    corrected_by: list[str] = []
    from_status: Status | None = None
    to_status: Status | None = None


class WhyCheck(Open):
    rule: str = Field(description="the rule's code (the one a refusal would name)")
    label: str = Field(description="the rule in Chinese")
    event_id: str = Field(description="the decision the rule was checked on")
    passed: bool
    setting: str | None = Field(description="the policy setting the rule reads")
    source: dict[str, Any] | None = Field(
        description="where the setting came from: jurisdiction, effective_date, document"
    )


class Why(Open):
    """Why the household had its status on `as_of`, as known at `known_at`."""

    household_id: str
    as_of: date
    known_at: Moment | None
    status: Status
    division_code: str
    since: date = Field(description="the status holds since this date (as then known)")
    decision: WhyLink = Field(description="the event that set the status")
    chain: list[WhyLink] = Field(description="the decision, then the proposal it acted on")
    policy: dict[str, Any] = Field(description="the policy versions the checks read (`versions`)")
    checks: list[WhyCheck]
    facts: list[dict[str, Any]] = Field(description="the events whose data the checks read (`used_for`, `values`)")
    changes: list[dict[str, Any]] = Field(
        description="corrections and retractions known by then of events effective by `as_of`"
    )
    findings: list[dict[str, Any]] = Field(description="open findings on the card then")


class FeedItem(Open):
    """One household event in the global feed (the same JSON the Kafka relay publishes)."""

    position: int = Field(description="stable position in recording order; resume with ?after=<position>")
    event_id: str
    household_id: str
    version: int
    type: EventType  # type: ignore[valid-type]
    effective_date: date
    recorded_at: Moment
    recorded_by: ActorOut
    data: dict[str, Any] = Field(description="the event's fields as submitted (personal fields masked for most roles)")


class HouseholdMatch(Open):
    """A household found, where it is now; the head masked as on rosters."""

    household_id: str
    status: Status
    division_code: str
    persons: int
    head_name: str | None
    head_id_number: str | None
    matched: Literal["household_id", "person"] = Field(description="by registry number, or by the head")


class HouseholdSearch(Open):
    """``GET /v1/households?q=``: the households found, in the token's scope."""

    query: str
    households: list[HouseholdMatch]
