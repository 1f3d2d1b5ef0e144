"""A division's work lists and progress: ``GET /v1/divisions/{code}/progress``,
``…/revisits-due`` (回头看) and ``…/without-helper`` (定责任人), as of D and known at K."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import Read
from api.routes.common import DivisionPrefixPath, problem_responses, query_errors
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
                                     ask.known_at)


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
