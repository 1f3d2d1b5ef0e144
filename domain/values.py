"""What household events are made of: bounded field types, a household member and the
guarantees (两不愁三保障), and a member's labour capacity when none is given."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from domain.idnumber import birth_date, id_number_problem
from domain.vocab import GUARANTEE_KEYS, Health, Labour, Relation


def _valid_id_number(value: str) -> str:
    value = value.strip().upper()
    problem = id_number_problem(value)
    if problem:
        raise ValueError(problem)
    return value


IdNumber = Annotated[str, AfterValidator(_valid_id_number)]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Money = Annotated[float, Field(ge=0, le=100_000_000)]
Year = Annotated[int, Field(ge=1978, le=2100)]
Phone = Annotated[str, Field(pattern=r"^[0-9+\- ]{5,20}$")]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Member(Model):
    """A household member. Name, ID number and phone are personal information."""

    name: Annotated[str, Field(min_length=1, max_length=50)]
    id_number: IdNumber
    relation: Relation
    labour: Labour | None = Field(
        None, description="default from age on the event's date: under 16 none, 60 and over weak, else full"
    )
    health: Health = Health.HEALTHY
    in_school: bool = False
    phone: Phone | None = None


class Guarantees(Model):
    """两不愁三保障 and safe drinking water: each secured (true) or not."""

    food: bool
    clothing: bool
    education: bool
    medical: bool
    housing: bool
    water: bool

    def missing(self) -> list[str]:
        return [key for key in GUARANTEE_KEYS if not getattr(self, key)]


def default_labour(id_number: str, on: date) -> Labour:
    """Labour capacity by age on ``on``, when none is given: under 16 none (a child), 60 and
    over weak (an elder), otherwise full."""
    born = birth_date(id_number)
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    if age < 16:
        return Labour.NONE
    if age >= 60:
        return Labour.WEAK
    return Labour.FULL


def with_labour(members: list[Member], on: date) -> list[Member]:
    """``members`` with each unknown labour capacity derived from age on ``on``."""
    if all(m.labour is not None for m in members):
        return members
    return [
        m if m.labour is not None else m.model_copy(update={"labour": default_labour(m.id_number, on)})
        for m in members
    ]


def check_household_members(members: list[Member]) -> None:
    """A household's members: exactly one head, and no ID number twice."""
    heads = sum(1 for m in members if m.relation == Relation.HEAD)
    if heads != 1:
        raise ValueError(f"a household has exactly one head (found {heads})")
    ids = [m.id_number for m in members]
    if len(set(ids)) != len(ids):
        raise ValueError("the same ID number appears twice among the members")
