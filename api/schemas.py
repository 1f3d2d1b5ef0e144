"""The API's request and response bodies, as the OpenAPI document describes them.

Request bodies reuse the domain's event models (one definition per event): each
event type gets a ``<Event>Request`` model that adds ``expected_version`` (and, for
``POST /v1/households``, ``household_id``), and ``EventRequest`` is their union,
discriminated on ``type``. Response models are what the handlers return: FastAPI
validates every answer against them. Moments (:data:`Moment`) are written as the
registry wrote them, offset and microseconds kept; amounts (:data:`Number`) keep
an integer an integer.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, create_model

from domain.access import Role
from domain.divisions import Scope
from domain.events import EVENT_TYPES, EventBody, IdentificationProposed, require_finite
from domain.policy import PolicySettings
from domain.vocab import Status

EventType = StrEnum("EventType", {name: name for name in EVENT_TYPES})  # type: ignore[misc]

ExpectedVersion = Annotated[
    int | None,
    Field(
        ge=0,
        le=2**31,
        description="the household's version (number of recorded events) this command was decided on; "
        "a mismatch is refused with 409 (0 = the household must not exist yet)",
    ),
]
HouseholdId = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9._-]{1,64}$", description="the registry number (户编号)", examples=["H-620422100201-0001"]
    ),
]
DivisionPrefix = Scope


def _request_model(cls: type[EventBody]) -> type[BaseModel]:
    name = cls.model_fields["type"].default
    fields: dict[str, Any] = {
        "type": (Literal[name], Field(description="the event type")),
        "expected_version": (ExpectedVersion, None),
    }
    model: type[BaseModel] = create_model(
        f"{name}Request", __base__=cls, __doc__=cls.__doc__ or f"A {name} event.", **fields
    )
    return model


EVENT_REQUESTS: dict[str, type[BaseModel]] = {name: _request_model(cls) for name, cls in EVENT_TYPES.items()}

if TYPE_CHECKING:
    EventRequest = BaseModel
else:
    #: Any event request, discriminated on ``type`` (one schema per event type in the document).
    EventRequest = Annotated[Union[tuple(EVENT_REQUESTS.values())], Field(discriminator="type")]  # noqa: UP007


class ProposalRequest(IdentificationProposed):
    """``POST /v1/households``: the fields of IdentificationProposed (``type`` may be left out)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "division_code": "620422100201",
                    "effective_date": "2014-05-02",
                    "attribute": "general",
                    "main_cause": "illness",
                    "secondary_causes": ["lack_of_skills"],
                    "income_per_capita": 2100,
                    "income_year": 2013,
                    "guarantees": {"food": True, "clothing": True, "education": True, "medical": False,
                                   "housing": False, "water": True},
                    "members": [{"name": "张三", "id_number": "620422198501010015", "relation": "head",
                                 "labour": "full", "health": "chronic_illness", "in_school": False}],
                    "reason": "农户申请，村民主评议通过",
                    "evidence": ["notice-2014-017"],
                }
            ]
        }
    )

    household_id: HouseholdId | None = Field(
        None, description="the registry number to use; the server assigns one if absent"
    )
    expected_version: ExpectedVersion = None


def command_fields(body: BaseModel) -> tuple[dict[str, Any], int | None]:
    """The event payload of a request body (as the registry takes it) and its expected_version.

    Non-finite numbers are refused first: the JSON dump would turn a NaN in a free-form
    field (a correction's ``changes``) into ``null`` without a word."""
    require_finite(body.model_dump(exclude={"household_id", "expected_version"}))
    payload = body.model_dump(mode="json", exclude={"household_id", "expected_version"})
    return payload, getattr(body, "expected_version", None)


# --------------------------------------------------------------- responses


def _moment(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.isoformat(timespec="microseconds")
    if not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is None:
        raise ValueError("a moment is an ISO 8601 date-time with an offset")
    return value


#: A moment with its offset, as the registry wrote it (``2018-01-15T04:00:00.000000+00:00``).
Moment = Annotated[str, BeforeValidator(_moment), WithJsonSchema({"type": "string", "format": "date-time"})]
#: An amount or ratio: an integer stays an integer in the answer.
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]


