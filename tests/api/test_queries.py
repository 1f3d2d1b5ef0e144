"""Queries through real HTTP on both stores: the worked example of docs/domain.md, as of / known at."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, assert_problem
from tests.support import GUARANTEED, member, proposal


def at(api: Api, moment: str) -> None:
    api.clock.set(moment)


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.fixture
def worked(api: Api) -> Api:
    """The worked example of docs/domain.md (H-1), recorded at the moments it gives; plus H-2 in another township."""
    at(api, "2014-05-02T02:00:00+00:00")
    ok(api.post("/v1/households", json={"household_id": "H-1", **proposal(members=[
        member(1, phone="13800138000"), member(501, "spouse"), member(3, "child")])}))
    at(api, "2014-05-21T02:00:00+00:00")
    ok(api.event("H-1", as_="approver", type="IdentificationApproved", effective_date="2014-05-20"))
    at(api, "2016-10-20T02:00:00+00:00")
    api.income = ok(api.event("H-1", type="IncomeAssessed", effective_date="2016-10-15", year=2016,  # type: ignore[attr-defined]
                              income_per_capita=3600))
    at(api, "2016-11-01T02:00:00+00:00")
    ok(api.event("H-1", type="ExitProposed", effective_date="2016-11-01", pathway="industry",
                 guarantees=GUARANTEED))
    at(api, "2016-12-20T08:01:02.123456+00:00")
    ok(api.event("H-1", as_="approver", type="ExitConfirmed", effective_date="2016-11-15",
                 household_acknowledged=True))
    at(api, "2017-09-01T02:00:00+00:00")
    ok(api.event("H-1", type="ReturnedToPoverty", effective_date="2017-08-03", cause="illness"))
    at(api, "2017-09-02T02:00:00+00:00")
    ok(api.post("/v1/households", json={"household_id": "H-2", **proposal(seq=40, village="620422101203",
                                                                           effective_date="2017-09-01")}))
    at(api, "2018-03-01T02:00:00+00:00")
    return api


def card(api: Api, hid: str = "H-1", as_: str = "investigator", **params: str) -> dict[str, Any]:
    return ok(api.get(f"/v1/households/{hid}", as_=as_, params=params))


def test_worked_example_as_of_and_known_at(worked: Api) -> None:
    assert card(worked, as_of="2016-12-01", known_at="2016-12-10")["status"] == "exit_pending"
    assert card(worked, as_of="2016-12-01")["status"] == "exited"
    assert card(worked, as_of="2017-08-15", known_at="2017-08-20")["status"] == "exited"
    now = card(worked, as_of="2017-08-15")
    assert now["status"] == "returned" and now["version"] == 6
    assert card(worked, as_of="2016-12-01", known_at="2016-12-10")["version"] == 4
    # a moment with an offset: just before and just after the late confirmation was recorded
    before = card(worked, as_of="2016-12-01", known_at="2016-12-20T16:01:02.123455+08:00")
    after = card(worked, as_of="2016-12-01", known_at="2016-12-20T16:01:02.123456+08:00")
    assert (before["status"], after["status"]) == ("exit_pending", "exited")


def test_card_fields(worked: Api) -> None:
    c = card(worked, as_of="2016-12-31")
    assert c["household_id"] == "H-1" and c["division_code"] == "620422100201"
    for name in ("attribute", "members", "main_cause", "latest_income", "guarantees", "measures", "helpers",
                 "flags", "version"):
        assert name in c, name
    assert c["latest_income"]["income_per_capita"] == 3600
    assert c["flags"]["policy_continuation_until"] is not None or "policy_continuation_until" in c["flags"]
    assert len(c["members"]) == 3


def test_card_404s(worked: Api) -> None:
    assert_problem(worked.get("/v1/households/H-1", params={"as_of": "2014-05-01"}), 404, "not_on_register")
    assert_problem(worked.get("/v1/households/H-1", params={"known_at": "2014-05-01"}), 404, "not_on_register")
    assert_problem(worked.get("/v1/households/H-404"), 404, "unknown_household")
    assert_problem(worked.get("/v1/households/policies"), 404, "unknown_household")
    assert_problem(worked.get("/v1/households/H-404/timeline"), 404, "unknown_household")
    assert_problem(worked.get("/v1/households/H-404/audit"), 404, "unknown_household")


@pytest.mark.parametrize(
    ("known_at", "rule"),
    [("yesterday", "known_at_format"), ("2016-12-10T12:00:00", "known_at_format"),
     ("2016-13-40", "known_at_format"), ("9999-12-31T23:59:59-23:59", "known_at_format")],
)
def test_bad_known_at_is_422(worked: Api, known_at: str, rule: str) -> None:
    problem = assert_problem(worked.get("/v1/households/H-1", params={"known_at": known_at}), 422, rule)
    assert problem["errors"][0]["loc"] == ["query", "known_at"]


def test_bad_as_of_is_422(worked: Api) -> None:
    problem = assert_problem(worked.get("/v1/households/H-1", params={"as_of": "2016-02-30"}), 422,
                             "invalid_parameters")
    assert problem["errors"][0]["loc"] == ["query", "as_of"]


def test_timeline_known_at(worked: Api) -> None:
    then = ok(worked.get("/v1/households/H-1/timeline", as_="recorder", params={"known_at": "2016-12-10"}))
    assert then == [
        {"status": "proposed", "status_label": "拟识别", "from": "2014-05-02", "to": "2014-05-20"},
        {"status": "poor", "status_label": "在档未脱贫", "from": "2014-05-20", "to": "2016-11-01"},
        {"status": "exit_pending", "status_label": "拟退出", "from": "2016-11-01", "to": None},
    ]
    now = ok(worked.get("/v1/households/H-1/timeline", as_="recorder"))
    assert [i["status"] for i in now] == ["proposed", "poor", "exit_pending", "exited", "returned"]
    assert now[-1] == {"status": "returned", "status_label": "返贫", "from": "2017-08-03", "to": None}


def test_audit_trail_with_correction(worked: Api) -> None:
    target = worked.income["event_id"]  # type: ignore[attr-defined]
    ok(worked.event("H-1", type="EventCorrected", effective_date="2018-02-01", target_event_id=target,
                    changes={"income_per_capita": 3650}, reason="录入错误"))
    trail = ok(worked.get("/v1/households/H-1/audit", as_="investigator"))
    events = trail["events"]
    assert [e["version"] for e in events] == list(range(1, 8))
    correction = events[-1]
    assert correction["type"] == "EventCorrected" and correction["reason"] == "录入错误"
    assert correction["recorded_by"]["role"] == "recorder" and correction["changes"]
    assert events[4]["type"] == "ExitConfirmed" and events[4]["recorded_at"].startswith("2016-12-20")
    assert trail["integrity"]["household_head"] == correction["household_chain"]
    head_id = proposal()["members"][0]["id_number"]
    assert events[0]["data"]["members"][0]["id_number"] == head_id  # investigators see PII
    admin = ok(worked.get("/v1/households/H-1/audit", as_="admin"))
    assert admin["events"][0]["data"]["members"][0]["id_number"] == head_id
    # the correction changes what is known now, not what was known before it
    assert card(worked, as_of="2017-01-01")["latest_income"]["income_per_capita"] == 3650
    assert card(worked, as_of="2017-01-01", known_at="2018-01-01")["latest_income"]["income_per_capita"] == 3600


def test_masking_in_cards_and_rosters(worked: Api) -> None:
    head = proposal(members=[member(1, phone="13800138000")])["members"][0]
    for role in ("recorder", "approver"):
        c = card(worked, as_=role)
        m = next(m for m in c["members"] if m["relation"] == "head")
        assert m["id_number"] == head["id_number"][:10] + "******" + head["id_number"][-2:]
        assert m["name"] == head["name"][0] + "*" * (len(head["name"]) - 1)
        assert m["phone"] != head["phone"] and "*" in m["phone"]
        row = ok(worked.get("/v1/rosters/620422", as_=role))["rows"][0]
        assert "*" in row["head_name"] and "*" in row["head_id_number"]
    for role in ("investigator", "admin"):
        m = next(m for m in card(worked, as_=role)["members"] if m["relation"] == "head")
        assert m["id_number"] == head["id_number"] and m["phone"] == head["phone"]


def test_roster_counts_pages_and_known_at(worked: Api) -> None:
    roster = ok(worked.get("/v1/rosters/620422", params={"as_of": "2017-12-31"}))
    assert roster["counts"]["returned"] == {"households": 1, "persons": 3}
    assert roster["counts"]["proposed"] == {"households": 1, "persons": 2}
    assert {r["household_id"] for r in roster["rows"]} == {"H-1", "H-2"}
    filed = ok(worked.get("/v1/rosters/620422", params={"as_of": "2016-12-01", "known_at": "2016-12-10"}))
    assert filed["counts"]["exit_pending"]["households"] == 1 and filed["counts"]["exited"]["households"] == 0
    township = ok(worked.get("/v1/rosters/620422101", params={"as_of": "2017-12-31", "status": "proposed"}))
    assert [r["household_id"] for r in township["rows"]] == ["H-2"]
    village = ok(worked.get("/v1/rosters/620422100201", params={"as_of": "2017-12-31"}))
    assert [r["household_id"] for r in village["rows"]] == ["H-1"]
    page = ok(worked.get("/v1/rosters/62", params={"as_of": "2017-12-31", "page": 2, "page_size": 1}))
    assert len(page["rows"]) == 1 and page["pages"] == 2
    assert_problem(worked.get("/v1/rosters/6204221"), 422, "invalid_parameters")
    assert_problem(worked.get("/v1/rosters/620422", params={"status": "rich"}), 422, "invalid_parameters")
    assert_problem(worked.get("/v1/rosters/620422", params={"page_size": 0}), 422, "invalid_parameters")


def test_adjustments_reconcile(worked: Api) -> None:
    report = ok(worked.get("/v1/adjustments/620422", as_="approver",
                           params={"start": "2014-01-01", "end": "2016-12-31"}))
    assert report["reconciles"] is True
    for part in ("opening", "inflows", "outflows", "closing"):
        assert "households" in (report[part] if part in ("opening", "closing") else report[part]["total"])
    as_filed = ok(worked.get("/v1/adjustments/620422", params={"start": "2014-01-01", "end": "2016-12-31",
                                                                "known_at": "2016-12-10"}))
    assert as_filed["reconciles"] is True
    assert as_filed["outflows"]["total"] != report["outflows"]["total"]  # the late exit confirmation
    default = ok(worked.get("/v1/adjustments/620422"))
    assert default["reconciles"] is True and default["end"] == "2018-03-01"
    assert_problem(worked.get("/v1/adjustments/620422", params={"start": "2017-01-01", "end": "2016-01-01"}),
                   422, "period_order")


def test_incidence(worked: Api) -> None:
    found = ok(worked.get("/v1/divisions/620422100201/incidence", params={"as_of": "2017-12-31"}))
    assert found["poor_persons"] == 3 and found["population"] == 1_200
    assert found["incidence"] == pytest.approx(3 / 1_200)
    earlier = ok(worked.get("/v1/divisions/620422/incidence", params={"as_of": "2017-01-01"}))
    assert earlier["poor_persons"] == 0
    as_known = ok(worked.get("/v1/divisions/620422/incidence", params={"as_of": "2017-08-15",
                                                                       "known_at": "2017-08-20"}))
    assert as_known["poor_persons"] == 0
    assert ok(worked.get("/v1/divisions/620422/incidence", params={"as_of": "2017-08-15"}))["poor_persons"] == 3


def test_adjustments_difference_lists_the_late_entries(worked: Api) -> None:
    found = ok(worked.get("/v1/adjustments/620422/difference", as_="recorder",
                          params={"start": "2014-01-01", "end": "2016-12-10"}))
    assert found["filed_at"] == "2016-12-10T15:59:59.999999+00:00"  # the end of that day in Asia/Shanghai
    (household,) = found["households"]
    assert household["household_id"] == "H-1"
    assert [(e["kind"], e["type"]) for e in household["events"]] == [("late_entry", "ExitConfirmed")]
    assert_problem(worked.get("/v1/adjustments/620422/difference", params={"start": "2014-01-01"}), 422,
                   "invalid_parameters")
    assert_problem(worked.get("/v1/adjustments/620422/difference",
                              params={"start": "2014-01-01", "end": "2016-12-10", "filed_at": "soon"}),
                   422, "filed_at_format")


def test_audit_trail_by_division_and_actor(worked: Api) -> None:
    by_division = ok(worked.get("/v1/audit", as_="investigator", params={"division": "620422101"}))
    assert {e["household_id"] for e in by_division["events"] if e["household_id"]} == {"H-2"}
    by_actor = ok(worked.get("/v1/audit", as_="admin", params={"recorded_by": "approver-all"}))
    assert [e["type"] for e in by_actor["events"]] == ["IdentificationApproved", "ExitConfirmed"]
    page = ok(worked.get("/v1/audit", params={"division": "620422", "limit": 2}))
    assert len(page["events"]) == 2 and page["next_after"] == page["events"][-1]["position"]
    assert_problem(worked.get("/v1/audit", as_="recorder", params={"division": "620422"}), 403, "wrong_role")
    assert_problem(worked.get("/v1/audit"), 422, "audit_subject")
    scoped = worked.request("GET", "/v1/audit", as_="investigator", division="620422101",
                            params={"division": "620422100"})
    assert_problem(scoped, 403, "out_of_scope")


def test_timeline_before_the_first_recording_is_404(worked: Api) -> None:
    response = worked.get("/v1/households/H-1/timeline", params={"known_at": "2014-05-01"})
    assert_problem(response, 404, "not_on_register")
