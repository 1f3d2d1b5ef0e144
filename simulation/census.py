"""The county's divisions and households at the start: townships and villages with their
populations, the poor households of the 2014 campaign and later cohorts, and the year each
will exit in (the county's targets, scaled).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

from simulation.constants import COUNTY_CODE, COUNTY_NAME, EXIT_TARGETS, FIRST_DAY, LAST_DAY, LATE_COHORTS
from simulation.households import CountyState, _Household
from simulation.people import _classify, _family, _IdNumbers, _Rng
from simulation.stream import DivisionSpec
from simulation.tables import REMOVAL_WINDOWS, SURNAME_WEIGHTS, SURNAMES, TERRAIN, TOWNSHIP_NAMES, VILLAGE_PREFIX


class Census(CountyState):
    """Divisions, the census of poor households and their exit years (a part of
    :class:`~simulation.county.Simulation`)."""

    # ----------------------------------------------------------- divisions

    def _division_names(self) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
        rng = _Rng(f"povreg-sim:{self.seed}:divisions")
        townships: list[tuple[str, str]] = []
        villages: dict[str, list[tuple[str, str]]] = {}
        per = [self.villages // self.townships + (1 if i < self.villages % self.townships else 0)
               for i in range(self.townships)]
        for i in range(self.townships):
            code = f"{COUNTY_CODE}{100 + i:03d}"
            name = (TOWNSHIP_NAMES[i] if i < len(TOWNSHIP_NAMES)
                    else f"{SURNAMES[i % len(SURNAMES)]}家{TERRAIN[i % len(TERRAIN)]}{i}乡")
            townships.append((code, name))
            used: set[str] = set()
            rows = []
            for j in range(per[i]):
                while True:
                    vname = (rng.choice(VILLAGE_PREFIX) + rng.choices(SURNAMES, SURNAME_WEIGHTS)[0] + "家"
                             + rng.choice(TERRAIN) + "村")
                    if vname not in used:
                        break
                used.add(vname)
                rows.append((f"{code}{201 + j:03d}", vname if j else name.rstrip("镇乡") + "社区"))
            villages[code] = rows
        return townships, villages

    def divisions(self) -> list[DivisionSpec]:
        """The county, its townships and villages (parents first), effective 2014-01-01."""
        townships, villages = self._division_names()
        poor = self._poor_persons_by_village()
        rng = _Rng(f"povreg-sim:{self.seed}:population")
        specs: list[DivisionSpec] = []
        township_pop: dict[str, int] = {}
        village_specs: list[DivisionSpec] = []
        for code, _ in townships:
            total = 0
            for vcode, vname in villages[code]:
                persons = poor.get(vcode, 0)
                pop = round(persons / rng.uniform(0.15, 0.4)) if persons else rng.randint(800, 2500)
                pop = max(pop, persons + 100)
                total += pop
                village_specs.append(DivisionSpec(vcode, vname, pop, FIRST_DAY))
            township_pop[code] = total
        specs.append(DivisionSpec(COUNTY_CODE, COUNTY_NAME, sum(township_pop.values()), FIRST_DAY))
        specs += [DivisionSpec(code, name, township_pop[code], FIRST_DAY) for code, name in townships]
        specs += village_specs
        return specs

    def _poor_persons_by_village(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for h in self._census()[0]:
            counts[h.village] += h.persons
        return dict(counts)

    # -------------------------------------------------------------- census

    def _census(self) -> tuple[list[_Household], dict[str, list[str]]]:
        """Every household as identified, with its fate (exit year, return, removal …).

        Computed once per simulation (the plan reads it and never changes it).
        """
        if self._census_cache is None:
            self._census_cache = self._take_census(_Rng(f"povreg-sim:{self.seed}:census"))
        return self._census_cache

    def _take_census(self, rng: random.Random) -> tuple[list[_Household], dict[str, list[str]]]:
        shares = self.shares
        townships, villages = self._division_names()
        village_codes = [v for t, _ in townships for v, _ in villages[t]]
        ids = _IdNumbers()
        households: list[_Household] = []
        cohorts = list(LATE_COHORTS.items())
        for i in range(self.households):
            village = village_codes[i % len(village_codes)] if i < len(village_codes) else rng.choice(village_codes)
            r = rng.random()
            year = 2014
            for y, share in cohorts:
                if r < share:
                    year = y
                    break
                r -= share
            if year == 2014:
                proposed = date(2014, 4, 1) + timedelta(days=int(rng.triangular(0, 180, 50)))
            else:
                proposed = date(year, 9, 1) + timedelta(days=rng.randint(0, 90))
            members = _family(rng, ids, proposed)
            attribute, cause, secondary = _classify(rng, members, proposed)
            income = round(rng.uniform(1200, 2500) if attribute != "general" else rng.uniform(1500, 2700), 0)
            guarantees = {
                "food": rng.random() < 0.96, "clothing": rng.random() < 0.97, "education": rng.random() < 0.9,
                "medical": rng.random() < 0.8, "housing": rng.random() < 0.6, "water": rng.random() < 0.7,
            }
            h = _Household(i, f"H-{village}-{i:06d}", village, village[:9], proposed, members, attribute, cause,
                           secondary, income, guarantees)
            households.append(h)
            r = rng.random()
            if r < shares.rejected:
                h.rejected = True
            elif r < shares.rejected + shares.removed:
                windows = [w for w in REMOVAL_WINDOWS if w[1] > proposed + timedelta(days=120)]
                if windows:
                    lo, hi = rng.choice(windows)
                    lo = max(lo, proposed + timedelta(days=100))
                    h.removed_on = lo + timedelta(days=rng.randint(0, max(0, (hi - lo).days)))
            if not h.rejected and len(members) == 1 and rng.random() < shares.single_closes:
                start = proposed + timedelta(days=200)
                h.closed_on = start + timedelta(days=rng.randint(0, max(1, (LAST_DAY - start).days)))
            if not h.rejected and rng.random() < shares.relocates and cause in (
                "lack_of_land", "lack_of_water", "poor_transport", "disaster", "lack_of_capital"
            ):
                h.relocates = True
        self._allocate_exits(rng, households)
        flooded = {code for code, _ in townships[1::10]} or {townships[0][0]}
        for h in households:
            if h.exit_year is None:
                continue
            if h.township in flooded and h.exit_year < 2018 and rng.random() < shares.flood_returns:
                h.returns = "disaster"
            elif rng.random() < shares.returns:
                h.returns = rng.choices(["illness", "disaster", "other", "wrongly_exited"], [50, 20, 10, 20])[0]
        return households, {t: [v for v, _ in villages[t]] for t, _ in townships}

    def _allocate_exits(self, rng: random.Random, households: list[_Household]) -> None:
        """Exit years so that exited persons follow the county's yearly targets (会宁县委发〔2015〕53号, scaled)."""
        candidates = [h for h in households if not h.rejected and h.removed_on is None]
        total = sum(h.persons for h in candidates)
        target_total = sum(EXIT_TARGETS.values())
        order = list(candidates)
        rng.shuffle(order)
        for year, persons in sorted(EXIT_TARGETS.items()):
            quota = total * persons / target_total
            taken = 0.0
            for h in order:
                if taken >= quota:
                    break
                if h.exit_year is None and h.proposed_on.year < year:
                    h.exit_year = year
                    taken += h.persons
        for h in order:  # 2020: absolute poverty eliminated — everyone left exits
            if h.exit_year is None:
                h.exit_year = 2020
