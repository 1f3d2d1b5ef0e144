"""Policies: ``POST /v1/policies`` (admin) records a version; ``GET /v1/policies`` resolves the rules in force."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Query

from api.auth import ActorDep, RegistryDep, require_reader
from api.routes.common import problem_responses
from api.schemas.admin import PolicyRecorded, ResolvedPolicyOut
from domain.divisions import PREFIX_PATTERN
from domain.policy import PolicyVersion, resolved_json

router = APIRouter(prefix="/v1/policies", tags=["admin"])


@router.post(
    "",
    status_code=201,
    response_model=PolicyRecorded,
    responses=problem_responses(401, 403, 422),
    summary="Record a policy version for a jurisdiction (admin)",
)
def record_policy(body: Annotated[PolicyVersion, Body()], actor: ActorDep, registry: RegistryDep) -> PolicyRecorded:
    """A jurisdiction is a division-code prefix (`""` = national); each setting left out
    is inherited. Policy versions are recorded with both time axes, like events."""
    recorded = registry.record_policy(body, actor=actor)
    assert recorded.recorded_at is not None
    return PolicyRecorded.model_validate({**body.model_dump(mode="json"), "recorded_at": recorded.recorded_at})


@router.get(
    "",
    response_model=ResolvedPolicyOut,
    responses=problem_responses(401, 403, 422),
    summary="The rules in force for a division on a date",
)
def resolved_policy(
    actor: ActorDep,
    registry: RegistryDep,
    division: Annotated[
        str, Query(pattern=PREFIX_PATTERN, description="a division code or prefix")
    ],
    on: Annotated[date | None, Query(description="YYYY-MM-DD; default today")] = None,
) -> ResolvedPolicyOut:
    """Each rule with the jurisdiction, effective date and source it comes from."""
    require_reader(actor, division)
    day = on or registry.today()
    out = resolved_json(registry.policy_book(), division, day)
    return ResolvedPolicyOut.model_validate({"division": division, "on": day.isoformat(), **out})
