"""Divisions: ``PUT /v1/divisions/{code}`` (admin) and ``GET /v1/divisions/{code}``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from fastapi.responses import JSONResponse

from api.auth import ActorDep, RegistryDep, require_reader
from api.routes.common import problem_responses
from api.schemas import DivisionOut, DivisionRequest
from domain.divisions import REGISTERED_PATTERN, level
from domain.household import Division
from service.registry import Registry

router = APIRouter(tags=["divisions"])

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
    "/v1/divisions/{code}",
    response_model=DivisionOut,
    status_code=200,
    responses={201: {"model": DivisionOut, "description": "registered"}, **problem_responses(401, 403, 422)},
    summary="Register or update a division (admin)",
)
def put_division(
    code: DivisionCode, body: Annotated[DivisionRequest, Body()], actor: ActorDep, registry: RegistryDep
) -> JSONResponse:
    """`201` when the division is new, `200` when it is updated (or unchanged). A village's
    township and county must exist. Admins only, in their scope."""
    division, created = registry.put_division(
        code, body.name, body.rural_population, body.effective_date, actor=actor
    )
    return JSONResponse(
        division_json(registry, division),
        status_code=201 if created else 200,
        headers={"Location": f"/v1/divisions/{code}"},
    )


@router.get(
    "/v1/divisions/{code}",
    response_model=DivisionOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="Read a division",
)
def get_division(code: DivisionCode, actor: ActorDep, registry: RegistryDep) -> JSONResponse:
    require_reader(actor, code)
    return JSONResponse(division_json(registry, registry.division(code)))
