"""Event payloads: every event type parses from its JSON form, and bad input is refused."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from domain.errors import InvalidInput
from domain.events import (
    APPROVAL_EVENTS,
    EVENT_TYPES,
    META_EVENTS,
    EventCorrected,
    IdentificationProposed,
    MembersChanged,
    event_json,
    parse_event,
    parse_new_event,
)
from domain.values import Member

from .builders import person_id

HEAD = {"name": "张三", "id_number": "620422198501010015", "relation": "head",
        "labour": "full", "health": "chronic_illness", "in_school": False}
SPOUSE = {"name": "李四", "id_number": person_id(2), "relation": "spouse"}
ALL_TRUE = {k: True for k in ("food", "clothing", "education", "medical", "housing", "water")}

#: One valid payload per event type (docs/api.md, the event fields table), with its required fields only
#: plus the common ones.
VALID: dict[str, dict[str, Any]] = {
    "IdentificationProposed": {
        "division_code": "620422100201", "attribute": "general", "main_cause": "illness",
        "secondary_causes": ["lack_of_skills"], "income_per_capita": 2100, "income_year": 2013,
        "guarantees": {**ALL_TRUE, "medical": False, "housing": False},
        "members": [HEAD, SPOUSE], "batch": "2014-1",
    },
    "IdentificationApproved": {"approving_office": "县扶贫办"},
    "IdentificationRejected": {"reason": "异议成立"},
    "AssistanceMeasureAssigned": {"category": "industry", "amount": 3000, "funding_source": "财政",
                                  "helper": "王五", "description": "养牛"},
    "AssistanceMeasureCompleted": {"measure_id": "e-3", "outcome": "done"},
    "HelperAssigned": {"helper_name": "王五", "unit": "县农业局", "phone": "0931-1234567"},
    "IncomeAssessed": {"year": 2015, "income_per_capita": 3200.5, "components": {"wage": 2000.5}},
    "MembersChanged": {"joined": [{"name": "张小", "id_number": person_id(3, "20150101"),
                                   "relation": "child"}], "left": [person_id(2)]},
    "MemberUpdated": {"id_number": person_id(2), "labour": "weak"},
    "GuaranteesAssessed": {"guarantees": ALL_TRUE},
    "AttributeChanged": {"attribute": "dibao"},
    "ExitProposed": {"pathway": "industry", "guarantees": ALL_TRUE},
    "ExitConfirmed": {"household_acknowledged": True},
    "ExitWithdrawn": {"reason": "公示期内有异议"},
    "ReturnedToPoverty": {"cause": "disaster"},
    "Revisited": {"finding": "at_risk", "notes": "收入不稳定"},
    "RemovedAsIneligible": {"reason": "有小汽车"},
    "HouseholdTransferred": {"division_code": "620422100202"},
    "HouseholdClosed": {"reason": "全户死亡"},
    "EventCorrected": {"target_event_id": "e-1", "changes": {"income_per_capita": 2000},
                       "reason": "录入错误"},
    "EventRetracted": {"target_event_id": "e-1", "reason": "录入错误"},
}


def payload(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "effective_date": "2016-03-01", **VALID[kind], **extra}


def test_every_event_type_of_domain_md_is_defined() -> None:
    assert set(EVENT_TYPES) == set(VALID)
    assert len(EVENT_TYPES) == 21
    assert {"EventCorrected", "EventRetracted"} == META_EVENTS
    assert {"IdentificationApproved", "IdentificationRejected", "ExitConfirmed"} == APPROVAL_EVENTS


@pytest.mark.parametrize("kind", sorted(VALID))
def test_each_event_type_parses_into_its_model_and_round_trips(kind: str) -> None:
    data = payload(kind, reason="依据会议纪要", evidence=["notice-2016-001"])
    if kind in ("IdentificationRejected", "ExitWithdrawn", "RemovedAsIneligible", "HouseholdClosed",
                "EventCorrected", "EventRetracted"):
        data["reason"] = VALID[kind]["reason"]
    body = parse_event(data)
    assert type(body) is EVENT_TYPES[kind]
    assert body.type == kind
    assert body.effective_date.isoformat() == "2016-03-01"
    assert body.evidence == ["notice-2016-001"]
    as_json = event_json(body)
    assert as_json["type"] == kind
    assert as_json["effective_date"] == "2016-03-01"
    assert parse_event(as_json) == body


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("IdentificationRejected", "reason"),
        ("AssistanceMeasureAssigned", "category"),
        ("AssistanceMeasureCompleted", "measure_id"),
        ("HelperAssigned", "helper_name"),
        ("IncomeAssessed", "year"),
        ("IncomeAssessed", "income_per_capita"),
        ("ExitProposed", "pathway"),
        ("ExitProposed", "guarantees"),
        ("ExitConfirmed", "household_acknowledged"),
        ("ExitWithdrawn", "reason"),
        ("ReturnedToPoverty", "cause"),
        ("Revisited", "finding"),
        ("RemovedAsIneligible", "reason"),
        ("HouseholdTransferred", "division_code"),
        ("HouseholdClosed", "reason"),
        ("EventCorrected", "target_event_id"),
        ("EventCorrected", "changes"),
        ("EventCorrected", "reason"),
        ("EventRetracted", "target_event_id"),
        ("EventRetracted", "reason"),
        ("IdentificationProposed", "members"),
        ("IdentificationProposed", "division_code"),
    ],
)
def test_a_missing_required_field_is_invalid_input_naming_the_field(kind: str, field: str) -> None:
    data = payload(kind)
    del data[field]
    with pytest.raises(InvalidInput) as err:
        parse_event(data)
    assert err.value.rule == "invalid_fields"
    assert isinstance(err.value, InvalidInput)
    assert [field] in [e["loc"][:1] for e in err.value.errors]


def test_missing_effective_date_is_invalid() -> None:
    data = payload("IdentificationApproved")
    del data["effective_date"]
    with pytest.raises(InvalidInput) as err:
        parse_event(data)
    assert ["effective_date"] in [e["loc"] for e in err.value.errors]


@pytest.mark.parametrize("kind", [None, "Bogus", "identificationproposed", 42])
def test_unknown_event_type_is_refused(kind: object) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_event({"type": kind, "effective_date": "2016-01-01"})
    assert err.value.rule == "unknown_event_type"


def test_a_non_dict_payload_is_an_unknown_event_type() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_event(["IdentificationApproved"])  # type: ignore[arg-type]
    assert err.value.rule == "unknown_event_type"


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("IdentificationProposed", "attribute", "rich"),
        ("IdentificationProposed", "main_cause", "bad_luck"),
        ("IdentificationProposed", "division_code", "62042210020"),
        ("IdentificationProposed", "income_per_capita", -1),
        ("IdentificationProposed", "income_year", 1900),
        ("AssistanceMeasureAssigned", "category", "lottery"),
        ("ExitProposed", "pathway", "luck"),
        ("Revisited", "finding", "fine"),
        ("HouseholdTransferred", "division_code", "6204221002"),
        ("HelperAssigned", "phone", "call me"),
        ("IdentificationApproved", "unexpected", "x"),
    ],
)
def test_values_outside_the_vocabularies_are_invalid(kind: str, field: str, value: object) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_event(payload(kind, **{field: value}))
    assert err.value.rule == "invalid_fields"
    assert field in {e["loc"][0] for e in err.value.errors if e["loc"]}


def test_guarantees_need_all_six_keys() -> None:
    g = dict(ALL_TRUE)
    del g["water"]
    with pytest.raises(InvalidInput) as err:
        parse_event(payload("ExitProposed", guarantees=g))
    assert ["guarantees", "water"] in [e["loc"] for e in err.value.errors]


def test_bad_id_checksum_is_refused_with_its_location() -> None:
    bad = dict(HEAD, id_number="620422198501010016")
    with pytest.raises(InvalidInput) as err:
        parse_event(payload("IdentificationProposed", members=[bad]))
    assert err.value.rule == "invalid_fields"
    (error,) = err.value.errors
    assert error["loc"] == ["members", "0", "id_number"]
    assert "check digit" in error["msg"]


def test_lowercase_x_check_character_is_normalised() -> None:
    m = Member(name="甲", id_number="11010519491231002x", relation="head")  # type: ignore[arg-type]
    assert m.id_number == "11010519491231002X"


@pytest.mark.parametrize(
    "members",
    [
        [],
        [SPOUSE],
        [HEAD, dict(SPOUSE, relation="head")],
        [HEAD, dict(SPOUSE, id_number=HEAD["id_number"])],
    ],
    ids=["empty", "no-head", "two-heads", "duplicate-id"],
)
def test_identification_needs_a_proper_household(members: list[dict[str, Any]]) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_event(payload("IdentificationProposed", members=members))
    assert err.value.rule == "invalid_fields"


def test_members_changed_needs_a_change_and_no_contradiction() -> None:
    with pytest.raises(InvalidInput):
        parse_event(payload("MembersChanged", joined=[], left=[]))
    with pytest.raises(ValidationError, match="both join and leave"):
        MembersChanged(effective_date="2016-01-01", joined=[Member(**SPOUSE)], left=[SPOUSE["id_number"]])
    only_left = parse_event(payload("MembersChanged", joined=[]))
    assert isinstance(only_left, MembersChanged)
    assert only_left.left == [person_id(2)]


def test_member_ids_that_leave_are_validated_too() -> None:
    with pytest.raises(InvalidInput):
        parse_event(payload("MembersChanged", joined=[], left=["620422198501010016"]))


def test_a_correction_cannot_change_the_event_type() -> None:
    with pytest.raises(InvalidInput, match="cannot change an event's type"):
        parse_event(payload("EventCorrected", changes={"type": "ExitConfirmed"}))
    with pytest.raises(ValidationError):
        EventCorrected(effective_date="2016-01-01", target_event_id="e", changes={"type": "X"}, reason="r")


def test_a_correction_must_change_something() -> None:
    with pytest.raises(InvalidInput):
        parse_event(payload("EventCorrected", changes={}))


def test_events_are_immutable() -> None:
    body = parse_event(payload("IdentificationProposed"))
    assert isinstance(body, IdentificationProposed)
    with pytest.raises(ValidationError):
        body.income_per_capita = 1  # type: ignore[misc]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_new_event_holds_only_finite_numbers(bad: float) -> None:
    income = {**payload("IncomeAssessed"), "components": {"wage": 2000.5, "farming": bad}}
    with pytest.raises(InvalidInput) as refused:
        parse_new_event(income)
    assert refused.value.rule == "non_finite_number"
    assert refused.value.errors[0]["loc"] == ["components", "farming"]
    nested = {**payload("EventCorrected"), "changes": {"members": [{"income": [1, bad]}]}}
    with pytest.raises(InvalidInput) as refused:
        parse_new_event(nested)
    assert refused.value.errors[0]["loc"] == ["changes", "members", "0", "income", "1"]
    # A bounded number refuses it too, and the rule says why.
    with pytest.raises(InvalidInput) as refused:
        parse_new_event({**payload("IncomeAssessed"), "income_per_capita": bad})
    assert refused.value.rule == "non_finite_number"
    assert refused.value.errors[0]["loc"] == ["income_per_capita"]
    # What is already stored is read as it is: refusing it now would make it unreadable.
    assert parse_event(income).components["farming"] != 2000.5  # type: ignore[attr-defined]
    assert parse_new_event(payload("IncomeAssessed")).type == "IncomeAssessed"
