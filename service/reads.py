"""A household read from its events (the projections answer the same questions faster)."""

from __future__ import annotations

from datetime import date, datetime

from domain.errors import NotFound
from domain.fold import Interval, intervals, replay
from domain.history import RecordedEvent, effective_events
from domain.household import Household
from domain.state import HouseholdState
from service.store import AggregateStore


def household(store: AggregateStore, household_id: str) -> Household:
    # One query and a plain replay (``load_many``): the repository's replay checks every
    # event against a runtime Protocol, which doubled the cost of a scoped card read.
    found = store.load_many([household_id])[household_id]
    if not isinstance(found, Household):
        raise NotFound(f"贫困户 {household_id} 未登记", detail_en=f"household {household_id} is not registered",
                               rule="unknown_household")
    return found


def history(store: AggregateStore, household_id: str) -> list[RecordedEvent]:
    return list(household(store, household_id).history)


def state_as_of(
    store: AggregateStore, household_id: str, as_of: date, known_at: datetime | None = None
) -> HouseholdState:
    """The household's state on ``as_of`` as known at ``known_at``, by replaying its events."""
    state = None
    for step in replay(effective_events(history(store, household_id), known_at), household_id):
        if step.event.effective_date > as_of:
            break
        state = step.state
    if state is None:
        raise NotFound(
            f"贫困户 {household_id} 于 {as_of} 不在册" + (f"(截至 {known_at.isoformat()} 所知)" if known_at else ""),
            detail_en=f"household {household_id} is not on the register as of {as_of}"
            + (f" as known at {known_at.isoformat()}" if known_at else ""),
            rule="not_on_register",
        )
    return state


def timeline(store: AggregateStore, household_id: str, known_at: datetime | None = None) -> list[Interval]:
    return intervals(replay(effective_events(history(store, household_id), known_at), household_id))
