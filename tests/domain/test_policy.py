"""Policy as data (docs/domain.md "Policy is data", docs/policy.md)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pydantic import ValidationError

from domain.errors import InvalidInput
from domain.policy import (
    PolicyBook,
    PolicySettings,
    PolicyVersion,
    PostExitContinuation,
    RecordedPolicy,
    resolved_json,
)
from domain.policy_data import LOCAL_POLICIES, NATIONAL_POVERTY_LINES, statutory_book

from .builders import TAIZHOU_VILLAGE, VILLAGE, at, book_with

HUGUANG_VILLAGE = "440811102201"
OTHER_TAIZHOU_COUNTY_VILLAGE = "321203100201"


def version(jurisdiction: str, effective: str, source: str | None = None, **settings: object) -> PolicyVersion:
    return PolicyVersion(
        jurisdiction=jurisdiction,
        effective_date=date.fromisoformat(effective),
        settings=PolicySettings(**settings),  # type: ignore[arg-type]
        source=source,
    )


def test_statutory_defaults() -> None:
    p = statutory_book().resolve(VILLAGE, date(2014, 6, 1))
    assert p.poverty_line == 2800
    assert (p.identification_notice_days, p.exit_notice_days) == (7, 7)
    assert p.no_exit_in_year_of_entry is True
    assert p.identification_quota is None
    assert p.post_exit_continuation == PostExitContinuation(kind="until", until=date(2020, 12, 31))
    assert (p.adjustment_cycle_years, p.adjustment_anchor_year) == (3, 2014)
    assert p.revisit_interval_days == 365
    assert p.provenance["poverty_line"][:2] == ("", date(2014, 1, 1))


@pytest.mark.parametrize(("year", "line"), sorted(NATIONAL_POVERTY_LINES.items()))
def test_the_national_line_of_each_year_holds_all_year(year: int, line: float) -> None:
    book = statutory_book()
    assert book.resolve(VILLAGE, date(year, 1, 1)).poverty_line == line
    assert book.resolve(VILLAGE, date(year, 12, 31)).poverty_line == line


def test_published_national_lines() -> None:
    assert NATIONAL_POVERTY_LINES[2014] == 2800
    assert NATIONAL_POVERTY_LINES[2015] == 2855
    assert NATIONAL_POVERTY_LINES[2010] == 2300


def test_the_line_of_2020_holds_after_2020() -> None:
    assert statutory_book().resolve(VILLAGE, date(2023, 5, 1)).poverty_line == 4000


def test_no_poverty_line_before_2010_but_procedures_apply() -> None:
    policy = statutory_book().resolve(VILLAGE, date(2009, 12, 31))
    assert policy.poverty_line is None
    assert policy.identification_notice_days == 7


def test_nothing_before_the_statutory_defaults_is_a_lookup_error() -> None:
    with pytest.raises(LookupError, match="identification_notice_days"):
        statutory_book().resolve(VILLAGE, date(1977, 12, 31))


def test_most_specific_jurisdiction_wins_per_setting() -> None:
    book = book_with(
        (version("3212", "2016-01-01", "prefecture", poverty_line=7000, identification_notice_days=5), None),
        (version("321202", "2016-01-01", "county", identification_notice_days=10), None),
        (version("321202100201", "2016-01-01", "village", exit_notice_days=3), None),
    )
    on = date(2016, 6, 1)
    village = book.resolve(TAIZHOU_VILLAGE, on)
    assert village.poverty_line == 7000
    assert village.identification_notice_days == 10
    assert village.exit_notice_days == 3
    assert village.no_exit_in_year_of_entry is True  # national
    assert village.provenance["poverty_line"] == ("3212", date(2016, 1, 1), "prefecture")
    assert village.provenance["identification_notice_days"][0] == "321202"
    assert village.provenance["exit_notice_days"][0] == "321202100201"
    assert village.provenance["revisit_interval_days"][0] == ""

    sibling = book.resolve(OTHER_TAIZHOU_COUNTY_VILLAGE, on)
    assert (sibling.poverty_line, sibling.identification_notice_days, sibling.exit_notice_days) == (7000, 5, 7)

    elsewhere = book.resolve(VILLAGE, on)
    assert (elsewhere.poverty_line, elsewhere.identification_notice_days) == (2952, 7)


def test_resolving_for_a_county_or_township_code_uses_prefixes_too() -> None:
    book = book_with((version("3212", "2016-01-01", poverty_line=7000), None))
    assert book.resolve("321202", date(2016, 6, 1)).poverty_line == 7000
    assert book.resolve("321202100", date(2016, 6, 1)).poverty_line == 7000
    assert book.resolve("3213", date(2016, 6, 1)).poverty_line == 2952


def test_a_more_specific_version_not_yet_in_force_does_not_apply() -> None:
    book = book_with(
        (version("3212", "2016-01-01", poverty_line=7000), None),
        (version("321202", "2017-01-01", poverty_line=7300), None),
    )
    assert book.resolve(TAIZHOU_VILLAGE, date(2016, 12, 31)).poverty_line == 7000
    assert book.resolve(TAIZHOU_VILLAGE, date(2017, 1, 1)).poverty_line == 7300
    assert book.resolve(TAIZHOU_VILLAGE, date(2015, 12, 31)).poverty_line == 2855


def test_latest_effective_version_within_a_jurisdiction_wins() -> None:
    book = book_with(
        (version("3212", "2018-01-01", poverty_line=7500), None),  # recorded in any order
        (version("3212", "2016-01-01", poverty_line=7000), None),
    )
    assert book.resolve(TAIZHOU_VILLAGE, date(2017, 6, 1)).poverty_line == 7000
    assert book.resolve(TAIZHOU_VILLAGE, date(2018, 6, 1)).poverty_line == 7500
    # a newer national figure does not override the more specific jurisdiction
    assert book.resolve(TAIZHOU_VILLAGE, date(2020, 6, 1)).poverty_line == 7500


def test_a_version_that_leaves_a_setting_unset_inherits_it() -> None:
    book = book_with(
        (version("3212", "2016-01-01", poverty_line=7000, exit_notice_days=10), None),
        (version("3212", "2018-01-01", poverty_line=7500), None),
    )
    p = book.resolve(TAIZHOU_VILLAGE, date(2018, 6, 1))
    assert (p.poverty_line, p.exit_notice_days) == (7500, 10)
    assert p.provenance["exit_notice_days"][1] == date(2016, 1, 1)


def test_taizhou_seed_example() -> None:
    taizhou = LOCAL_POLICIES["taizhou-2016"]
    assert (taizhou.jurisdiction, taizhou.effective_date) == ("3212", date(2016, 2, 23))
    book = book_with((taizhou, at("2016-03-10")))
    assert book.resolve(TAIZHOU_VILLAGE, date(2016, 2, 22)).poverty_line == 2952
    p = book.resolve(TAIZHOU_VILLAGE, date(2016, 2, 23))
    assert p.poverty_line == 7000
    assert p.exit_notice_days == 7
    assert p.post_exit_continuation == PostExitContinuation(kind="years", years=2)


def test_known_at_filters_recorded_versions() -> None:
    book = book_with((LOCAL_POLICIES["taizhou-2016"], at("2016-03-10")))
    on = date(2016, 3, 5)
    assert book.known_at(at("2016-03-09")).resolve(TAIZHOU_VILLAGE, on).poverty_line == 2952
    assert book.known_at(at("2016-03-10")).resolve(TAIZHOU_VILLAGE, on).poverty_line == 7000  # inclusive
    assert book.known_at(None).resolve(TAIZHOU_VILLAGE, on).poverty_line == 7000
    assert len(book.known_at(at("2016-03-09")).versions) == len(book.versions) - 1


def test_statutory_figures_are_known_at_every_moment() -> None:
    early = statutory_book().known_at(datetime(2000, 1, 1, tzinfo=at("2016-01-01").tzinfo))
    assert early.resolve(VILLAGE, date(2016, 6, 1)).poverty_line == 2952


def test_a_re_recorded_version_supersedes_the_earlier_recording() -> None:
    first = version("3212", "2016-02-23", poverty_line=7000)
    fixed = version("3212", "2016-02-23", poverty_line=7200)
    book = book_with((fixed, at("2016-04-01")), (first, at("2016-03-10")))
    assert book.resolve(TAIZHOU_VILLAGE, date(2016, 6, 1)).poverty_line == 7200
    assert book.known_at(at("2016-03-31")).resolve(TAIZHOU_VILLAGE, date(2016, 6, 1)).poverty_line == 7000


def test_a_recorded_national_version_overrides_the_statutory_one_of_the_same_date() -> None:
    book = book_with((version("", "2016-01-01", poverty_line=3000), at("2016-02-01")))
    assert book.resolve(VILLAGE, date(2016, 6, 1)).poverty_line == 3000


def test_with_version_leaves_the_original_book_alone() -> None:
    book = statutory_book()
    bigger = book.with_version(RecordedPolicy(LOCAL_POLICIES["taizhou-2016"], None))
    assert len(bigger.versions) == len(book.versions) + 1
    assert book.resolve(TAIZHOU_VILLAGE, date(2016, 6, 1)).poverty_line == 2952
    assert bigger.resolve(TAIZHOU_VILLAGE, date(2016, 6, 1)).poverty_line == 7000


def test_identification_quota_is_set_per_county() -> None:
    book = book_with((version("620422", "2014-01-01", identification_quota=120), None))
    assert book.resolve(VILLAGE, date(2015, 1, 1)).identification_quota == 120
    assert book.resolve(TAIZHOU_VILLAGE, date(2015, 1, 1)).identification_quota is None


def test_an_empty_book_cannot_resolve() -> None:
    with pytest.raises(LookupError):
        PolicyBook([]).resolve(VILLAGE, date(2016, 1, 1))
    with pytest.raises(InvalidInput, match="没有生效的政策") as refused:  # what `policy show` and the API answer
        resolved_json(PolicyBook([]), VILLAGE, date(2016, 1, 1))
    assert refused.value.rule == "no_policy"


# --- post-exit continuation (脱贫不脱政策) ---------------------------------------------------------


def test_national_continuation_until_2020_then_the_floor_to_2025() -> None:
    c = statutory_book().resolve(VILLAGE, date(2015, 11, 15)).post_exit_continuation
    assert (c.kind, c.floor) == ("until", False)
    assert c.support_until(date(2015, 11, 15)) == date(2020, 12, 31)
    floor = statutory_book().resolve(VILLAGE, date(2016, 11, 15)).post_exit_continuation
    assert (floor.kind, floor.floor) == ("until", True)
    assert floor.support_until(date(2016, 11, 15)) == date(2025, 12, 31)
    assert floor.support_until(date(2026, 1, 5)) is None


def test_taizhou_two_years_after_exit() -> None:
    book = book_with((LOCAL_POLICIES["taizhou-2016"], None))
    c = book.resolve(TAIZHOU_VILLAGE, date(2016, 11, 15)).post_exit_continuation
    assert c.kind == "years"
    assert c.support_until(date(2016, 11, 15)) == date(2018, 11, 14)
    assert c.support_until(date(2017, 1, 1)) == date(2018, 12, 31)


def test_huguang_until_july_2021() -> None:
    book = book_with((LOCAL_POLICIES["huguang-2020"], None))
    p = book.resolve(HUGUANG_VILLAGE, date(2020, 6, 1))
    assert (p.poverty_line, p.poverty_line_with_labour) == (4000, 9060)
    assert p.post_exit_continuation.support_until(date(2020, 6, 1)) == date(2021, 7, 31)
    before = book.resolve(HUGUANG_VILLAGE, date(2020, 2, 29))
    assert (before.poverty_line, before.poverty_line_with_labour) == (4000, None)
    assert before.post_exit_continuation.until == date(2025, 12, 31)


def test_no_continuation_where_a_jurisdiction_ends_support_at_exit() -> None:
    shanxi = LOCAL_POLICIES["shanxi-2014"].model_copy(update={"jurisdiction": ""})
    book = book_with((shanxi, None), (LOCAL_POLICIES["taizhou-2016"], None))
    c = book.resolve(VILLAGE, date(2015, 11, 15)).post_exit_continuation
    assert c.kind == "none"
    assert c.support_until(date(2015, 11, 15)) is None
    # Taizhou's own setting still wins for Taizhou households
    assert book.resolve(TAIZHOU_VILLAGE, date(2016, 11, 15)).post_exit_continuation.kind == "years"


@pytest.mark.parametrize(
    "data",
    [{"kind": "years"}, {"kind": "until"}, {"kind": "years", "years": 0}, {"kind": "forever"}],
)
def test_incomplete_continuations_are_invalid(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PostExitContinuation(**data)  # type: ignore[arg-type]


@pytest.mark.parametrize("jurisdiction", ["3", "321", "32120", "3212021", "abcd", "3212021002011"])
def test_jurisdiction_must_be_a_division_prefix(jurisdiction: str) -> None:
    with pytest.raises(ValidationError):
        version(jurisdiction, "2016-01-01", poverty_line=1)


def test_settings_are_checked() -> None:
    with pytest.raises(ValidationError):
        PolicySettings(poverty_line=0)
    with pytest.raises(ValidationError):
        PolicySettings(exit_notice_days=-1)
    with pytest.raises(ValidationError):
        PolicySettings(something_else=1)  # type: ignore[call-arg]
