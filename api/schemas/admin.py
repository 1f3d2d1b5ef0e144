"""The bodies of reference data and administration: divisions, policies, tokens, and health."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Moment, Number, Open
from domain.access import Role
from domain.divisions import Scope
from domain.policy import PolicySettings

DivisionPrefix = Scope


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



class Me(Open):
    """``GET /v1/me``: the token's actor, and whether its role sees personal data unmasked."""

    name: str
    role: Role
    division: str = Field(description="the division-code prefix the token is scoped to ('' = everywhere)")
    sees_personal_data: bool

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


class ProjectionsHealth(Open):
    position: int = Field(description="the last log position every read model has applied")
    head: int = Field(description="the last position recorded in the log")
    lag: int = Field(description="head − position: events recorded but not yet in the read models")


class Health(Open):
    """What probes and compose ask: is the process up, on which store, how far behind are the read models."""

    status: Literal["ok", "unavailable"]
    store: Literal["sqlite", "postgres"]
    projections: ProjectionsHealth | None = Field(description="null when the store cannot be read")
