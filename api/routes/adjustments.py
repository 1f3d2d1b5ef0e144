"""The dynamic-adjustment cycle report (三年动态调整) of a division, and how it changed
since it was filed."""

from __future__ import annotations

from datetime import UTC, date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import KnownAtQuery, ReadKnownAt, moment
from api.routes.common import DivisionPrefixPath, Format, query_errors, report, spreadsheet
from api.schemas.reports import AdjustmentDifference, AdjustmentReport
from domain.errors import InvalidInput
from domain.moments import end_of_day
from projections import labels, sheets
from service.registry import Registry

router = APIRouter(prefix="/v1/adjustments", tags=["queries"])


def _check_period(start: date, end: date) -> None:
    if start > end:
        raise InvalidInput(
            f"起始日期 {start} 晚于结束日期 {end}",
            detail_en=f"start {start} is after end {end}",
            rule="period_order",
            errors=[{"loc": ["query", "start"], "msg": "must not be after end"}],
        )


def _cycle_start(registry: Registry, division_code: str, on: date) -> date:
    """The first day of the adjustment cycle that contains ``on`` (policy: length and anchor year)."""
    try:
        policy = registry.policy_book().resolve(division_code, on)
    except LookupError:
        return date(on.year, 1, 1)
    years, anchor = policy.adjustment_cycle_years, policy.adjustment_anchor_year
    return date(max(1, anchor + (on.year - anchor) // years * years), 1, 1)


@report(router, AdjustmentReport, "The dynamic-adjustment cycle report (三年动态调整) of a division")
def adjustments(
    division_code: DivisionPrefixPath,
    ask: ReadKnownAt,
    start: Annotated[date | None, Query(description="first day of the cycle; default: the current cycle's")] = None,
    end: Annotated[date | None, Query(description="last day of the cycle; default today")] = None,
    fmt: Format = "json",
) -> AdjustmentReport | Response:
    """Opening, inflows, outflows and closing (households, persons, breakdowns), and whether
    opening + inflows − outflows = closing."""
    ask.require_division(division_code)
    end = end or ask.as_of
    start = start or _cycle_start(ask.registry, division_code, end)
    _check_period(start, end)
    with query_errors():
        found = ask.read_model.adjustments(division_code, start, end, ask.known_at)
    if fmt != "json":
        return spreadsheet(fmt, sheets.report_sheets(found), found, f"动态调整报表 {division_code} {start}—{end}",
                           f"adjustments-{division_code}-{start}-{end}")
    return AdjustmentReport.model_validate(labels.report(found))


@report(router, AdjustmentDifference, "The cycle report as filed at its close versus as known now, and why they differ",
        path="/{division_code}/difference")
def adjustments_difference(
    division_code: DivisionPrefixPath,
    ask: ReadKnownAt,
    start: Annotated[date, Query(description="first day of the cycle")],
    end: Annotated[date, Query(description="last day of the cycle")],
    filed_at: KnownAtQuery = None,
    fmt: Format = "json",
) -> AdjustmentDifference | Response:
    """`filed` (as known at `filed_at`, default the end of the cycle's last day) and `known`
    (as known at `known_at`, default now) reports, their `difference`, and per household the late
    entries, corrections and retractions recorded in between that changed its contribution."""
    ask.require_division(division_code)
    _check_period(start, end)
    tz = ask.registry.settings.tz
    filed = moment(filed_at, ask.registry, "filed_at") or end_of_day(end, tz).astimezone(UTC)
    with query_errors():
        found = ask.read_model.adjustments_diff(division_code, start, end, filed_at=filed, known_at=ask.known_at)
    if fmt != "json":
        return spreadsheet(fmt, sheets.difference_sheets(found), found,
                           f"动态调整报表 上报时与现知对比 {division_code} {start}—{end}",
                           f"adjustments-difference-{division_code}-{start}-{end}")
    return AdjustmentDifference.model_validate(found)
