"""The household card (户有卡): a folded state as the card shows it, plus query-time flags.

A card row (``proj_cards``) keeps the card's own values (:func:`_head`: a JSON array in a
fixed order) and names its members, measures and helpers, the bulk of a card that most
events leave as they were, each stored once per household in ``proj_card_parts``
(:class:`CardEncoder`); :func:`stored_card` puts a card back together from a row, and
:func:`card_of` is the same card straight from a state. What depends on the question rather
than on the household — the version known at ``known_at`` and the post-exit policy flags,
which follow the policy in force on the exit's date as known at ``known_at`` — is added by
:func:`finish_card` when the card is read, so a policy change never requires re-folding
households.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import orjson

from domain.events import Guarantees
from domain.policy import PolicyBook, exit_continuation
from domain.state import HouseholdState
from domain.vocab import LABELS_ZH, Status, label_zh

#: The guarantees' keys, in the order a card row lists their values.
GUARANTEES = tuple(Guarantees.model_fields)


def _head(state: HouseholdState) -> list[Any]:
    """What a card row holds of a state besides its members, measures and helpers: the
    card's values in the card's order, without their keys and without what the row says
    itself (the household: its key; ``persons``: its members' count; ``last_event_on``:
    its ``valid_from``, the day of its last event). Enums and dates are written by
    orjson as their values and ISO dates."""
    income = state.income
    return [
        state.status,
        state.division_code,
        state.attribute,
        state.main_cause,
        state.secondary_causes,
        [income.year, income.per_capita, income.assessed_on],
        [getattr(state.guarantees, key) for key in GUARANTEES],
        state.proposed_on,
        state.approved_on,
        state.exit_proposed_on,
        state.exit_pathway,
        state.exited_on,
        state.returned_on,
        state.return_cause,
        state.at_risk,
        state.last_revisited_on,
    ]


def _members(state: HouseholdState) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json") for m in state.members]


def _helpers(state: HouseholdState) -> list[dict[str, Any]]:
    return [{"name": h.name, "unit": h.unit, "phone": h.phone, "assigned_on": h.assigned_on} for h in state.helpers]


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def stored_card(
    household_id: str, valid_from: str, head: str, members: str, measures: str, helpers: str
) -> dict[str, Any]:
    """The card as stored (the JSON of docs/api.md without the question's fields) from a card
    row: its household, its valid_from, its head and the texts of its three parts."""
    (status, division_code, attribute, main_cause, secondary_causes, (year, per_capita, assessed_on),
     guarantees, proposed_on, approved_on, exit_proposed_on, exit_pathway, exited_on, returned_on, return_cause,
     at_risk, last_revisited_on) = orjson.loads(head)
    members_list = orjson.loads(members)
    return {
        "household_id": household_id,
        "status": status,
        "division_code": division_code,
        "attribute": attribute,
        "main_cause": main_cause,
        "secondary_causes": secondary_causes,
        "persons": len(members_list),
        "latest_income": {"year": year, "income_per_capita": per_capita, "assessed_on": assessed_on},
        "guarantees": dict(zip(GUARANTEES, guarantees, strict=True)),
        "proposed_on": proposed_on,
        "approved_on": approved_on,
        "exit_proposed_on": exit_proposed_on,
        "exit_pathway": exit_pathway,
        "exited_on": exited_on,
        "returned_on": returned_on,
        "return_cause": return_cause,
        "at_risk": at_risk,
        "last_revisited_on": last_revisited_on,
        "last_event_on": valid_from,
        "members": members_list,
        "measures": orjson.loads(measures),
        "helpers": orjson.loads(helpers),
    }


def card_of(state: HouseholdState) -> dict[str, Any]:
    """The stored card of a household state, as JSON types (what a reader gets back)."""
    head, parts = CardEncoder(0).encode(state, lambda text: 0)
    return stored_card(state.household_id, state.as_of.isoformat(), head, *(text for text, _ in parts))


#: A part of a card (its members, its measures or its helpers): its JSON and the id it is stored by.
Part = tuple[str, int]


class CardEncoder:
    """Serialises cards: a row's head, and its members, measures and helpers, each stored
    once per household by an id (:meth:`~projections.sealing.Sealer.digest` of its text)
    and re-used by every card row that shows it. The text and id of the member, measure
    and helper tuples that successive states of a household share (the fold keeps
    unchanged tuples) are computed once.

    The text is orjson's, in C: enums, dates and the measures (dataclasses whose
    fields are the card's) need no conversion in Python. A state's floats all come
    from validated ``Money`` fields, so a card holds no NaN or infinity; cards are
    parsed when read, never hashed, so orjson's spelling of tiny floats (``1e-05``
    where :mod:`json` writes ``0.00001``) reads back as the same number."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._parts: dict[int, tuple[object, Part]] = {}

    def _part(self, value: tuple[Any, ...], render: Callable[[], Any], digest: Callable[[str], int]) -> Part:
        hit = self._parts.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        text = _dumps(render())
        part = (text, digest(text))
        if len(self._parts) > self._size:
            self._parts.clear()
        self._parts[id(value)] = (value, part)
        return part

    def encode(self, state: HouseholdState, digest: Callable[[str], int]) -> tuple[str, tuple[Part, Part, Part]]:
        """The row's head and its (members, measures, helpers), ids by ``digest``."""
        return _dumps(_head(state)), (
            self._part(state.members, lambda: _members(state), digest),
            self._part(state.measures, lambda: state.measures, digest),
            self._part(state.helpers, lambda: _helpers(state), digest),
        )


def exit_flags(
    status: str, division_code: str, exited_on: str | None, as_of: date, policies: PolicyBook
) -> tuple[str | None, str | None]:
    """(policy_continuation_until, exit_policy) of an exited household on ``as_of``.

    脱贫不脱政策: the continuation is fixed by the rules in force on the exit's own date
    (``policies`` is the book as known at the question's ``known_at``), with the national
    floor (:func:`~domain.policy.exit_continuation`); ``as_of`` only says which side of
    that day the question falls: ``exit_policy`` is ``enjoying`` (已脱贫(享受政策)) up to
    it and ``not_enjoying`` (已脱贫(不再享受政策)) after. Both are None unless exited.
    """
    if status != Status.EXITED.value or exited_on is None:
        return None, None
    until = exit_continuation(policies, division_code, date.fromisoformat(exited_on)).until
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
    """The card as the API shows it: the stored snapshot plus the question's own fields."""
    until, exit_policy = exit_flags(
        stored["status"], stored["division_code"], stored.get("exited_on"), as_of, policies
    )
    return {
        **stored,
        "status_label": LABELS_ZH.get(stored["status"], stored["status"]),
        "exit_policy_label": label_zh("exit_policy", exit_policy),
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
