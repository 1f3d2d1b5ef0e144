"""Citizen ID numbers (公民身份号码, GB 11643-1999): validation, birth date, masking."""

from __future__ import annotations

import re
from datetime import date
from operator import mul

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")  # ASCII digits: \d takes every script's


#: What the digits' ASCII codes add to the weighted sum over their values ("0" is 48).
_ASCII_OFFSET = ord("0") * sum(_WEIGHTS)


def check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(first17) != len(_WEIGHTS) or not first17.isascii() or not first17.isdigit():
        raise ValueError("the check digit is computed over 17 digits")
    # Over the ASCII codes, in C: every member of every command and stored event is checked.
    return _CHECK[(sum(map(mul, first17.encode(), _WEIGHTS)) - _ASCII_OFFSET) % 11]


def id_number_problem(value: str) -> str | None:
    """Why ``value`` is not a valid ID number, or None if it is."""
    if not _SHAPE.match(value):
        return "an ID number is 17 digits followed by a digit or 'X'"
    if check_digit(value[:17]) != value[17]:
        return "the check digit does not match (GB 11643 MOD 11-2)"
    try:
        born = birth_date(value)
    except ValueError:
        return "the birth date inside the ID number is not a real date"
    if born.year < 1880:
        return "the birth date inside the ID number is implausible"
    return None


def birth_date(value: str) -> date:
    return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def with_check_digit(first17: str) -> str:
    """Complete a 17-digit prefix into a valid ID number (used by simulators and tests)."""
    return first17 + check_digit(first17)


def mask_id_number(value: str) -> str:
    """``6204221985******12``: region and birth year stay readable, the rest is hidden."""
    if len(value) < 8:
        return "*" * len(value)
    return value[:10] + "*" * (len(value) - 12) + value[-2:]


def mask_name(value: str) -> str:
    """``张*``, ``欧阳**``-style masking: the first character stays."""
    if not value:
        return value
    return value[0] + "*" * max(1, len(value) - 1)


def mask_phone(value: str) -> str:
    if len(value) <= 4:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 5) + value[-2:]