class Open(BaseModel):
    """Responses may gain fields (docs/api.md: changes are additive)."""

    model_config = ConfigDict(extra="allow")


class FieldError(Open):
    loc: list[str | int] = Field(description="where: body/query/path/header, then the field path")
    msg: str
    type: str | None = None


class Problem(Open):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str = Field(description="urn:povreg:problem:<rule>", examples=["urn:povreg:problem:illegal_transition"])
    title: str
    status: int
    detail: str = Field(description="what was refused and why; names the rule")
    rule: str = Field(description="the short, stable code of the rule that refused the request")
    instance: str | None = None
    errors: list[FieldError] | None = Field(None, description="field errors (422)")


class Receipt(Open):
    """The answer to an accepted command."""

    household_id: str
    event_id: str
    type: EventType  # type: ignore[valid-type]
    version: int = Field(description="the household's recorded events, this one included")
    effective_date: date
    recorded_at: Moment
    status: Status | None = Field(description="the household's status today, with this event")


class ActorOut(Open):
    name: str
    role: str
    division: str


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


class DivisionVersionOut(Open):
    name: str
    rural_population: int
    effective_date: date
    recorded_at: Moment


class DivisionOut(Open):
    code: str
    level: Literal["county", "township", "village"]
    name: str
    rural_population: int
    effective_date: date
    recorded_at: Moment
    versions: list[DivisionVersionOut] = Field(description="every recorded version, in recording order")


class DivisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    rural_population: Annotated[int, Field(ge=0, le=2_000_000_000)]
    effective_date: date = Field(date(2014, 1, 1), description="from when this name and population hold")


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    division: DivisionPrefix = Field("", description="division-code prefix the token is scoped to ('' = everywhere)")
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None, description="a label recorded as the actor's name"
    )
    expires_in_days: int = Field(90, ge=1, le=365, description="days until the token expires (at most 365)")


class TokenOut(Open):
    id: str = Field(description="the token's public id (to list and revoke it)")
    token: str = Field(description="the secret; shown once, only its hash is stored")
    role: Role
    division: str
    expires_at: Moment


class TokenInfo(Open):
    id: str
    name: str
    role: Role
    division: str
    issued_at: Moment
    expires_at: Moment | None
    revoked_at: Moment | None
    state: Literal["active", "expired", "revoked"]


class TokenList(Open):
    tokens: list[TokenInfo]


class PolicyRecorded(Open):
    jurisdiction: str
    effective_date: date
    settings: PolicySettings
    source: str | None = None
    recorded_at: Moment


class PolicyProvenance(Open):
    jurisdiction: str
    effective_date: date
    source: str | None = None


class ResolvedPolicyOut(Open):
    division: str
    on: date
    poverty_line: Number | None = Field(description="yuan per person per year; null before any line is in force")
    identification_notice_days: int
    exit_notice_days: int
    identification_quota: int | None
    no_exit_in_year_of_entry: bool
    post_exit_continuation: dict[str, Any]
    adjustment_cycle_years: int
    adjustment_anchor_year: int
    revisit_interval_days: int
    poverty_line_with_labour: float | None = Field(
        None, description="the line for households with labour capacity, where one is set")
    eligibility_exceptions: list[str]
    exit_income_max_age_days: int
    village_exit_max_incidence: float | None = None
    county_delist_max_incidence: float | None = None
    exit_continuation: dict[str, Any] = Field(
        description="what an exit on `on` is entitled to after it (until, and the rules it comes from)")
    targets: list[dict[str, Any]] = Field(description="the division's own yearly targets")
    provenance: dict[str, PolicyProvenance]


# Query responses (the read models' JSON, docs/api.md "Queries").


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


class HouseholdFinding(FindingOut):
    household_id: str


class FindingCounts(Open):
    open: int
    resolved: int


