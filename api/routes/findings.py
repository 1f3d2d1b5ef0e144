"""``GET /v1/findings/{division_code}``: the decisions that facts show wrong, per division."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import Read
from api.routes.common import DivisionPrefixPath, Format, query_errors, report, spreadsheet
from api.schemas.reports import Findings
from domain.access import Role
from projections import sheets

router = APIRouter(prefix="/v1/findings", tags=["queries"])


@report(router, Findings,
        "Decisions the facts show wrong (findings) in a division, as of a date, as known at a moment")
def findings(
    division_code: DivisionPrefixPath,
    ask: Read,
    state: Annotated[Literal["open", "resolved", "all"], Query(description="which findings to list")] = "all",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    fmt: Format = "json",
) -> Findings | Response:
    """`counts` of open and resolved findings and a page of them, each with its household.
    A finding shows from its decision's effective date on (`as_of`) and from the moment the
    facts showing it were recorded (`known_at`); it is resolved as of the date of the decision
    that acted on it. Approvers, investigators and admins, within their scope. As a spreadsheet
    (`format=xlsx|csv`): the counts and every finding listed (not one page)."""
    ask.require_division(division_code, Role.APPROVER, Role.INVESTIGATOR, Role.ADMIN)
    with query_errors():
        found = ask.read_model.findings(
            division_code, ask.as_of, ask.known_at, state=state, page=page, page_size=page_size
        )
        if fmt != "json":
            found = ask.read_model.findings(division_code, ask.as_of, ask.known_at, state=state, page=1,
                                            page_size=max(1, found["total"]))
    if fmt != "json":
        found = ask.masked(found)
        return spreadsheet(fmt, sheets.findings_sheets(found), found, f"问题清单 {division_code}",
                           f"findings-{division_code}-{ask.as_of}", csv_table=1)
    return Findings.model_validate(ask.masked(found))
