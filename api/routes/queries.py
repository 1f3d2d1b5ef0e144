"""Queries: cards, timelines, audit trails, rosters, adjustments, incidence (API.md "Queries").

They answer from the read models (:class:`projections.readmodel.ReadModel`),
never by replaying events per request. ``as_of`` is a valid date (default today),
``known_at`` a transaction moment (default now).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from api.auth import AUDITORS, READERS, ActorDep, RegistryDep, masked_for, require_reader
from api.problems import ServiceUnavailable
from api.routes.common import (
    AsOf,
    DivisionPrefixPath,
    Format,
    HouseholdPath,
    KnownAt,
    household_divisions,
    household_in_scope,
    moment,
    problem_responses,
    spreadsheet,
    spreadsheet_responses,
)
from api.schemas import (
    AdjustmentDifference,
    AdjustmentReport,
    Audit,
    AuditTrail,
    Card,
    Incidence,
    Roster,
    StatusInterval,
)
from domain.access import Forbidden, Role, require_role, require_scope
from domain.errors import InvalidInput, NotFound
from domain.history import Actor
from domain.moments import end_of_day
from domain.vocab import Status
from projections import sheets
from projections.readmodel import ReadModel
from service.registry import Registry

router = APIRouter(tags=["queries"])


def read_model_of(request: Request) -> ReadModel:
    """The app's read model (opened on first use), caught up with the log.

    In the embedded mode the registry projects after each of its own saves; the
    log head is compared here too, so events recorded by another process (the CLI,
    another server) are visible to the next query."""
    return open_read_model_of(request.app)


def open_read_model_of(app: Any) -> ReadModel:
    state = app.state
    with state.read_model_lock:
        if state.read_model is None:
            try:
                from projections import open_read_model
            except ImportError:  # pragma: no cover - a build without the projections
                raise ServiceUnavailable(
                    "此版本不含读模型", detail_en="the read models are not available in this build",
                    rule="read_model_unavailable",
                ) from None
            state.read_model = open_read_model(state.registry)
        read_model: ReadModel = state.read_model
        head = state.registry.recorder.max_notification_id() or 0
        if head > state.read_model_head:
            read_model.catch_up()
            state.read_model_head = head
    return read_model


@contextmanager
def query_errors() -> Iterator[None]:
    """The read models refuse impossible questions with ValueError: a 422."""
    try:
        yield
    except ValueError as exc:
        raise InvalidInput(f"查询无效: {exc}", detail_en=str(exc), rule="invalid_query") from None


def household_scope(actor: Actor, registry: Registry, household_id: str, *roles: Role) -> None:
    require_role(actor, *(roles or READERS))
    if actor.division and not household_in_scope(actor, household_divisions(registry, household_id)):
        raise Forbidden(
            f"贫困户 {household_id} 超出本令牌的权限范围({actor.division})",
            detail_en=f"household {household_id} is outside this token's scope ({actor.division})",
            rule="out_of_scope",
        )


@router.get(
    "/v1/households/{household_id}",
    response_model=Card,
    responses=problem_responses(401, 403, 404, 422),
    summary="The household card as of a date, as known at a moment",
)
def card(
    household_id: HouseholdPath,
    actor: ActorDep,
    registry: RegistryDep,
    request: Request,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> JSONResponse:
    """`404` when the household is not on the register as of / known at then."""
    household_scope(actor, registry, household_id)
    day = as_of or registry.today()
    known = moment(known_at, registry)
    with query_errors():
        found = read_model_of(request).card(household_id, day, known)
    if found is None:
        household_divisions(registry, household_id)  # 404 unknown_household if it never was
        raise NotFound(
            f"贫困户 {household_id} 于 {day} 不在册" + (f"(截至 {known.isoformat()} 所知)" if known else ""),
            detail_en=f"household {household_id} is not on the register as of {day}"
            + (f" as known at {known.isoformat()}" if known else ""),
            rule="not_on_register",
        )
    return JSONResponse(masked_for(actor, found))


@router.get(
    "/v1/households/{household_id}/timeline",
    response_model=list[StatusInterval],
    responses=problem_responses(401, 403, 404, 422),
    summary="Valid-time status intervals, as known at a moment",
)
def timeline(
    household_id: HouseholdPath,
    actor: ActorDep,
    registry: RegistryDep,
    request: Request,
    known_at: KnownAt = None,
) -> JSONResponse:
    """`[{"status", "from", "to"}]`, `to` exclusive (null = open). `404` when nothing of the
    household was recorded by `known_at`."""
    household_scope(actor, registry, household_id)
    known = moment(known_at, registry)
    with query_errors():
        found = read_model_of(request).timeline(household_id, known)
    if found is None:
        household_divisions(registry, household_id)  # 404 unknown_household if it never was
        raise NotFound(
            f"贫困户 {household_id} 在 {known.isoformat() if known else '此时'} 尚未登记",
            detail_en=f"household {household_id} was not yet recorded at {known.isoformat() if known else 'now'}",
            rule="not_on_register",
        )
    return JSONResponse(found)


@router.get(
    "/v1/households/{household_id}/audit",
    response_model=Audit,
    responses=problem_responses(401, 403, 404),
    summary="The audit trail of a household (investigators, admins)",
)
def audit(
    household_id: HouseholdPath, actor: ActorDep, registry: RegistryDep, request: Request
) -> JSONResponse:
    """Every event with both times, who recorded it, reason, evidence, its data and, for
    corrections and retractions, what they changed; plus the integrity proof."""
    household_scope(actor, registry, household_id, *AUDITORS)
    with query_errors():
        found = read_model_of(request).audit(household_id)
    if found is None:
        raise NotFound(
            f"贫困户 {household_id} 未登记", detail_en=f"household {household_id} is not registered",
            rule="unknown_household",
        )
    return JSONResponse(masked_for(actor, found))


@router.get(
    "/v1/rosters/{division_code}",
    response_model=Roster,
    responses={**spreadsheet_responses(), **problem_responses(401, 403, 422)},
    summary="Counts per status and a page of households of a division",
)
def roster(
    division_code: DivisionPrefixPath,
    actor: ActorDep,
    registry: RegistryDep,
    request: Request,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    status: Annotated[Status | None, Query(description="only households in this status")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    fmt: Format = "json",
) -> Response:
    """A household counts in the division it belonged to as of `as_of`. As a spreadsheet
    (`format=xlsx|csv`): the counts and every matching household (not one page)."""
    require_reader(actor, division_code)
    known = moment(known_at, registry)
    model = read_model_of(request)
    day = as_of or registry.today()
    with query_errors():
        found = model.roster(division_code, day, known, status=status.value if status else None, page=page,
                             page_size=page_size)
        if fmt == "json":
            return JSONResponse(masked_for(actor, found))
        rows = []
        for number in range(1, found["rows_total"] // 1000 + 2):
            rows += model.roster(division_code, day, known, status=status.value if status else None, page=number,
                                 page_size=1000)["rows"]
    found = masked_for(actor, found)
    return spreadsheet(fmt, sheets.roster_sheets(found, masked_for(actor, rows)), found,
                       f"贫困户花名册 {division_code} {found.get('division_name') or ''}",
                       f"roster-{division_code}-{day}", csv_table=1)


@router.get(
    "/v1/adjustments/{division_code}",
    response_model=AdjustmentReport,
    responses={**spreadsheet_responses(), **problem_responses(401, 403, 422)},
    summary="The dynamic-adjustment cycle report (三年动态调整) of a division",
)
def adjustments(
    division_code: DivisionPrefixPath,
    actor: ActorDep,
    registry: RegistryDep,
    request: Request,
    start: Annotated[date | None, Query(description="first day of the cycle; default: the current cycle's")] = None,
    end: Annotated[date | None, Query(description="last day of the cycle; default today")] = None,
    known_at: KnownAt = None,
    fmt: Format = "json",
) -> Response:
    """Opening, inflows, outflows and closing (households, persons, breakdowns), and whether
    opening + inflows − outflows = closing."""
    require_reader(actor, division_code)
    end = end or registry.today()
    start = start or _cycle_start(registry, division_code, end)
    if start > end:
        raise InvalidInput(
            f"起始日期 {start} 晚于结束日期 {end}",
            detail_en=f"start {start} is after end {end}",
            rule="period_order",
            errors=[{"loc": ["query", "start"], "msg": "must not be after end"}],
        )
    known = moment(known_at, registry)
    with query_errors():
        found = read_model_of(request).adjustments(division_code, start, end, known)
    if fmt != "json":
        return spreadsheet(fmt, sheets.report_sheets(found), found, f"动态调整报表 {division_code} {start}—{end}",
                           f"adjustments-{division_code}-{start}-{end}")
    return JSONResponse(found)


@router.get(
    "/v1/adjustments/{division_code}/difference",
    response_model=AdjustmentDifference,
    responses={**spreadsheet_responses(), **problem_responses(401, 403, 422)},
    summary="The cycle report as filed at its close versus as known now, and why they differ",
)
def adjustments_difference(
    division_code: DivisionPrefixPath,
    actor: ActorDep,
    registry: RegistryDep,
    request: Request,
    start: Annotated[date, Query(description="first day of the cycle")],
    end: Annotated[date, Query(description="last day of the cycle")],
    filed_at: KnownAt = None,
    known_at: KnownAt = None,
    fmt: Format = "json",
) -> Response:
    """`filed` (as known at `filed_at`, default the end of the cycle's last day) and `known`
    (as known at `known_at`, default now) reports, their `difference`, and per household the late
    entries, corrections and retractions recorded in between that changed its contribution."""
    require_reader(actor, division_code)
    if start > end:
        raise InvalidInput(f"起始日期 {start} 晚于结束日期 {end}", detail_en=f"start {start} is after end {end}",
                           rule="period_order",
                           errors=[{"loc": ["query", "start"], "msg": "must not be after end"}])
    filed = moment(filed_at, registry, "filed_at") or end_of_day(end, registry.settings.tz).astimezone(UTC)
    known = moment(known_at, registry)
    read_model = read_model_of(request)
    with query_errors():
        found = read_model.adjustments_diff(  # type: ignore[attr-defined]
            division_code, start, end, filed_at=filed, known_at=known
        )
    if fmt != "json":
        return spreadsheet(fmt, sheets.difference_sheets(found), found,
                           f"动态调整报表 上报时与现知对比 {division_code} {start}—{end}",
                           f"adjustments-difference-{division_code}-{start}-{end}")
    return JSONResponse(found)


def _cycle_start(registry: Registry, division_code: str, on: date) -> date:
    """The first day of the adjustment cycle that contains ``on`` (policy: length and anchor year)."""
    try:
        policy = registry.policy_book().resolve(division_code, on)
    except LookupError:
        return date(on.year, 1, 1)
    years, anchor = policy.adjustment_cycle_years, policy.adjustment_anchor_year
    return date(max(1, anchor + (on.year - anchor) // years * years), 1, 1)


@router.get(
    "/v1/divisions/{division_code}/incidence",
    response_model=Incidence,
    responses={**spreadsheet_responses(), **problem_responses(401, 403, 404, 422)},
    summary="Poverty incidence (贫困发生率) of a division",
)
def incidence(
    division_code: DivisionPrefixPath,
    actor: ActorDep,
    registry: RegistryDep,
    request: Request,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    fmt: Format = "json",
) -> Response:
    """Persons in poor and returned households ÷ the division's rural registered population."""
    require_reader(actor, division_code)
    known = moment(known_at, registry)
    day = as_of or registry.today()
    with query_errors():
        found = read_model_of(request).incidence(division_code, day, known)
    if fmt != "json":
        return spreadsheet(fmt, sheets.incidence_sheets(found), found, f"贫困发生率 {division_code}",
                           f"incidence-{division_code}-{day}")
    return JSONResponse(found)



@router.get(
    "/v1/audit",
    response_model=AuditTrail,
    responses=problem_responses(401, 403, 422),
    summary="The audit trail of a division or of an actor (investigators, admins)",
)
def audit_trail(
    actor: ActorDep,
    request: Request,
    division: Annotated[
        str | None,
        Query(pattern=r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$",
              description="every household that has been in the division, and its reference data"),
    ] = None,
    recorded_by: Annotated[str | None, Query(min_length=1, max_length=200, description="an actor's name")] = None,
    after: Annotated[int, Query(ge=0, le=2**62, description="the last position seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """Events in recording order after `after`, with both times, actor, reason, evidence, data, what
    corrections changed and the hash chain. Give exactly one of `division` and `recorded_by`; a
    scoped token gives a division inside its scope."""
    require_role(actor, *AUDITORS)
    if (division is None) == (recorded_by is None):
        raise InvalidInput("division 与 recorded_by 须且只须给出一个",
                           detail_en="give exactly one of division and recorded_by", rule="audit_subject",
                           errors=[{"loc": ["query"], "msg": "exactly one of division, recorded_by"}])
    if division is not None:
        require_scope(actor, division)
    elif actor.division:
        raise Forbidden(
            "限定区划的令牌只能按区划查阅审计记录",
            detail_en="a token scoped to a division reads audit trails by division", rule="out_of_scope",
        )
    read_model = read_model_of(request)
    with query_errors():
        found = read_model.audit_trail(  # type: ignore[attr-defined]
            division_prefix=division, actor=recorded_by, after=after, limit=limit
        )
    return JSONResponse(masked_for(actor, found))