class Findings(Open):
    """The findings of a division as of a date, as known at a moment."""

    division_code: str
    as_of: date
    known_at: datetime | None
    state: Literal["open", "resolved", "all"]
    counts: FindingCounts = Field(description="open and resolved findings in the division (whatever `state`)")
    total: int = Field(description="findings in the chosen state")
    page: int
    page_size: int
    findings: list[HouseholdFinding]


class StatusInterval(Open):
    status: Status
    from_: date = Field(alias="from")
    to: date | None = Field(description="exclusive end; null = still open")
    findings: list[FindingOut] = Field(
        default_factory=list, description="findings on the decisions effective in this interval (absent when none)"
    )


class Count(Open):
    households: int
    persons: int


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


class Guarantees(Open):
    food: bool
    clothing: bool
    education: bool
    medical: bool
    housing: bool
    water: bool


class MeasureOut(Open):
    measure_id: str = Field(description="the event_id of its AssistanceMeasureAssigned")
    category: str
    assigned_on: date
    amount: Number | None = None
    funding_source: str | None = None
    helper: str | None = None
    description: str | None = None
    completed_on: date | None = None
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


class RosterRow(Open):
    household_id: str
    status: Status
    division_code: str
    division_name: str | None = None
    attribute: str
    main_cause: str
    persons: int
    head_name: str | None = None
    head_id_number: str | None = None
    since: date = Field(description="valid since (the current status interval's start)")


class Roster(Open):
    division_code: str
    division_name: str | None = None
    as_of: date
    known_at: Moment | None
    counts: dict[str, Count] = Field(description="households and persons per status")
    total: Count
    status: Status | None = None
    page: int
    page_size: int
    rows_total: int = Field(description="households matching the status filter")
    pages: int
    rows: list[RosterRow] = Field(description="this page of household rows")


class Summary(Open):
    households: int
    persons: int
    by_main_cause: dict[str, Count] = {}
    by_attribute: dict[str, Count] = {}
    by_pathway: dict[str, Count] | None = None


class AdjustmentReport(Open):
    """三年动态调整: opening + inflows − outflows = closing, in households and persons."""

    division_code: str
    start: date
    end: date
    known_at: Moment | None
    opening: Summary
    inflows: dict[str, Summary] = Field(description="by kind (identified, returned, transferred_in, …) and total")
    outflows: dict[str, Summary] = Field(description="by kind (exited, removed, closed, transferred_out, …) and total")
    closing: Summary
    reconciles: bool
    reconciliation: list[dict[str, Any]] = []


class Incidence(Open):
    division_code: str
    division_name: str | None = None
    as_of: date
    known_at: Moment | None
    poor_households: int
    poor_persons: int
    population: int | None = Field(description="the rural registered population in force then")
    incidence: Number | None = Field(description="poor_persons ÷ population (null without a population)")


class AdjustmentDifference(Open):
    division_code: str
    start: date
    end: date
    filed_at: Moment
    known_at: Moment | None
    filed: dict[str, Any] = Field(description="the report as known at filed_at")
    known: dict[str, Any] = Field(description="the report as known at known_at")
    difference: dict[str, Any]
    households: list[dict[str, Any]] = Field(
        description="households whose contribution changed, with the events recorded in between"
    )


class AuditTrail(Open):
    household_id: str | None = None
    division_code: str | None = None
    actor: str | None = None
    events: list[AuditEvent]
    next_after: int | None = Field(description="resume with ?after=<next_after>; null when there is no more")


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


class ProjectionsHealth(Open):
    position: int = Field(description="the last log position every read model has applied")
    head: int = Field(description="the last position recorded in the log")
    lag: int = Field(description="head − position: events recorded but not yet in the read models")


class Health(Open):
    """What probes and compose ask: is the process up, on which store, how far behind are the read models."""

    status: Literal["ok", "unavailable"]
    store: Literal["sqlite", "postgres"]
    projections: ProjectionsHealth | None = Field(description="null when the store cannot be read")
