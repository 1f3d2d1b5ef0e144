"""The answers about a division (docs/api.md "Queries"): its roster, findings, dynamic-adjustment
report and its difference since filed, poverty incidence, and audit trail."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from api.schemas.common import Moment, Number, Open
from api.schemas.households import AuditEvent, FindingOut
from domain.vocab import Status


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


class Count(Open):
    households: int
    persons: int


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
