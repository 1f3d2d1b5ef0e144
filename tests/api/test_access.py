"""Roles and division scopes through real HTTP (docs/api.md "Who may do what"): 401, 403 and masking."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api, assert_problem
from tests.support import GUARANTEED, proposal

OTHER_TOWNSHIP = "620422101"  # 郭城驿镇: its village is 620422101203; H-1 lives in 620422100201


@pytest.fixture
def household(api: Api) -> Api:
    api.clock.set("2018-03-01T02:00:00+00:00")
    assert api.post("/v1/households", json={"household_id": "H-1", **proposal()}).status_code == 201
    return api


def test_no_token_or_a_bad_one_is_401(household: Api) -> None:
    for method, path in [("GET", "/v1/households/H-1"), ("GET", "/v1/events"), ("POST", "/v1/households"),
                         ("PUT", "/v1/divisions/620422"), ("GET", "/v1/rosters/620422")]:
        response = household.request(method, path, as_=None, json={})
        assert_problem(response, 401, "missing_token")
        assert response.headers["www-authenticate"].startswith("Bearer")
    bad = household.client.get("/v1/events", headers={"Authorization": "Bearer pvr_not-a-token"})
    assert_problem(bad, 401, "invalid_token")
    basic = household.client.get("/v1/events", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_problem(basic, 401, "missing_token")


@pytest.mark.parametrize("role", ["investigator", "subscriber", "admin"])
def test_only_recorders_and_approvers_write(household: Api, role: str) -> None:
    response = household.post("/v1/households", as_=role, json={"household_id": "H-2", **proposal(seq=9)})
    assert_problem(response, 403, "wrong_role")
    response = household.event("H-1", as_=role, type="IncomeAssessed", effective_date="2015-01-01", year=2014,
                               income_per_capita=2500)
    assert_problem(response, 403, "wrong_role")


def test_approvals_need_an_approver(household: Api) -> None:
    for body in ({"type": "IdentificationApproved", "effective_date": "2014-05-20"},
                 {"type": "IdentificationRejected", "effective_date": "2014-05-20", "reason": "不符合条件"}):
        assert_problem(household.event("H-1", as_="recorder", **body), 403, "wrong_role")
    ok = household.event("H-1", as_="approver", type="IdentificationApproved", effective_date="2014-05-20")
    assert ok.status_code == 201
    household.event("H-1", type="IncomeAssessed", effective_date="2016-10-15", year=2016, income_per_capita=3600)
    household.event("H-1", type="ExitProposed", effective_date="2016-11-01", pathway="industry", guarantees=GUARANTEED)
    confirm = {"type": "ExitConfirmed", "effective_date": "2016-11-15", "household_acknowledged": True}
    assert_problem(household.event("H-1", as_="recorder", **confirm), 403, "wrong_role")
    assert household.event("H-1", as_="approver", **confirm).status_code == 201


def test_writes_outside_the_scope_are_403(household: Api) -> None:
    body = {"household_id": "H-2", **proposal(seq=9)}
    response = household.post("/v1/households", division=OTHER_TOWNSHIP, json=body)
    assert_problem(response, 403, "out_of_scope")
    response = household.request("POST", "/v1/households/H-1/events", as_="recorder", division=OTHER_TOWNSHIP,
                                 json={"type": "IncomeAssessed", "effective_date": "2015-01-01", "year": 2014,
                                       "income_per_capita": 2500})
    assert_problem(response, 403, "out_of_scope")
    inside = household.post("/v1/households", division="620422100", json=body)
    assert inside.status_code == 201, inside.text
    transfer_out = household.request(
        "POST", "/v1/households/H-2/events", as_="recorder", division="620422100",
        json={"type": "HouseholdTransferred", "effective_date": "2015-01-01", "division_code": "620422101203"},
    )
    assert_problem(transfer_out, 403, "out_of_scope")


def test_divisions_and_tokens_are_for_admins(household: Api) -> None:
    body = {"name": "新村", "rural_population": 800, "effective_date": "2014-01-01"}
    for role in ("recorder", "approver", "investigator", "subscriber"):
        assert_problem(household.put("/v1/divisions/620422100203", as_=role, json=body), 403, "wrong_role")
        assert_problem(household.post("/v1/tokens", as_=role, json={"role": "admin"}), 403, "wrong_role")
    scoped = household.request("PUT", "/v1/divisions/620422101204", as_="admin", division="620422100", json=body)
    assert_problem(scoped, 403, "out_of_scope")
    escalate = household.request("POST", "/v1/tokens", as_="admin", division="620422100",
                                 json={"role": "admin", "division": ""})
    assert_problem(escalate, 403, "out_of_scope")


def test_subscribers_read_the_feed_only(household: Api) -> None:
    assert household.get("/v1/events", as_="subscriber").status_code == 200
    for path in ("/v1/households/H-1", "/v1/households/H-1/timeline", "/v1/households/H-1/audit",
                 "/v1/rosters/620422", "/v1/adjustments/620422", "/v1/divisions/620422/incidence",
                 "/v1/divisions/620422", "/v1/policies?division=620422", "/v1/audit?division=620422",
                 "/v1/adjustments/620422/difference?start=2014-01-01&end=2016-12-31"):
        assert_problem(household.get(path, as_="subscriber"), 403, "wrong_role")


@pytest.mark.parametrize("role", ["recorder", "approver"])
def test_audit_trails_and_feed_are_not_for_writers(household: Api, role: str) -> None:
    assert_problem(household.get("/v1/households/H-1/audit", as_=role), 403, "wrong_role")
    assert_problem(household.get("/v1/events", as_=role), 403, "wrong_role")


def test_reads_outside_the_scope_are_403(household: Api) -> None:
    for path in ("/v1/households/H-1", "/v1/households/H-1/timeline", "/v1/households/H-1/audit",
                 "/v1/rosters/620422", "/v1/rosters/620422100", "/v1/adjustments/620422",
                 "/v1/divisions/620422/incidence", "/v1/divisions/620422100201"):
        response = household.request("GET", path, as_="investigator", division=OTHER_TOWNSHIP)
        assert_problem(response, 403, "out_of_scope")
    inside = household.request("GET", "/v1/divisions/620422100201", as_="recorder", division="620422100")
    assert inside.status_code == 200


def test_scoped_feed_shows_only_households_of_the_scope(household: Api) -> None:
    household.post("/v1/households", json={"household_id": "H-2", **proposal(seq=9, village="620422101203")})
    everything = household.get("/v1/events", as_="subscriber").json()
    assert {item["household_id"] for item in everything} == {"H-1", "H-2"}
    scoped = household.request("GET", "/v1/events", as_="subscriber", division=OTHER_TOWNSHIP)
    assert scoped.status_code == 200
    assert [item["household_id"] for item in scoped.json()] == ["H-2"]
    assert int(scoped.headers["povreg-next-after"]) == everything[-1]["position"]


def test_pii_is_masked_except_for_investigators_and_admins(household: Api) -> None:
    head = proposal()["members"][0]
    for role in ("subscriber", "investigator", "admin"):
        item = household.get("/v1/events", as_=role).json()[0]
        member = item["data"]["members"][0]
        if role in ("investigator", "admin"):
            assert member["id_number"] == head["id_number"] and member["name"] == head["name"]
        else:
            assert item["recorded_by"]["name"] == "recorder-all"  # staff, not the household's PII
            assert member["id_number"] != head["id_number"] and "*" in member["id_number"]
            assert member["id_number"][:10] == head["id_number"][:10]
            assert member["name"] == head["name"][0] + "*" * (len(head["name"]) - 1)
