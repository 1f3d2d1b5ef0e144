"""``GET /v1/rosters/{division_code}``: counts per status and a page of households."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import Read
from api.routes.common import DivisionPrefixPath, Format, query_errors, report, spreadsheet
from api.schemas.reports import Roster
from domain.vocab import Status
from projections import labels, sheets

router = APIRouter(prefix="/v1/rosters", tags=["queries"])


@report(router, Roster, "Counts per status and a page of households of a division")
def roster(
    division_code: DivisionPrefixPath,
    ask: Read,
    status: Annotated[Status | None, Query(description="only households in this status")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    fmt: Format = "json",
) -> Roster | Response:
    """A household counts in the division it belonged to as of `as_of`. As a spreadsheet
    (`format=xlsx|csv`): the counts and every matching household (not one page)."""
    ask.require_division(division_code)
    only = status.value if status else None
    model, day = ask.read_model, ask.as_of
    with query_errors():
        found = model.roster(division_code, day, ask.known_at, status=only, page=page, page_size=page_size)
        if fmt == "json":
            return Roster.model_validate(labels.roster(ask.masked(found)))
        rows = []
        for number in range(1, found["rows_total"] // 1000 + 2):
            rows += model.roster(division_code, day, ask.known_at, status=only, page=number, page_size=1000)["rows"]
    found = ask.masked(found)
    return spreadsheet(fmt, sheets.roster_sheets(found, ask.masked(rows)), found,
                       f"贫困户花名册 {division_code} {found.get('division_name') or ''}",
                       f"roster-{division_code}-{day}", csv_table=1)
