"""Commands through real HTTP: every event type, idempotency, versions, and what refusals leave."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.api.conftest import Api, assert_problem
from tests.support import GUARANTEED, member, proposal

VILLAGE = "620422100201"


def events_recorded(api: Api) -> int:
    return api.registry.recorder.max_notification_id() or 0


def propose(api: Api, hid: str | None = "H-1", seq: int = 1, **extra: Any) -> dict[str, Any]:
    body = proposal(seq=seq, **extra)
    if hid:
        body["household_id"] = hid
    response = api.post("/v1/households", json=body)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def late(api: Api) -> Api:
    """Recording happens on 2018-03-01: every effective date up to then is in the past."""
    api.clock.set("2018-03-01T02:00:00+00:00")
    return api


def test_proposal_answers_a_receipt(late: Api) -> None:
    response = late.post("/v1/households", json={"household_id": "H-1", **proposal()})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/v1/households/H-1"
    receipt = response.json()
    assert set(receipt) == {"household_id", "event_id", "type", "version", "effective_date", "recorded_at", "status"}
    assert receipt["household_id"] == "H-1" and receipt["type"] == "IdentificationProposed"
    assert receipt["version"] == 1 and receipt["effective_date"] == "2014-05-02" and receipt["status"] == "proposed"
    assert re.fullmatch(r"2018-03-01T02:00:00\.\d{6}\+00:00", receipt["recorded_at"]), receipt


def test_server_assigns_a_household_id(late: Api) -> None:
    receipt = propose(late, hid=None)
    assert receipt["household_id"].startswith(f"H-{VILLAGE}-")
    card = late.get(f"/v1/households/{receipt['household_id']}")
    assert card.status_code == 200 and card.json()["status"] == "proposed", card.text


def test_every_event_type_through_http(late: Api) -> None:
    api = late
    seen: set[str] = set()

    def ok(hid: str, as_: str = "recorder", **body: Any) -> dict[str, Any]:
        response = api.event(hid, as_=as_, **body)
        assert response.status_code == 201, response.text
        receipt = response.json()
        assert receipt["type"] == body["type"]
        seen.add(body["type"])
        return receipt

    propose(api, "H-1")
    seen.add("IdentificationProposed")
    ok("H-1", "approver", type="IdentificationApproved", effective_date="2014-05-20", approving_office="会宁县扶贫办")
    measure = ok("H-1", type="AssistanceMeasureAssigned", effective_date="2014-06-01", category="industry",
                 amount=5000, funding_source="财政专项", helper="李四", description="养羊")
    ok("H-1", type="AssistanceMeasureCompleted", effective_date="2015-06-01", measure_id=measure["event_id"],
       outcome="羊30只")
    helper = ok("H-1", type="HelperAssigned", effective_date="2014-06-02", helper_name="王五", unit="县财政局",
                phone="13800138000")
    income = ok("H-1", type="IncomeAssessed", effective_date="2016-10-15", year=2016, income_per_capita=3600,
                components={"wages": 2000, "farming": 1600})
    ok("H-1", type="MembersChanged", effective_date="2016-03-01", joined=[member(3, "child")])
    ok("H-1", type="ExitProposed", effective_date="2016-11-01", pathway="industry", guarantees=GUARANTEED)
    ok("H-1", type="ExitWithdrawn", effective_date="2016-11-05", reason="村民异议")
    ok("H-1", type="ExitProposed", effective_date="2016-11-10", pathway="industry", guarantees=GUARANTEED)
    ok("H-1", "approver", type="ExitConfirmed", effective_date="2016-11-20", household_acknowledged=True)
    ok("H-1", type="Revisited", effective_date="2017-03-01", finding="at_risk", notes="收入不稳")
    ok("H-1", type="ReturnedToPoverty", effective_date="2017-08-03", cause="illness")
    ok("H-1", type="HouseholdTransferred", effective_date="2017-10-01", division_code="620422100202")
    ok("H-1", type="EventCorrected", effective_date="2018-02-01", target_event_id=income["event_id"],
       changes={"income_per_capita": 3700}, reason="录入错误")
    ok("H-1", type="EventRetracted", effective_date="2018-02-01", target_event_id=helper["event_id"],
       reason="重复录入")
    closed = ok("H-1", type="HouseholdClosed", effective_date="2018-02-15", reason="全户迁出")
    assert closed["version"] == 17 and closed["status"] == "closed"

    propose(api, "H-2", seq=20)
    ok("H-2", "approver", type="IdentificationRejected", effective_date="2014-05-20", reason="有财政供养人员")
    propose(api, "H-3", seq=40)
    ok("H-3", "approver", type="IdentificationApproved", effective_date="2014-05-20")
    head, spouse = (m["id_number"] for m in proposal(seq=40)["members"])
    ok("H-3", type="MemberUpdated", effective_date="2014-06-01", id_number=spouse, health="serious_illness",
       labour="none")
    ok("H-3", type="GuaranteesAssessed", effective_date="2014-06-02", guarantees=GUARANTEED, evidence=["核查-1"])
    ok("H-3", type="AttributeChanged", effective_date="2014-06-03", attribute="dibao", reason="纳入低保")
    ok("H-3", type="MembersChanged", effective_date="2014-07-01", left=[head], new_head=spouse, reason="户主去世")
    card = api.get("/v1/households/H-3?as_of=2014-07-02").json()
    assert card["attribute"] == "dibao" and card["guarantees"] == GUARANTEED
    assert [(m["relation"], m["labour"], m["health"]) for m in card["members"]] == [
        ("head", "none", "serious_illness")]
    removed = ok("H-3", type="RemovedAsIneligible", effective_date="2015-01-10", reason="家有轿车")
    assert removed["status"] == "removed"
    from domain.events import EVENT_TYPES

    assert seen == set(EVENT_TYPES)


def test_expected_version(late: Api) -> None:
    propose(late)
    ok = late.event("H-1", as_="approver", type="IdentificationApproved", effective_date="2014-05-20",
                    expected_version=1)
    assert ok.status_code == 201 and ok.json()["version"] == 2
    before = events_recorded(late)
    stale = late.event("H-1", type="IncomeAssessed", effective_date="2015-01-01", year=2014,
                       income_per_capita=2500, expected_version=1)
    problem = assert_problem(stale, 409, "expected_version_mismatch")
    assert problem["expected_version"] == 1 and problem["current_version"] == 2
    assert events_recorded(late) == before
    fresh = late.post("/v1/households", json={"household_id": "H-9", "expected_version": 0, **proposal(seq=9)})
    assert fresh.status_code == 201


def test_idempotency_key(late: Api) -> None:
    body = {"household_id": "H-1", **proposal()}
    first = late.post("/v1/households", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    after_first = events_recorded(late)
    again = late.post("/v1/households", json=body, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert events_recorded(late) == after_first

    other = late.post("/v1/households", json={**body, "reason": "另一个请求"}, headers={"Idempotency-Key": "k-1"})
    assert_problem(other, 409, "idempotency_key_reused")
    assert events_recorded(late) == after_first

    event = {"type": "IdentificationApproved", "effective_date": "2014-05-20"}
    a = late.post("/v1/households/H-1/events", as_="approver", json=event, headers={"Idempotency-Key": "k-2"})
    b = late.post("/v1/households/H-1/events", as_="approver", json=event, headers={"Idempotency-Key": "k-2"})
    assert a.status_code == b.status_code == 201 and a.json() == b.json() and a.json()["version"] == 2


def test_illegal_transition_names_state_and_rule(late: Api) -> None:
    propose(late)
    before = events_recorded(late)
    response = late.event("H-1", as_="approver", type="ExitConfirmed", effective_date="2014-06-01",
                          household_acknowledged=True)
    problem = assert_problem(response, 409, "illegal_transition")
    assert problem["state"] == "proposed" and problem["event_type"] == "ExitConfirmed"
    assert "拟识别" in problem["detail"]  # Chinese by default
    assert events_recorded(late) == before


@pytest.mark.parametrize(("accept", "english"), [
    (None, False), ("zh-CN", False), ("en", True), ("en-US,en;q=0.9", True),
    ("zh-CN,zh;q=0.9,en;q=0.8", False), ("en;q=0.5,zh;q=0.9", False), ("fr, en;q=0.4", True),
])
def test_problem_detail_in_chinese_unless_english_is_preferred(late: Api, accept: str | None, english: bool) -> None:
    propose(late)
    headers = {"Accept-Language": accept} if accept else {}
    refused = late.post("/v1/households/H-1/events", as_="approver", headers=headers,
                        json={"type": "ExitConfirmed", "effective_date": "2014-06-01", "household_acknowledged": True})
    detail = assert_problem(refused, 409, "illegal_transition")["detail"]
    assert ("while the household is proposed" in detail) is english
    assert ("拟识别" in detail) is not english
    invalid = late.post("/v1/households/H-1/events", headers=headers,
                        json={"type": "IncomeAssessed", "effective_date": "2015-13-01", "year": 2015,
                              "income_per_capita": 1})
    detail = assert_problem(invalid, 422, "invalid_fields")["detail"]
    assert ("日期格式" in detail) is not english


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused_and_record_nothing(late: Api, token: str) -> None:
    """Python's JSON reader takes NaN and Infinity; the feed's subscribers' readers would not."""
    propose(late)
    before = events_recorded(late)
    late.clock.set("2018-03-01T02:00:00+00:00")
    body = ('{"type":"IncomeAssessed","effective_date":"2015-01-01","year":2014,"income_per_capita":2500,'
            f'"components":{{"wages":{token}}}}}')
    response = late.post("/v1/households/H-1/events", content=body, headers={"Content-Type": "application/json"})
    problem = assert_problem(response, 422, "non_finite_number")
    assert problem["errors"][0]["loc"] == ["components", "wages"]
    correction = ('{"type":"EventCorrected","effective_date":"2015-01-01","target_event_id":"x",'
                  f'"changes":{{"income_per_capita":{token}}},"reason":"typo"}}')
    response = late.post("/v1/households/H-1/events", content=correction,
                         headers={"Content-Type": "application/json"})
    assert_problem(response, 422, "non_finite_number")
    assert events_recorded(late) == before


