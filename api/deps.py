"""The queries' dependency: a :class:`Reading` — the actor, ``as_of``, ``known_at``
and the read model, parsed once per request (who the actor is: :mod:`api.auth`).

The three ``Read*`` types differ only in the query parameters they declare (a route's
OpenAPI document lists only those it reads): :data:`Read` takes ``as_of`` and
``known_at``, :data:`ReadKnownAt` only ``known_at``, :data:`ReadNow` neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from api.auth import READERS, ActorDep, masked_for, registry_of, require_reader
from domain.access import Forbidden, Role, in_scope, require_role
from domain.errors import InvalidInput, NotFound
from domain.history import Actor
from domain.moments import parse_known_at
from projections import SqlReadModel, open_read_model
from service.households import check_household_id
from service.registry import Registry

# ------------------------------------------------------------ the read model


def open_read_model_of(app: Any) -> SqlReadModel:
    """The app's read model (opened on first use), caught up with the log.

    In the embedded mode the registry projects after each of its own saves; the log
    head is compared here too, so events recorded by another process (the CLI,
    another server) are visible to the next query."""
    state = app.state
    with state.read_model_lock:
        if state.read_model is None:
            state.read_model = open_read_model(state.registry)
        read_model: SqlReadModel = state.read_model
    head = state.registry.recorder.max_notification_id() or 0
    if head > state.read_model_head:
        # The tables are shared: a writer of this process or another has usually
        # projected its events already (the embedded mode), so look before locking; and
        # while one is projecting, do not queue behind it (every acknowledged write is
        # projected before its answer).
        if read_model.behind(head):
            with state.read_model_lock:
                read_model.catch_up(wait=False)
            if read_model.behind(head):
                return read_model  # being projected right now: the next query looks again
        state.read_model_head = max(state.read_model_head, head)
    return read_model


# ------------------------------------------------------------ query parameters

AsOfQuery = Annotated[date | None, Query(description="valid date (YYYY-MM-DD); default today")]
KnownAtQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="transaction-time moment: ISO 8601 with offset (e.g. 2018-01-15T12:00:00+08:00), or a "
        "date meaning the end of that day in the registry's time zone; default now",
        examples=["2018-01-15", "2018-01-15T12:00:00+08:00"],
    ),
]


def moment(value: str | None, registry: Registry, name: str = "known_at") -> datetime | None:
    """A transaction-time query parameter as an instant (None: now); a bad one is a 422."""
    if value is None:
        return None
    try:
        # In UTC: the same instant, and an offset RFC 3339 can write (zoneinfo gives far-past
        # dates local mean time, e.g. +08:05:43).
        return parse_known_at(value, registry.settings.tz).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(
            f"{name} 应为带时区的 ISO 8601 时刻或日期: {value!r}",
            detail_en=(str(exc) if isinstance(exc, ValueError) else f"{value!r} is out of range").replace(
                "known_at", name),
            rule=f"{name}_format",
            errors=[{"loc": ["query", name], "msg": "an ISO 8601 moment with offset, or a date"}],
        ) from None


def unknown_household(household_id: str) -> NotFound:
    return NotFound(f"贫困户 {household_id} 未登记", detail_en=f"household {household_id} is not registered",
                    rule="unknown_household")


def known_household_id(household_id: str) -> None:
    """A path that cannot be a registry number names no household (404, never another aggregate)."""
    try:
        check_household_id(household_id)
    except InvalidInput:
        raise unknown_household(household_id) from None


# ------------------------------------------------------------------ reading


@dataclass(frozen=True)
class Reading:
    """One query's question: who asks, as of which day, as known at which moment, of
    which read model. ``known_at`` None means everything recorded so far."""

    actor: Actor
    registry: Registry
    read_model: SqlReadModel
    as_of: date
    known_at: datetime | None

    def require_division(self, division_code: str, *roles: Role) -> None:
        """403 unless the actor has one of ``roles`` (default: the reading roles) and
        ``division_code`` is inside its scope."""
        require_reader(self.actor, division_code, *roles)

    def household_divisions(self, household_id: str) -> set[str]:
        """Every division the household has belonged to, as now known (404 if nothing
        of it was ever recorded)."""
        known_household_id(household_id)
        divisions = self.read_model.household_divisions(household_id)
        if divisions is None:
            raise unknown_household(household_id)
        return divisions

    def require_household(self, household_id: str, *roles: Role) -> None:
        """403 unless the actor has one of ``roles`` (default: the reading roles) and the
        household has belonged to a division in its scope; 404 for an unknown household."""
        require_role(self.actor, *(roles or READERS))
        divisions = self.household_divisions(household_id)
        if self.actor.division and not any(in_scope(self.actor, code) for code in divisions):
            raise Forbidden(
                f"贫困户 {household_id} 超出本令牌的权限范围({self.actor.division})",
                detail_en=f"household {household_id} is outside this token's scope ({self.actor.division})",
                rule="out_of_scope",
            )

    def masked(self, data: Any) -> Any:
        return masked_for(self.actor, data)

    def not_on_register(self, household_id: str) -> NotFound:
        """The 404 of a household that is not on the register as of / known at this question's times."""
        known = self.known_at.isoformat() if self.known_at else None
        return NotFound(
            f"贫困户 {household_id} 于 {self.as_of} 不在册" + (f"(截至 {known} 所知)" if known else ""),
            detail_en=f"household {household_id} is not on the register as of {self.as_of}"
            + (f" as known at {known}" if known else ""),
            rule="not_on_register",
        )


def _reading(request: Request, actor: Actor, as_of: date | None, known_at: str | None) -> Reading:
    registry = registry_of(request)
    return Reading(
        actor=actor,
        registry=registry,
        read_model=open_read_model_of(request.app),
        as_of=as_of or registry.today(),
        known_at=moment(known_at, registry),
    )


def reading(request: Request, actor: ActorDep, as_of: AsOfQuery = None, known_at: KnownAtQuery = None) -> Reading:
    return _reading(request, actor, as_of, known_at)


def reading_known_at(request: Request, actor: ActorDep, known_at: KnownAtQuery = None) -> Reading:
    return _reading(request, actor, None, known_at)


def reading_now(request: Request, actor: ActorDep) -> Reading:
    return _reading(request, actor, None, None)


#: A query as of a date (``as_of``, default today), as known at a moment (``known_at``, default now).
Read = Annotated[Reading, Depends(reading)]
#: A query as known at a moment (``known_at``); ``as_of`` is today.
ReadKnownAt = Annotated[Reading, Depends(reading_known_at)]
#: A query of everything recorded, as of today.
ReadNow = Annotated[Reading, Depends(reading_now)]
