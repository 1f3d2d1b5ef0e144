"""What the routes share: path parameters, the problem responses they document, query
errors, and the spreadsheet answers of the reports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel

from api.schemas.common import Problem
from domain.divisions import PREFIX_PATTERN
from domain.errors import InvalidInput
from projections import sheets

Endpoint = Callable[..., Any]

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

_DESCRIPTIONS = {
    401: "no token, or an unknown, revoked or expired one",
    403: "the token's role may not do this, or the division is outside its scope",
    404: "unknown household, division, token or route",
    409: "illegal transition or rule violated, expected_version mismatch, or Idempotency-Key reused",
    413: "the request body is over POVREG_MAX_BODY_BYTES",
    422: "invalid input (the problem's `errors` lists the fields)",
    503: "the read models are not available",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": Problem, "description": _DESCRIPTIONS[status]} for status in statuses}


@contextmanager
def query_errors() -> Iterator[None]:
    """The read models refuse impossible questions with ValueError: a 422."""
    try:
        yield
    except ValueError as exc:
        raise InvalidInput(f"查询无效: {exc}", detail_en=str(exc), rule="invalid_query") from None


Format = Annotated[
    Literal["json", "xlsx", "csv"],
    Query(alias="format", description="`xlsx` or `csv` for a spreadsheet with Chinese headers and the query's "
          "parameters in it; default JSON"),
]


def report(router: APIRouter, model: type[BaseModel], summary: str, *statuses: int,
           path: str = "/{division_code}") -> Callable[[Endpoint], Endpoint]:
    """``@router.get(path)`` of a report: ``model`` as JSON or, with ``format`` (:data:`Format`), an
    xlsx or CSV spreadsheet (:func:`spreadsheet`); refused with ``statuses`` (default 401, 403, 422)."""
    media = {sheets.XLSX: {"schema": {"type": "string", "format": "binary"}},
             "text/csv": {"schema": {"type": "string"}}}
    responses: dict[int | str, dict[str, Any]] = {200: {"content": media}}
    responses.update(problem_responses(*(statuses or (401, 403, 422))))
    return router.get(path, response_model=model, summary=summary, responses=responses)


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