def test_policy_rule_violation_is_409(late: Api) -> None:
    propose(late)
    response = late.event("H-1", as_="approver", type="IdentificationApproved", effective_date="2014-05-03")
    assert_problem(response, 409, "identification_notice_period")


def test_unknown_household_is_404(late: Api) -> None:
    before = events_recorded(late)
    response = late.event("H-404", type="IncomeAssessed", effective_date="2015-01-01", year=2014,
                          income_per_capita=2500)
    assert_problem(response, 404, "unknown_household")
    for odd in ("policies", "division:620422", "token:x"):
        response = late.event(odd, type="IncomeAssessed", effective_date="2015-01-01", year=2014,
                              income_per_capita=2500)
        assert_problem(response, 404, "unknown_household")
    assert events_recorded(late) == before


def _bad_id(body: dict[str, Any]) -> dict[str, Any]:
    bad = dict(body)
    first = dict(bad["members"][0])
    last = "0" if first["id_number"][-1] != "0" else "1"
    first["id_number"] = first["id_number"][:-1] + last
    bad["members"] = [first, *bad["members"][1:]]
    return bad


@pytest.mark.parametrize(
    ("make", "rule", "loc"),
    [
        (lambda: _bad_id(proposal()), "invalid_fields", ["body", "members", "0", "id_number"]),
        (lambda: proposal(village="620422100299"), "unknown_division", ["division_code"]),
        (lambda: proposal(effective_date="2030-01-01"), "future_effective_date", ["effective_date"]),
        (lambda: {k: v for k, v in proposal().items() if k != "members"}, "invalid_fields", ["body", "members"]),
        (lambda: {**proposal(), "attribute": "rich"}, "invalid_fields", ["body", "attribute"]),
        (lambda: {**proposal(), "unexpected": 1}, "invalid_fields", ["body", "unexpected"]),
        (lambda: {**proposal(), "household_id": "bad id!"}, "invalid_fields", ["body", "household_id"]),
    ],
    ids=["bad-id-checksum", "unknown-division", "future-date", "missing-members", "bad-vocab", "extra-field",
         "bad-household-id"],
)
def test_invalid_proposals_are_422(late: Api, make: Any, rule: str, loc: list[str]) -> None:
    before = events_recorded(late)
    problem = assert_problem(late.post("/v1/households", json=make()), 422, rule)
    assert loc in [e["loc"] for e in problem["errors"]], problem
    assert events_recorded(late) == before


