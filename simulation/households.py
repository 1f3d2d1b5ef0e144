"""A planned household and its planned events, before they become recordings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.history import Actor
from simulation.people import _IdNumbers, _Person
from simulation.tables import SimulationShares


@dataclass(slots=True)
class _Household:
    index: int
    household_id: str
    village: str
    township: str
    proposed_on: date
    members: list[_Person]
    attribute: str
    main_cause: str
    secondary_causes: list[str]
    income: float  # per capita, year before identification
    guarantees: dict[str, bool]
    rejected: bool = False
    removed_on: date | None = None
    closed_on: date | None = None
    exit_year: int | None = None
    returns: str | None = None  # "illness", "disaster", "other" or "wrongly_exited"
    relocates: bool = False

    @property
    def persons(self) -> int:
        return len(self.members)

    @property
    def terminal(self) -> date | None:
        dates = [d for d in (self.removed_on, self.closed_on) if d]
        return min(dates) if dates else None


class _Ev:
    """One planned event of a household."""

    __slots__ = ("actor", "deps", "eff", "gen", "household", "key", "kind", "payload", "rec", "refs",
                 "serial", "structural")

    def __init__(self, household: _Household, eff: date, gen: int, payload: dict[str, Any], actor: Actor | None,
                 structural: bool, deps: tuple[_Ev, ...], refs: dict[str, _Ev] | None) -> None:
        self.household = household
        self.eff = eff
        self.gen = gen
        self.kind: str = payload["type"]
        self.payload = payload
        self.actor = actor
        self.structural = structural
        self.deps = deps
        self.refs = refs
        self.key: str | None = None
        self.rec = 0
        self.serial = 0


class CountyState:
    """What the parts of :class:`~simulation.county.Simulation` share (set by its constructor)."""

    households: int
    seed: int
    shares: SimulationShares
    villages: int
    townships: int
    _ids: _IdNumbers
    _census_cache: tuple[list[_Household], dict[str, list[str]]] | None
