"""Divisions: ``PUT /v1/divisions/{code}`` (admin), ``GET /v1/divisions/{code}`` and its
poverty incidence."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response

from api.auth import ActorDep, RegistryDep, require_reader
from api.deps import Read
from api.routes.common import DivisionPrefixPath, Format, problem_responses, query_errors, report, spreadsheet
from api.schemas.admin import DivisionOut, DivisionRequest
from api.schemas.reports import Incidence
from domain.divisions import REGISTERED_PATTERN, level
from domain.reference import Division
from projections import sheets
from service.registry import Registry

router = APIRouter(prefix="/v1/divisions", tags=["divisions"])

DivisionCode = Annotated[
    str,
    Path(
        pattern=REGISTERED_PATTERN,
        description="6 (county), 9 (township) or 12 (village) digits",
        examples=["620422100201"],
    ),
]


def division_json(registry: Registry, division: Division) -> dict[str, Any]:
    current = registry.population_on(division, registry.today()) or division.versions[-1]
    return {
        "code": division.code,
        "level": level(division.code),
        "name": current.name,
        "rural_population": current.rural_population,
        "effective_date": current.effective_date.isoformat(),
        "recorded_at": current.recorded_at.isoformat(timespec="microseconds"),
        "versions": [
            {
                "name": v.name,
                "rural_population": v.rural_population,
                "effective_date": v.effective_date.isoformat(),
                "recorded_at": v.recorded_at.isoformat(timespec="microseconds"),
            }
            for v in division.versions
        ],
    }


@router.put(
    "/{code}",
    response_model=DivisionOut,
    status_code=200,
    responses={201: {"model": DivisionOut, "description": "registered"}, **problem_responses(401, 403, 422)},
    summary="Register or update a division (admin)",
)
def put_division(
    code: DivisionCode,
    body: Annotated[DivisionRequest, Body()],
    actor: ActorDep,
    registry: RegistryDep,
    response: Response,
) -> DivisionOut:
    """`201` when the division is new, `200` when it is updated (or unchanged). A village's
    township and county must exist. Admins only, in their scope."""
    division, created = registry.put_division(
        code, body.name, body.rural_population, body.effective_date, actor=actor
    )
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"{router.prefix}/{code}"
    return DivisionOut.model_validate(division_json(registry, division))


@router.get(
    "/{code}",
    response_model=DivisionOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="Read a division",
)
def get_division(code: DivisionCode, actor: ActorDep, registry: RegistryDep) -> DivisionOut:
    require_reader(actor, code)
    return DivisionOut.model_validate(division_json(registry, registry.division(code)))


@report(router, Incidence, "Poverty incidence (贫困发生率) of a division", 401, 403, 404, 422,
        path="/{division_code}/incidence")
def incidence(division_code: DivisionPrefixPath, ask: Read, fmt: Format = "json") -> Incidence | Response:
    """Persons in poor and returned households ÷ the division's rural registered population."""
    ask.require_division(division_code)
    with query_errors():
        found = ask.read_model.incidence(division_code, ask.as_of, ask.known_at)
    if fmt != "json":
        return spreadsheet(fmt, sheets.incidence_sheets(found), found, f"贫困发生率 {division_code}",
                           f"incidence-{division_code}-{ask.as_of}")
    return Incidence.model_validate(found)
