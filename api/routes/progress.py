"""A division's work lists, progress and decisions: ``GET /v1/divisions/{code}/progress``,
``…/revisits-due`` (回头看), ``…/without-helper`` (定责任人), as of D and known at K; and
``POST …/decisions`` (贫困村出列, 贫困县摘帽), judged against the rosters."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Read
from api.routes.common import DivisionPrefixPath, problem_responses, query_errors
from domain import progress as progress_rules
from domain.reference import DivisionDecision
from projections import lists

router = APIRouter(prefix="/v1/divisions", tags=["divisions"])


@router.get(
    "/{division_code}/progress",
    responses=problem_responses(401, 403, 422),
    summary="Yearly targets of a division beside what its rosters show",
)
def progress(division_code: DivisionPrefixPath, ask: Read) -> dict[str, Any]:
    """Each target year up to `as_of` (policy `targets` of the division itself): persons and
    households exited in the year, incidence at its end (percent), and whether each target is
    met (`null` while the year is not over)."""
    ask.require_division(division_code)
    with query_errors():
        return lists.progress_report(ask.read_model, ask.registry.policy_book(), division_code, ask.as_of,
                                     ask.known_at, ask.registry)


@router.get(
    "/{division_code}/revisits-due",
    responses=problem_responses(401, 403, 422),
    summary="Exited households due for 回头看 by as_of",
)
def revisits_due(division_code: DivisionPrefixPath, ask: Read) -> dict[str, Any]:
    """Due `revisit_interval_days` after the exit or the latest revisit since; most overdue first."""
    ask.require_division(division_code)
    with query_errors():
        return ask.masked(lists.revisits_due(ask.read_model, ask.registry.policy_book(), division_code,
                                             ask.as_of, ask.known_at))


@router.get(
    "/{division_code}/without-helper",
    responses=problem_responses(401, 403, 422),
    summary="Poor households without a responsible helper (定责任人) on as_of",
)
def without_helper(division_code: DivisionPrefixPath, ask: Read) -> dict[str, Any]:
    """Poor, returned and exit_pending households with no HelperAssigned and no measure naming
    a helper."""
    ask.require_division(division_code)
    with query_errors():
        return ask.masked(lists.without_helper(ask.read_model, division_code, ask.as_of, ask.known_at))


class DivisionDecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["VillageExited", "CountyDelisted"] = Field(
        description="VillageExited (贫困村出列, a 12-digit village) or CountyDelisted (贫困县摘帽, a 6-digit county)")
    effective_date: date
    reason: Annotated[str, Field(max_length=2000)] | None = None
    evidence: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list, max_length=50)


def decision_json(code: str, d: DivisionDecision) -> dict[str, Any]:
    return {
        "division_code": code, "type": d.type, "label": progress_rules.DIVISION_DECISIONS[d.type][2],
        "effective_date": d.effective_date.isoformat(), "reason": d.reason, "evidence": list(d.evidence),
        "recorded_by": d.recorded_by.as_dict(), "recorded_at": d.recorded_at.isoformat(timespec="microseconds"),
        "poor_persons": d.poor_persons, "population": d.population,
        "incidence": round(d.poor_persons / d.population * 100, 4) if d.population else None,
    }


@router.post(
    "/{division_code}/decisions",
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Record a village's 出列 or a county's 摘帽 (approvers, admins)",
)
def record_decision(division_code: DivisionPrefixPath, body: Annotated[DivisionDecisionRequest, Body()],
                    ask: Read) -> JSONResponse:
    """Refused (`409 division_incidence_too_high`) unless the division's poverty incidence on
    `effective_date`, from the rosters as now known, is below the policy's criterion
    (`village_exit_max_incidence` / `county_delist_max_incidence`)."""
    model = ask.read_model
    model.catch_up()
    with query_errors():
        found = model.incidence(division_code, body.effective_date, None)
    decision = ask.registry.record_division_decision(
        division_code, body.type, body.effective_date, (int(found["poor_persons"]), found["population"]),
        actor=ask.actor, reason=body.reason, evidence=body.evidence,
    )
    return JSONResponse(decision_json(division_code, decision), status_code=201)


@router.get(
    "/{division_code}/decisions",
    responses=problem_responses(401, 403, 422),
    summary="The 出列 / 摘帽 decisions of a division",
)
def decisions(division_code: DivisionPrefixPath, ask: Read) -> list[dict[str, Any]]:
    ask.require_division(division_code)
    return [decision_json(division_code, d) for d in ask.registry.division_decisions(division_code)]