@pytest.mark.parametrize(
    ("body", "rule", "loc"),
    [
        ({"type": "Promoted", "effective_date": "2015-01-01"}, "unknown_event_type", ["body"]),
        ({"effective_date": "2015-01-01"}, "unknown_event_type", ["body"]),
        ({"type": "ExitProposed", "effective_date": "2016-11-01"}, "invalid_fields", ["body", "pathway"]),
        ({"type": "IncomeAssessed", "effective_date": "2015-13-01", "year": 2015, "income_per_capita": 1},
         "invalid_fields", ["body", "effective_date"]),
        ({"type": "MembersChanged", "effective_date": "2015-01-01"}, "invalid_fields", ["body"]),
        ({"type": "HelperAssigned", "effective_date": "2030-01-01", "helper_name": "王五"},
         "future_effective_date", ["effective_date"]),
        ({"type": "IncomeAssessed", "effective_date": "2015-01-01", "year": 2015, "income_per_capita": -5},
         "invalid_fields", ["body", "income_per_capita"]),
    ],
    ids=["unknown-type", "missing-type", "missing-field", "bad-date", "empty-change", "future-date", "negative"],
)
def test_invalid_events_are_422(late: Api, body: dict[str, Any], rule: str, loc: list[str]) -> None:
    propose(late)
    before = events_recorded(late)
    problem = assert_problem(late.post("/v1/households/H-1/events", json=body), 422, rule)
    assert loc in [e["loc"] for e in problem["errors"]], problem
    assert events_recorded(late) == before


def test_malformed_json_is_422(late: Api) -> None:
    response = late.post("/v1/households", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_problem(response, 422, "malformed_json")
    response = late.post("/v1/households", json=[1, 2])
    assert_problem(response, 422, "invalid_fields")
