"""A realistic synthetic county: divisions and a time-ordered stream of recordings.

:class:`Simulation` is a pure generator. For a number of households and a seed it
builds a county modelled on 会宁县 (Huining, Gansu: 会宁县委发〔2015〕53号) — townships,
villages with rural populations — and the registry's history of its poor
households from 2014 through 2021, as a stream of :class:`Recording` items in
recording order: ``(recording moment, Command)``. The same seed gives the same
stream, item for item.

What the history holds (docs/domain.md; the shares are parameters of :class:`Simulation`):

- identification in the 2014 campaign (建档立卡, April–September), a smaller
  cohort in the yearly dynamic adjustments of 2015–2019; each an
  ``IdentificationProposed`` followed 7–30 days later (the public notice) by
  ``IdentificationApproved``, or by ``IdentificationRejected`` (objection upheld);
- a helper cadre per household (帮扶责任人), rotated for some in 2017–2018;
- assistance measures by category, matched to the household's causes and its
  unmet guarantees (health for illness, housing for unsafe housing, education for
  schooling, microcredit and industry for lack of capital, …), most completed
  months later; relocation (易地扶贫搬迁) followed by a transfer to a
  resettlement village;
- a yearly income assessment (年终收入核算) for every household on the register;
- exits by year following the county's targets (会宁县委发〔2015〕53号: 2015 2.3万 persons, 2016 and 2017
  4.2万 each, 2018: 1.25万, 2019: 0.89万, 2020: 0.42万), scaled to the households
  simulated: an income assessment at or above the poverty line of the year,
  ``ExitProposed`` with every guarantee secured, ``ExitConfirmed`` with the
  household's acknowledgement 7–25 days later, in the same year; a few exits
  withdrawn after an objection and retried the next year;
- revisits of exited households (回头看): stable, at risk, a few wrongly exited;
- returns to poverty after illness or disaster (a flood in some townships in
  July 2018), re-exiting a year or two later;
- removals as ineligible (清退, in the 2015–2017 verification campaigns),
  closures of single elderly households, births, deaths and marriages;
- late recordings (a share recorded two to eight weeks after the event) and
  corrections (``EventCorrected`` of an income figure or an effective date), and
  a few double entries retracted (``EventRetracted``).

Every event is legal when it is recorded — the generator keeps the registry's
rules: a household's events that change its status or its members are recorded
in valid-time order, a late event never lands where the state machine forbids
it, corrections move dates only within the span where the household's state
is unchanged. Loading a stream therefore refuses (almost) nothing;
:func:`simulation.loader.load` reports whatever it does refuse.

Events that refer to earlier events (``AssistanceMeasureCompleted.measure_id``,
``EventCorrected`` / ``EventRetracted.target_event_id``) cannot know the
target's event id, which the registry assigns when it records it. The generator
gives such targets a ``key`` and the referring command carries ``"@<key>"`` in
that field plus ``refs = {field: key}``; the loader substitutes the real event
id from the target's receipt.
"""

from __future__ import annotations

import gc
import math
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta

from simulation.census import Census
from simulation.constants import FIRST_DAY, LAST_DAY, moment
from simulation.households import _Ev, _Household
from simulation.people import _IdNumbers, _Rng
from simulation.plan import HouseholdPlanner
from simulation.schedule import Scheduler
from simulation.stream import Recording, tally
from simulation.tables import SimulationShares


class Simulation(Census, HouseholdPlanner, Scheduler):
    """The county and its history for ``households`` households, deterministic for ``seed``."""

    def __init__(self, households: int = 100_000, seed: int = 1, shares: SimulationShares | None = None) -> None:
        if households < 1:
            raise ValueError("households must be at least 1")
        self.households = households
        self.seed = seed
        self.shares = shares or SimulationShares()
        self.villages = max(2, math.ceil(households / 125))
        self.townships = max(1, math.ceil(self.villages / 10))
        #: filled by :meth:`recordings`: what the stream holds
        self.stats: Counter[str] = Counter()
        self._ids = _IdNumbers()
        self._census_cache: tuple[list[_Household], dict[str, list[str]]] | None = None

    # -------------------------------------------------------------- the stream

    def plan(self) -> list[_Ev]:
        """Every planned event, in recording order (internal; :meth:`recordings` is the API)."""
        # Millions of small objects that all stay alive: the cyclic collector would
        # scan them again and again (half the time), and there are no cycles to find.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._plan_all()
        finally:
            if enabled:
                gc.enable()

    def _plan_all(self) -> list[_Ev]:
        households, villages_by_township = self._census()
        self._ids = _IdNumbers.seeded_from(households)
        rng = _Rng(f"povreg-sim:{self.seed}:history")
        resettlement = {t: vs[0] for t, vs in villages_by_township.items() if len(vs) > 1}
        county_seat = next(iter(villages_by_township.values()))[0]
        plans = []
        serial = 0
        for h in households:
            evs = self._plan(rng, h, resettlement, county_seat)
            for ev in evs:
                serial += 1
                ev.serial = serial
            self._schedule(rng, evs)
            plans.append(evs)
        total = sum(len(p) for p in plans)
        candidates = sum(1 for p in plans for e in p
                         if e.kind in ("IncomeAssessed", "HelperAssigned", "AssistanceMeasureAssigned"))
        p_correct = min(1.0, self.shares.corrected * total / max(1, candidates) * 1.1)
        everything: list[_Ev] = []
        for evs in plans:
            h = evs[0].household
            meta = self._meta_events(rng, evs, h, p_correct)
            for ev in meta:
                serial += 1
                ev.serial = serial
            everything += evs
            everything += meta
        for ev in everything:
            if ev.refs:
                for target in ev.refs.values():
                    target.key = str(target.serial)
        everything.sort(key=lambda e: (e.rec, e.serial))
        return everything

    def recordings(self) -> Iterator[Recording]:
        """The history, in recording order. Deterministic for the seed; fills :attr:`stats`."""
        self.stats = Counter()
        return tally(self._recordings(), self.stats)

    def _recordings(self) -> Iterator[Recording]:
        from domain.commands import Command

        for ev in self.plan():
            payload = ev.payload
            refs = None
            if ev.refs:
                refs = {}
                payload = dict(payload)
                for name, target in ev.refs.items():
                    assert target.key is not None
                    refs[name] = target.key
                    payload[name] = f"@{target.key}"
            assert ev.actor is not None, "every planned event names its recorder"
            yield Recording(moment(ev.rec), Command(payload, ev.actor, ev.household.household_id), ev.key, refs)

    @property
    def first_day(self) -> date:
        return FIRST_DAY

    @property
    def last_day(self) -> date:
        return LAST_DAY + timedelta(days=70)
