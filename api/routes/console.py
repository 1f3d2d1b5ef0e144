"""What the console needs beyond the queries: finding a household, any table as a workbook,
and the console's own files (``/console/``, served by the project: no CDN)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from api.auth import READERS, ActorDep
from api.deps import ReadNow
from api.routes.common import problem_responses, spreadsheet
from api.schemas.admin import Me
from api.schemas.households import HouseholdSearch
from domain.access import require_role, sees_pii
from projections import sheets
from projections.search import search

router = APIRouter(prefix="/v1", tags=["console"])

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"

Cell = str | int | float | bool | None


class SheetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=31)]
    headers: Annotated[list[Annotated[str, Field(max_length=200)]], Field(min_length=1, max_length=100)]
    rows: Annotated[list[Annotated[list[Cell], Field(max_length=100)]], Field(max_length=20_000)]


class WorkbookIn(BaseModel):
    """A table the console shows, to be saved as a workbook."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=200)]
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$", description="the file's name, without .xlsx")]
    query: dict[str, Annotated[str, Field(max_length=200)] | None] = Field(
        default_factory=dict, description="the question the table answers: division_code, as_of, known_at, …"
    )
    sheets: Annotated[list[SheetIn], Field(min_length=1, max_length=20)]


@router.get(
    "/me",
    response_model=Me,
    responses=problem_responses(401),
    summary="The token's actor: name, role and division scope",
)
def whoami(actor: ActorDep) -> Me:
    """What the console shows beside the language switch, and how it knows which panels the role may read."""
    return Me.model_validate({**actor.as_dict(), "sees_personal_data": sees_pii(actor)})


@router.get(
    "/households",
    response_model=HouseholdSearch,
    responses=problem_responses(401, 403, 422),
    summary="Find households by registry number or (investigators, admins) by the head's name or ID number",
)
def find_households(
    ask: ReadNow,
    q: Annotated[str, Query(min_length=1, max_length=50, description="a registry number (or part of one), "
                            "a name (or part of one) or an ID number")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> HouseholdSearch:
    """Each household where it is now, in the token's scope: `household_id`, `status`, `division_code`,
    `persons`, the head's `head_name` and `head_id_number` (masked as on rosters) and what `matched`.
    Names and ID numbers are searched only for roles that may see them."""
    actor = ask.actor
    require_role(actor, *READERS)
    found = search(ask.read_model, q, prefix=actor.division, people=sees_pii(actor), limit=limit)
    return HouseholdSearch.model_validate(ask.masked({"query": q, "households": found}))


@router.post(
    "/sheets",
    responses={200: {"content": {sheets.XLSX: {"schema": {"type": "string", "format": "binary"}}}},
               **problem_responses(401, 403, 413, 422)},
    summary="Any table as an xlsx workbook (what the console shows, to download)",
)
def workbook(body: Annotated[WorkbookIn, Body()], actor: ActorDep) -> Response:
    """The tables given, with their Chinese headers and the question they answer written above
    them. Nothing is read from the store: a reader turns what it was shown into a file."""
    require_role(actor, *READERS)
    tables = [sheets.Sheet(s.title, list(s.headers), [list(r) for r in s.rows]) for s in body.sheets]
    return spreadsheet("xlsx", tables, dict(body.query), body.title, body.name)


class ConsoleFiles(StaticFiles):
    """The console's files, with a policy that lets them load only from this server."""

    async def get_response(self, path: str, scope: Scope) -> Any:
        response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-cache"
        return response


def mount_console(app: Any) -> None:
    app.mount("/console", ConsoleFiles(directory=CONSOLE_DIR, html=True), name="console")
