"""The rules of the five local documents, each with its real scope, and the national ones.

Eligibility at identification, the age of the income behind an exit, the post-exit
continuation fixed at the exit's date with the national floor, Huguang's labour line, and
where each rule's citation points.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from domain.errors import RuleViolation
from domain.events import IdentificationProposed, MembersChanged
from domain.policy import exit_continuation, poverty_line_for, resolved_json
from domain.policy_data import EXIT_MECHANISM_DATE, HUGUANG_TOWN, LOCAL_POLICIES, STATUTORY, statutory_book
from domain.values import Member, default_labour
from domain.vocab import Labour, Status

from .builders import (
    TAIZHOU_VILLAGE,
    History,
    approved,
    at,
    book_with,
    exit_proposed,
    guarantees,
    income,
    member,
    members_changed,
    person_id,
    proposed,
    registered_poor,
)

SHANXI_VILLAGE = "140723100201"
HAINAN_VILLAGE = "460204100201"
HUGUANG_VILLAGE = HUGUANG_TOWN + "201"
OTHER_MAZHANG_VILLAGE = "440811101201"  # 麻章区, another township
HUINING_VILLAGE = "620422100201"


def all_local(recorded: str = "2014-01-01") -> History:
    """A history whose book holds every local policy, recorded long before it is needed."""
    return History(policies=book_with(*((v, None) for v in LOCAL_POLICIES.values())))


def refused(h: History, body: object, rule: str) -> RuleViolation:
    before = list(h.events)
    with pytest.raises(RuleViolation) as err:
        h.record(body)  # type: ignore[arg-type]
    assert err.value.rule == rule, err.value.detail
    assert h.events == before
    return err.value


# --- 1. eligibility at identification ---------------------------------------------------------


def test_a_household_above_the_line_is_not_identified() -> None:
    h = History()
    err = refused(h, proposed("2014-05-02", income=20_000), "income_above_line")
    assert err.context["poverty_line"] == 2736  # the line of the income year 2013
    assert "扶贫标准" in err.detail and "poverty line" in err.detail_en


def test_the_line_of_the_income_year_applies_strictly_below() -> None:
    refused(History(), proposed("2014-05-02", income=2736), "income_above_line")
    History().record(proposed("2014-05-02", income=2735.99))


def test_an_eligibility_exception_from_the_policy_list_admits_and_is_recorded() -> None:
    h = History()
    h.record(proposed("2014-05-02", income=20_000, eligibility_exception="sudden_illness"))
    assert h.events[-1].body.eligibility_exception == "sudden_illness"  # type: ignore[union-attr]


def test_an_exception_the_policy_does_not_list_is_refused() -> None:
    from domain.policy import PolicySettings, PolicyVersion

    narrow = PolicyVersion(jurisdiction="620422", effective_date=date(2014, 1, 1),
                           settings=PolicySettings(eligibility_exceptions=("sudden_disaster",)))
    h = History(policies=book_with((narrow, None)))
    err = refused(h, proposed("2014-05-02", income=20_000, eligibility_exception="sudden_illness"),
                  "eligibility_exception_not_allowed")
    assert err.context["allowed"] == ["sudden_disaster"]


def test_guarantees_not_secured_needs_a_guarantee_missing() -> None:
    h = History()
    body = proposed("2014-05-02", income=20_000, eligibility_exception="guarantees_not_secured")
    h.record(body)  # the builder's household lacks medical care and housing
    secure = body.model_copy(update={"guarantees": guarantees()})
    refused(History("H-2"), secure, "eligibility_exception_unfounded")


def test_a_taizhou_household_is_identified_below_7000_from_2016() -> None:
    h = History(policies=book_with((LOCAL_POLICIES["taizhou-2016"], None)))
    h.record(proposed("2017-03-01", division=TAIZHOU_VILLAGE, income=6000, income_year=2016))
    refused(History("H-2", policies=h.policies),
            proposed("2016-03-01", division=TAIZHOU_VILLAGE, income=6000, income_year=2015), "income_above_line")


# --- 1. the income behind an exit is recent ----------------------------------------------------


def test_an_exit_on_the_identification_income_of_years_ago_is_refused() -> None:
    h = registered_poor()  # identified 2014-05-02 on a 2013 income
    err = refused(h, exit_proposed("2016-11-01"), "exit_income_outdated")
    assert err.context["assessed_on"] == "2014-05-02"
    assert err.context["max_age_days"] == 365


def test_an_income_assessed_within_the_window_qualifies() -> None:
    h = registered_poor()
    h.record(income("2015-11-02", 4000, 2015))
    h.record(exit_proposed("2016-11-01"))  # exactly 365 days later
    assert h.last_steps[-1].state.status == Status.EXIT_PENDING
    late = registered_poor(History("H-2"))
    late.record(income("2015-11-01", 4000, 2015))
    refused(late, exit_proposed("2016-11-01"), "exit_income_outdated")  # 366 days


# --- 2. post-exit continuation is fixed at the exit's date --------------------------------------


def test_continuation_does_not_move_with_the_query_date() -> None:
    """A Taizhou exit of 2015-11-10 keeps what was in force then, before and after Taizhou's
    rule of 2016-02-23 took effect."""
    book = book_with((LOCAL_POLICIES["taizhou-2016"], at("2016-02-23")))
    for known in (book.known_at(at("2016-02-22")), book):
        assert exit_continuation(known, TAIZHOU_VILLAGE, date(2015, 11, 10)).until == date(2020, 12, 31)


def test_a_later_local_rule_extends_the_national_floor_but_never_shortens_it() -> None:
    book = book_with(*((v, None) for v in LOCAL_POLICIES.values()))
    # Taizhou's two years would end in 2018; the national floor runs to the end of 2025.
    assert exit_continuation(book, TAIZHOU_VILLAGE, date(2016, 11, 15)).until == date(2025, 12, 31)
    longer = LOCAL_POLICIES["taizhou-2016"].model_copy(update={
        "effective_date": date(2017, 1, 1),
        "settings": LOCAL_POLICIES["taizhou-2016"].settings.model_copy(update={
            "post_exit_continuation": LOCAL_POLICIES["taizhou-2016"].settings.post_exit_continuation.model_copy(
                update={"years": 12})})})
    book = book.with_version(type(book.versions[0])(longer, None))
    assert exit_continuation(book, TAIZHOU_VILLAGE, date(2017, 6, 1)).until == date(2029, 5, 31)


def test_shanxi_no_continuation_applies_to_shanxi_exits_before_the_national_rule_only() -> None:
    book = book_with(*((v, None) for v in LOCAL_POLICIES.values()))
    assert exit_continuation(book, SHANXI_VILLAGE, date(2015, 6, 1)).until is None
    assert exit_continuation(book, SHANXI_VILLAGE, EXIT_MECHANISM_DATE).until == date(2025, 12, 31)
    # elsewhere, an exit of 2015 keeps the national continuation
    assert exit_continuation(book, HUINING_VILLAGE, date(2015, 6, 1)).until == date(2020, 12, 31)
    assert exit_continuation(book, HAINAN_VILLAGE, date(2015, 6, 1)).until == date(2020, 12, 31)


def test_the_continuation_names_its_sources() -> None:
    book = book_with((LOCAL_POLICIES["taizhou-2016"], None))
    c = exit_continuation(book, TAIZHOU_VILLAGE, date(2016, 11, 15))
    assert c.sources[0][2] is not None and "厅字〔2016〕16号" in c.sources[0][2]
    assert any(s[2] and "泰发〔2016〕5号" in s[2] for s in c.sources)


# --- 3. Huguang's 9060 line: that town, households with labour capacity ----------------------


def test_huguang_line_only_for_the_town_and_for_households_that_can_work() -> None:
    book = book_with((LOCAL_POLICIES["huguang-2020"], None))
    assert poverty_line_for(book, HUGUANG_VILLAGE, 2020, with_labour=True)[0] == 9060
    assert poverty_line_for(book, HUGUANG_VILLAGE, 2020, with_labour=False)[0] == 4000  # 兜底
    assert poverty_line_for(book, OTHER_MAZHANG_VILLAGE, 2020, with_labour=True)[0] == 4000
    assert poverty_line_for(book, HUGUANG_VILLAGE, 2019, with_labour=True)[0] == 3218


def test_huguang_identification_follows_the_household_labour_capacity() -> None:
    book = book_with((LOCAL_POLICIES["huguang-2020"], None))
    elder = Member(name="老人", id_number=person_id(7, born="19400101", region="440811"), relation="head")
    h = History(policies=book)
    h.record(proposed("2021-03-01", division=HUGUANG_VILLAGE, income=8000, income_year=2020))  # can work
    alone = History("H-2", policies=book)
    err = refused(alone, proposed("2021-03-01", division=HUGUANG_VILLAGE, income=8000, income_year=2020,
                                  members=[elder.model_copy(update={"labour": "none"})]), "income_above_line")
    assert err.context["poverty_line"] == 4000


# --- member labour defaults from age ----------------------------------------------------------


def test_labour_capacity_defaults_from_age_unless_given() -> None:
    on = date(2016, 6, 1)
    assert default_labour(person_id(1, born="20050101"), on) == Labour.NONE
    assert default_labour(person_id(1, born="20000601"), on) == Labour.FULL  # 16 that day
    assert default_labour(person_id(1, born="19560602"), on) == Labour.FULL  # 59
    assert default_labour(person_id(1, born="19560601"), on) == Labour.WEAK  # 60
    child = Member(name="小明", id_number=person_id(9, born="20100101"), relation="child")
    body = proposed("2016-06-01", members=[member(1), child])
    assert [m.labour for m in body.members] == [Labour.FULL, Labour.NONE]
    given = child.model_copy(update={"labour": "weak"})
    assert proposed("2016-06-01", members=[member(1), given]).members[1].labour == Labour.WEAK
    joined = members_changed("2016-06-01", joined=[child])
    assert joined.joined[0].labour == Labour.NONE


def test_a_new_head_when_the_head_leaves() -> None:
    h = registered_poor()
    head, spouse = (m.id_number for m in h.last_steps[-1].state.members)
    refused(h, members_changed("2015-03-01", left=[head]), "one_head")
    h.record(MembersChanged(effective_date=date(2015, 3, 1), left=[head], new_head=spouse))
    members = h.last_steps[-1].state.members
    assert [(m.id_number, m.relation) for m in members] == [(spouse, "head")]
    with pytest.raises(ValidationError):
        MembersChanged(effective_date=date(2015, 3, 1), left=[spouse], new_head=spouse)


# --- 7. citations ----------------------------------------------------------------------------


def test_policy_data_cites_documents_by_title_never_by_file() -> None:
    for version in [*STATUTORY, *LOCAL_POLICIES.values()]:
        assert version.source and not re.search(r"seed", version.source, re.I), version.source


def test_the_same_year_rule_does_not_cite_a_document_without_it() -> None:
    source = statutory_book().resolve(HUINING_VILLAGE, date(2016, 1, 1)).provenance["no_exit_in_year_of_entry"][2]
    assert source is not None and "会宁" not in source and "53号" not in source


def test_each_local_policy_has_its_real_jurisdiction() -> None:
    scopes = {name: v.jurisdiction for name, v in LOCAL_POLICIES.items()}
    assert scopes == {"hainan-2014": "46", "huguang-2020": "440811102", "shanxi-2014": "14",
                      "huining-2015": "620422", "taizhou-2016": "3212"}


def test_no_product_file_names_a_seed_file() -> None:
    root = Path(__file__).resolve().parents[2]
    for folder in ("domain", "service", "persistence", "projections", "api", "cli", "consumers",
                   "simulation", "bootstrap", "docs"):
        for path in (root / folder).rglob("*"):
            if path.suffix in (".py", ".md") and path.is_file():
                text = path.read_text(encoding="utf-8")
                assert not re.search(r"seed[s]? ?0\d\d", text, re.I), path


def test_resolved_policy_is_plain_json() -> None:
    import json

    book = book_with((LOCAL_POLICIES["taizhou-2016"], None))
    out = resolved_json(book, TAIZHOU_VILLAGE, date(2016, 11, 15))
    text = json.dumps(out, ensure_ascii=False)  # no default=: plain JSON types only
    assert "kind=" not in text
    assert out["post_exit_continuation"] == {"kind": "years", "years": 2, "until": None, "floor": False}
    assert out["exit_continuation"]["until"] == "2025-12-31"
    huining = resolved_json(book_with((LOCAL_POLICIES["huining-2015"], None)), "620422", date(2016, 1, 1))
    assert {"year": 2016, "exit_persons": 42000, "villages_exited": 38} in huining["targets"]


def test_identification_event_keeps_the_exception_field_optional() -> None:
    assert IdentificationProposed.model_fields["eligibility_exception"].default is None
    h = History()
    h.record(proposed("2014-05-02"))
    h.record(approved("2014-05-20"))
