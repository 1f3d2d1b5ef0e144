"""The household card (户有卡): a JSON snapshot of a folded state, plus query-time flags.

:func:`card_of` turns a :class:`~povreg.domain.state.HouseholdState` (from the
domain fold) into the JSON the timeline projection stores with each interval.
What depends on the question rather than on the household — the version known
at ``known_at`` and the post-exit policy flags, which follow the policy in
force on ``as_of`` as known at ``known_at`` — is added by :func:`finish_card`
when the card is read, so a policy change never requires re-folding households.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from povreg.domain.policy import PolicyBook
from povreg.domain.state import HouseholdState
from povreg.domain.vocab import LABELS_ZH, Status
from povreg.projections.jsontext import compact


def _day(d: date | None) -> str | None:
    return d.isoformat() if d else None


def _measures(state: HouseholdState) -> list[dict[str, Any]]:
    return [
        {
            "measure_id": m.measure_id,
            "category": m.category.value,
            "assigned_on": _day(m.assigned_on),
            "amount": m.amount,
            "funding_source": m.funding_source,
            "helper": m.helper,
            "description": m.description,
            "completed_on": _day(m.completed_on),
            "outcome": m.outcome,
        }
        for m in state.measures
    ]


def _helpers(state: HouseholdState) -> list[dict[str, Any]]:
    return [
        {"name": h.name, "unit": h.unit, "phone": h.phone, "assigned_on": _day(h.assigned_on)} for h in state.helpers
    ]


def card_of(state: HouseholdState, parts: bool = True) -> dict[str, Any]:
    """The stored card of a household state (JSON types only); ``parts=False`` leaves
    out members, measures and helpers (:class:`CardEncoder` adds them)."""
    card: dict[str, Any] = {
        "household_id": state.household_id,
        "status": state.status.value,
        "division_code": state.division_code,
        "attribute": state.attribute.value,
        "main_cause": state.main_cause.value,
        "secondary_causes": [c.value for c in state.secondary_causes],
        "persons": state.persons,
        "latest_income": {
            "year": state.income.year,
            "income_per_capita": state.income.per_capita,
            "assessed_on": _day(state.income.assessed_on),
        },
        "guarantees": state.guarantees.model_dump(mode="json"),
        "proposed_on": _day(state.proposed_on),
        "approved_on": _day(state.approved_on),
        "exit_proposed_on": _day(state.exit_proposed_on),
        "exit_pathway": state.exit_pathway.value if state.exit_pathway else None,
        "exited_on": _day(state.exited_on),
        "returned_on": _day(state.returned_on),
        "return_cause": state.return_cause.value if state.return_cause else None,
        "at_risk": state.at_risk,
        "last_event_on": _day(state.as_of),
    }
    if parts:
        card["members"] = [m.model_dump(mode="json") for m in state.members]
        card["measures"] = _measures(state)
        card["helpers"] = _helpers(state)
    return card


class CardEncoder:
    """Serialises cards, re-using the JSON of member, measure and helper tuples that
    successive states of a household share (the fold keeps unchanged tuples).

    A state's floats all come from validated ``Money`` fields, so a card holds no
    NaN or infinity (``finite=True`` below)."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._parts: dict[int, tuple[object, str]] = {}

    def _part(self, value: tuple[Any, ...], render: Callable[[], list[Any]]) -> str:
        hit = self._parts.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        text = compact(render(), finite=True)
        if len(self._parts) > self._size:
            self._parts.clear()
        self._parts[id(value)] = (value, text)
        return text

    def encode(self, state: HouseholdState) -> str:
        card = card_of(state, parts=False)
        head = compact(card, finite=True)
        members = self._part(state.members, lambda: [m.model_dump(mode="json") for m in state.members])
        measures = self._part(state.measures, lambda: _measures(state))
        helpers = self._part(state.helpers, lambda: _helpers(state))
        return f'{head[:-1]},"members":{members},"measures":{measures},"helpers":{helpers}}}'


def exit_flags(
    status: str, division_code: str, exited_on: str | None, as_of: date, policies: PolicyBook
) -> tuple[str | None, str | None]:
    """(policy_continuation_until, exit_policy) of an exited household on ``as_of``.

    脱贫不脱政策: the post-exit continuation policy in force for the household's
    division on ``as_of`` says until when it keeps its support; ``exit_policy`` is
    ``enjoying`` (已脱贫(享受政策)) up to that day and ``not_enjoying``
    (已脱贫(不再享受政策)) after it. Both are None unless the household is exited.
    """
    if status != Status.EXITED.value or exited_on is None:
        return None, None
    try:
        policy = policies.resolve(division_code, as_of)
    except LookupError:
        return None, None
    until = policy.post_exit_continuation.support_until(date.fromisoformat(exited_on))
    return (until.isoformat() if until else None), ("enjoying" if until and as_of <= until else "not_enjoying")


def finish_card(
    stored: dict[str, Any],
    *,
    as_of: date,
    known_at: datetime | None,
    version: int,
    valid_from: str,
    valid_to: str | None,
    policies: PolicyBook,
) -> dict[str, Any]:
    """The card as API.md shows it: the stored snapshot plus the question's own fields."""
    until, exit_policy = exit_flags(
        stored["status"], stored["division_code"], stored.get("exited_on"), as_of, policies
    )
    return {
        **stored,
        "status_label": LABELS_ZH.get(stored["status"], stored["status"]),
        "flags": {
            "at_risk": stored["at_risk"],
            "policy_continuation_until": until,
            "exit_policy": exit_policy,
        },
        "version": version,
        "as_of": as_of.isoformat(),
        "known_at": known_at.isoformat(timespec="microseconds") if known_at else None,
        "valid_from": valid_from,
        "valid_to": valid_to,
    }
