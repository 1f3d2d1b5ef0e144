"""Division codes (行政区划代码): the one home of their shape.

A code is ASCII digits only — 2 (province), 4 (prefecture), 6 (county),
9 (township) or 12 (village) of them; a registered division is a county, a
township or a village. Python's ``str.isdigit`` and the ``\\d`` of both Python's
and pydantic's regular expressions accept every script's digits (full-width
``６２０４２２`` among them), so nothing here uses them: every check of a code,
a prefix, a token's scope or a policy's jurisdiction goes through this module.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

#: Lengths of a code or prefix, by level.
LEVELS = {2: "province", 4: "prefecture", 6: "county", 9: "township", 12: "village"}
PREFIX_LENGTHS = tuple(LEVELS)
#: Lengths of a division that can be registered.
REGISTERED_LENGTHS = (6, 9, 12)
COUNTY, TOWNSHIP, VILLAGE = REGISTERED_LENGTHS

_ASCII_DIGITS = frozenset("0123456789")

#: The same shapes as patterns (for pydantic fields and FastAPI parameters).
PREFIX_PATTERN = r"^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})$"
SCOPE_PATTERN = r"^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})?$"
REGISTERED_PATTERN = r"^([0-9]{6}|[0-9]{9}|[0-9]{12})$"
VILLAGE_PATTERN = r"^[0-9]{12}$"

#: A code or prefix (2–12 digits), e.g. a roster's division.
DivisionPrefix = Annotated[str, Field(pattern=PREFIX_PATTERN)]
#: A token's scope or a policy's jurisdiction: a prefix, or "" for everywhere.
Scope = Annotated[str, Field(pattern=SCOPE_PATTERN)]
#: A village's code (where households are registered).
VillageCode = Annotated[str, Field(pattern=VILLAGE_PATTERN, description="12-digit village code")]


def ascii_digits(value: str) -> bool:
    """Whether ``value`` is made of ASCII digits 0–9 only (and is not empty)."""
    return bool(value) and _ASCII_DIGITS.issuperset(value)


def is_prefix(value: str) -> bool:
    """A code or prefix of 2, 4, 6, 9 or 12 ASCII digits."""
    return len(value) in LEVELS and ascii_digits(value)


def is_scope(value: str) -> bool:
    """A prefix, or "" (everywhere)."""
    return value == "" or is_prefix(value)


def is_registrable(value: str) -> bool:
    """A county, township or village code (6, 9 or 12 ASCII digits)."""
    return len(value) in REGISTERED_LENGTHS and ascii_digits(value)


def level(code: str) -> str:
    """``county``, ``township``, ``village`` (or ``province``/``prefecture`` for a prefix)."""
    return LEVELS[len(code)]


def parents(code: str) -> list[str]:
    """The registered divisions above ``code``: its county and township, as far as it has them."""
    return [code[:n] for n in (COUNTY, TOWNSHIP) if n < len(code)]


def county_of(code: str) -> str:
    return code[:COUNTY]


def township_of(code: str) -> str:
    return code[:TOWNSHIP]
