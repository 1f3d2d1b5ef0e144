"""What the routes share: path and query parameters, problem responses, scope of a household."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from fastapi.responses import Response

from api.schemas import Problem
from domain.access import in_scope
from domain.divisions import PREFIX_PATTERN
from domain.errors import InvalidInput, NotFound
from domain.history import Actor, effective_events
from domain.moments import parse_known_at
from projections import sheets
from service.registry import Registry, _check_household_id

HouseholdPath = Annotated[
    str,
    Path(min_length=1, max_length=200, description="the registry number (户编号)", examples=["H-DEMO-0002"]),
]
DivisionPrefixPath = Annotated[
    str,
    Path(
        pattern=PREFIX_PATTERN,
        description="a division code or prefix: 2 (province), 4 (prefecture), 6 (county), 9 (township) "
        "or 12 (village) digits",
        examples=["620422"],
    ),
]
AsOf = Annotated[date | None, Query(description="valid date (YYYY-MM-DD); default today")]
KnownAt = Annotated[
    str | None,
    Query(
        max_length=64,
        description="transaction-time moment: ISO 8601 with offset (e.g. 2018-01-15T12:00:00+08:00), or a "
        "date meaning the end of that day in the registry's time zone; default now",
        examples=["2018-01-15", "2018-01-15T12:00:00+08:00"],
    ),
]

_DESCRIPTIONS = {
    401: "no token, or an unknown, revoked or expired one",
    403: "the token's role may not do this, or the division is outside its scope",
    404: "unknown household, division, token or route",
    409: "illegal transition or rule violated, expected_version mismatch, or Idempotency-Key reused",
    422: "invalid input (the problem's `errors` lists the fields)",
    503: "the read models are not available",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": Problem, "description": _DESCRIPTIONS[status]} for status in statuses}


def known_household_id(household_id: str) -> None:
    """A path that cannot be a registry number names no household (404, never another aggregate)."""
    try:
        _check_household_id(household_id)
    except InvalidInput:
        raise NotFound(f"household {household_id} is not registered", rule="unknown_household") from None


def moment(value: str | None, registry: Registry, name: str = "known_at") -> datetime | None:
    if value is None:
        return None
    try:
        # In UTC: the same instant, and an offset RFC 3339 can write (zoneinfo gives far-past
        # dates local mean time, e.g. +08:05:43).
        parsed = parse_known_at(value, registry.settings.tz).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(
            (str(exc) if isinstance(exc, ValueError) else f"{value!r} is out of range").replace("known_at", name),
            rule=f"{name}_format",
            errors=[{"loc": ["query", name], "msg": "an ISO 8601 moment with offset, or a date"}],
        ) from None
    return parsed


def household_divisions(registry: Registry, household_id: str) -> set[str]:
    """Every village the household has belonged to, as now known (404 if unknown)."""
    known_household_id(household_id)
    history = registry.history(household_id)
    return {
        ev.body.division_code  # type: ignore[attr-defined]
        for ev in effective_events(history)
        if hasattr(ev.body, "division_code")
    }


def household_in_scope(actor: Actor, divisions: set[str]) -> bool:
    """A household is in a token's scope if any village it has belonged to is under its prefix."""
    return any(in_scope(actor, code) for code in divisions)


Format = Annotated[
    Literal["json", "xlsx", "csv"],
    Query(alias="format", description="`xlsx` or `csv` for a spreadsheet with Chinese headers and the query's "
          "parameters in it; default JSON"),
]


def spreadsheet_responses() -> dict[int | str, dict[str, Any]]:
    """The 200 answer's other media types, for the OpenAPI document."""
    return {200: {"content": {sheets.XLSX: {"schema": {"type": "string", "format": "binary"}},
                              "text/csv": {"schema": {"type": "string"}}}}}


def spreadsheet(fmt: str, tables: list[sheets.Sheet], query: dict[str, Any], title: str, name: str,
                csv_table: int = 0) -> Response:
    """``tables`` as an xlsx workbook or as CSV (the ``csv_table``-th table), as an attachment."""
    if fmt == "xlsx":
        content: bytes | str = sheets.xlsx_bytes(tables, query, title)
        media, suffix = sheets.XLSX, "xlsx"
    else:
        content, media, suffix = sheets.csv_text(tables[csv_table], query), sheets.CSV, "csv"
    filename = f"{name}.{suffix}"
    return Response(content, media_type=media,
                    headers={"Content-Disposition": f"attachment; filename=\"{filename}\""})
