"""``GET /v1/audit``: the audit trail of a division or of an actor (investigators, admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import AUDITORS
from api.deps import ReadNow
from api.routes.common import problem_responses, query_errors
from api.schemas.reports import AuditTrail
from domain.access import Forbidden, require_role, require_scope
from domain.divisions import PREFIX_PATTERN
from domain.errors import InvalidInput

router = APIRouter(prefix="/v1/audit", tags=["queries"])


@router.get(
    "",
    response_model=AuditTrail,
    responses=problem_responses(401, 403, 422),
    summary="The audit trail of a division or of an actor (investigators, admins)",
)
def audit_trail(
    ask: ReadNow,
    division: Annotated[
        str | None,
        Query(pattern=PREFIX_PATTERN, description="every household that has been in the division, and its "
              "reference data"),
    ] = None,
    recorded_by: Annotated[str | None, Query(min_length=1, max_length=200, description="an actor's name")] = None,
    after: Annotated[int, Query(ge=0, le=2**62, description="the last position seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditTrail:
    """Events in recording order after `after`, with both times, actor, reason, evidence, data, what
    corrections changed and the hash chain. Give exactly one of `division` and `recorded_by`; a
    scoped token gives a division inside its scope."""
    require_role(ask.actor, *AUDITORS)
    if (division is None) == (recorded_by is None):
        raise InvalidInput("division 与 recorded_by 须且只须给出一个",
                           detail_en="give exactly one of division and recorded_by", rule="audit_subject",
                           errors=[{"loc": ["query"], "msg": "exactly one of division, recorded_by"}])
    if division is not None:
        require_scope(ask.actor, division)
    elif ask.actor.division:
        raise Forbidden(
            "限定区划的令牌只能按区划查阅审计记录",
            detail_en="a token scoped to a division reads audit trails by division", rule="out_of_scope",
        )
    with query_errors():
        found = ask.read_model.audit_trail(division_prefix=division, actor=recorded_by, after=after, limit=limit)
    return AuditTrail.model_validate(ask.masked(found))
