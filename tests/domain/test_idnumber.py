"""Citizen ID numbers (GB 11643-1999, ISO 7064 MOD 11-2) and PII masking."""

from __future__ import annotations

from datetime import date

import pytest

from domain.idnumber import (
    birth_date,
    check_digit,
    id_number_problem,
    mask_id_number,
    mask_name,
    mask_phone,
    with_check_digit,
)


@pytest.mark.parametrize(
    ("first17", "expected"),
    [
        ("11010519491231002", "X"),  # the standard's own example
        ("62042219850101001", "5"),  # docs/api.md's example head of household
        ("44052418800101001", "4"),
        ("11010119900307803", "X"),  # Σ = 222, 222 mod 11 = 2
    ],
)
def test_check_digit(first17: str, expected: str) -> None:
    assert check_digit(first17) == expected


def test_check_digit_by_hand() -> None:
    # Σ digit·weight mod 11 indexes "10X98765432".
    digits = "11010519491231002"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(digits, weights, strict=True))
    assert total % 11 == 2
    assert "10X98765432"[2] == "X" == check_digit(digits)


def test_every_check_character_is_reachable_and_validates() -> None:
    seen = set()
    for n in range(200):
        value = with_check_digit(f"62042219850101{n:03d}")
        seen.add(value[-1])
        assert id_number_problem(value) is None
    assert seen == set("0123456789X")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("620422198501010016", "check digit"),
        ("62042219850101001", "17 digits"),
        ("6204221985010100155", "17 digits"),
        ("62042219850101001A", "17 digits"),
        ("62042219850101001x", "17 digits"),  # callers upper-case first
        ("", "17 digits"),
        # Full-width digits, as an IME may type them: "\d" matches them, int() reads them.
        ("".join(chr(ord(c) + 0xFEE0) for c in "620422198501010015"), "17 digits"),
        (with_check_digit("62042219850230001"), "not a real date"),
        (with_check_digit("62042219851301001"), "not a real date"),
        (with_check_digit("62042218790101001"), "implausible"),
    ],
)
def test_invalid_id_numbers_are_explained(value: str, why: str) -> None:
    problem = id_number_problem(value)
    assert problem is not None
    assert why in problem


def test_a_single_digit_typo_is_always_caught() -> None:
    valid = "620422198501010015"
    for pos in range(17):
        for digit in "0123456789":
            if digit == valid[pos]:
                continue
            typo = valid[:pos] + digit + valid[pos + 1:]
            if id_number_problem(typo) is None:
                pytest.fail(f"typo at position {pos} ({typo}) passed validation")


def test_birth_date_is_read_from_the_number() -> None:
    assert birth_date("620422198501010015") == date(1985, 1, 1)
    assert birth_date("11010519491231002X") == date(1949, 12, 31)


def test_mask_id_number_keeps_region_birth_year_and_last_two() -> None:
    assert mask_id_number("620422198501010015") == "6204221985******15"
    assert mask_id_number("11010519491231002X") == "1101051949******2X"
    assert len(mask_id_number("620422198501010015")) == 18


def test_mask_id_number_hides_short_values_entirely() -> None:
    assert mask_id_number("1234567") == "*******"
    assert mask_id_number("") == ""


def test_mask_name_keeps_the_first_character() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("张") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("") == ""


def test_mask_phone() -> None:
    assert mask_phone("13800138000") == "138******00"
    assert mask_phone("1234") == "****"
    masked = mask_phone("0931-1234567")
    assert masked.startswith("093") and masked.endswith("67") and "1234" not in masked
