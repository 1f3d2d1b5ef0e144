"""People and their families: names, ID numbers (valid check digits, unique), births,
labour and health by age, and a household's attribute and causes.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from domain.idnumber import with_check_digit
from simulation.constants import COUNTY_CODE
from simulation.tables import CAUSE_WEIGHTS, GIVEN_FEMALE, GIVEN_MALE, OTHER_REGIONS, SURNAME_WEIGHTS, SURNAMES

if TYPE_CHECKING:
    from simulation.households import _Household




class _Rng(random.Random):
    """random.Random with cheaper ``randint`` and ``choice`` (the generator calls them millions of times)."""

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq: Any) -> Any:
        return seq[int(self.random() * len(seq))]


@dataclass(slots=True)
class _Person:
    name: str
    id_number: str
    relation: str
    born: date
    male: bool
    health: str

    def labour_on(self, on: date) -> str:
        age = _age(self.born, on)
        if age < 16 or age >= 70 or self.health in ("serious_illness", "disability"):
            return "none"
        if age >= 60 or self.health == "chronic_illness":
            return "weak"
        return "full"

    def as_member(self, on: date) -> dict[str, Any]:
        age = _age(self.born, on)
        return {
            "name": self.name,
            "id_number": self.id_number,
            "relation": self.relation,
            "labour": self.labour_on(on),
            "health": self.health,
            "in_school": 6 <= age <= 18 or (age <= 22 and self.relation in ("child", "grandchild") and age % 3 == 0),
        }


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))






class _IdNumbers:
    """Unique, valid ID numbers: region + birth date + a sequence whose parity is the sex."""

    def __init__(self) -> None:
        self._next: dict[tuple[str, date, bool], int] = {}

    @classmethod
    def seeded_from(cls, households: Iterable[_Household]) -> _IdNumbers:
        """An allocator that continues after every ID number the census handed out."""
        ids = cls()
        for h in households:
            for m in h.members:
                region, born = m.id_number[:6], date(int(m.id_number[6:10]), int(m.id_number[10:12]),
                                                    int(m.id_number[12:14]))
                seq = int(m.id_number[14:17])
                key = (region, born, m.male)
                ids._next[key] = max(ids._next.get(key, 0), seq // 2 + 1)
        return ids

    def allocate(self, region: str, born: date, male: bool) -> str:
        while True:
            key = (region, born, male)
            n = self._next.get(key, 0)
            if n < 500:
                self._next[key] = n + 1
                seq = 2 * n + (1 if male else 0)
                return with_check_digit(f"{region}{born:%Y%m%d}{seq:03d}")
            born += timedelta(days=1)


def _person(rng: random.Random, ids: _IdNumbers, born: date, relation: str, male: bool, surname: str,
            region: str = COUNTY_CODE) -> _Person:
    given = rng.choice(GIVEN_MALE if male else GIVEN_FEMALE)
    r = rng.random()
    age = _age(born, date(2014, 6, 1))
    health = "healthy"
    if r < 0.04 + age * 0.002:
        health = "serious_illness"
    elif r < 0.1 + age * 0.004:
        health = "chronic_illness"
    elif r < 0.14 + age * 0.004:
        health = "disability"
    return _Person(surname + given, ids.allocate(region, born, male), relation, born, male, health)


def _birth(rng: random.Random, on: date, age_lo: int, age_hi: int) -> date:
    age = rng.randint(age_lo, age_hi)
    return date(on.year - age, 1, 1) + timedelta(days=rng.randint(0, 364))


def _family(rng: random.Random, ids: _IdNumbers, on: date) -> list[_Person]:
    size = rng.choices((1, 2, 3, 4, 5, 6, 7), (10, 17, 20, 25, 16, 8, 4))[0]
    surname = rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]
    if size == 1:
        head_born = _birth(rng, on, 55, 88)
    elif size == 2:
        head_born = _birth(rng, on, 50, 80)
    else:
        head_born = _birth(rng, on, 28, 62)
    male = rng.random() < 0.88
    head = _person(rng, ids, head_born, "head", male, surname)
    members = [head]
    if size >= 2:
        spouse_born = head_born + timedelta(days=rng.randint(-5 * 365, 5 * 365))
        spouse_born = min(spouse_born, date(on.year - 18, 1, 1))
        region = COUNTY_CODE if rng.random() < 0.8 else rng.choice(OTHER_REGIONS)
        spouse_surname = rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]
        members.append(_person(rng, ids, spouse_born, "spouse", not male, spouse_surname, region))
    head_age = _age(head_born, on)
    for _ in range(size - 2):
        if head_age >= 50 and rng.random() < 0.35:
            rel, born = "grandchild", _birth(rng, on, 0, 12)
        elif head_age <= 45 and rng.random() < 0.25:
            rel, born = "parent", _birth(rng, on, min(95, head_age + 22), min(96, head_age + 32))
        else:
            rel = "child"
            born = _birth(rng, on, max(0, head_age - 40), max(0, head_age - 20))
        members.append(_person(rng, ids, born, rel, rng.random() < 0.52, surname))
    return members


def _classify(rng: random.Random, members: list[_Person], on: date) -> tuple[str, str, list[str]]:
    labour = [m.labour_on(on) for m in members]
    if "full" not in labour:
        attribute = "tekun" if len(members) == 1 and rng.random() < 0.6 else "dibao"
    else:
        attribute = "general" if rng.random() < 0.86 else "dibao"
    healths = {m.health for m in members}
    pupils = sum(1 for m in members if 6 <= _age(m.born, on) <= 22)
    if "serious_illness" in healths and rng.random() < 0.8:
        cause = "illness"
    elif "disability" in healths and rng.random() < 0.6:
        cause = "disability"
    elif pupils >= 2 and rng.random() < 0.5:
        cause = "schooling"
    elif "full" not in labour:
        cause = "lack_of_labour"
    else:
        cause = rng.choices(list(CAUSE_WEIGHTS), list(CAUSE_WEIGHTS.values()))[0]
    others = [c for c in CAUSE_WEIGHTS if c != cause]
    secondary = rng.sample(others, k=rng.choice((0, 1, 1, 2)))
    return attribute, cause, secondary


def _income(rng: random.Random, year: int, value: float) -> dict[str, Any]:
    value = round(value, 0)
    wage = round(value * rng.uniform(0.2, 0.6), 0)
    transfer = round(value * rng.uniform(0.1, 0.3), 0)
    prop = round(value * rng.uniform(0.0, 0.05), 0)
    return {
        "type": "IncomeAssessed",
        "year": year,
        "income_per_capita": value,
        "components": {"wage": wage, "operating": round(value - wage - transfer - prop, 0), "property": prop,
                       "transfer": transfer},
        "reason": "年度收入核算",
    }
