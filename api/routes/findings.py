"""``GET /v1/findings/{division_code}``: the decisions that facts show wrong, per division."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import Read
from api.routes.common import DivisionPrefixPath, problem_responses, query_errors
from api.schemas import Findings
from domain.access import Role

router = APIRouter(prefix="/v1/findings", tags=["queries"])


@router.get(
    "/{division_code}",
    response_model=Findings,
    responses=problem_responses(401, 403, 422),
    summary="Decisions the facts show wrong (findings) in a division, as of a date, as known at a moment",
)
def findings(
    division_code: DivisionPrefixPath,
    ask: Read,
    state: Annotated[Literal["open", "resolved", "all"], Query(description="which findings to list")] = "all",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Findings:
    """`counts` of open and resolved findings and a page of them, each with its household.
    A finding shows from its decision's effective date on (`as_of`) and from the moment the
    facts showing it were recorded (`known_at`); it is resolved as of the date of the decision
    that acted on it. Approvers, investigators and admins, within their scope."""
    ask.require_division(division_code, Role.APPROVER, Role.INVESTIGATOR, Role.ADMIN)
    with query_errors():
        found = ask.read_model.findings(
            division_code, ask.as_of, ask.known_at, state=state, page=page, page_size=page_size
        )
    return Findings.model_validate(ask.masked(found))
