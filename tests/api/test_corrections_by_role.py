"""Correcting or retracting an event is recording it anew: per role, for every event type.

A role may correct or retract an event only if it may record that event's type (an approval,
a rejection, an exit confirmation: approvers only; every other decision and every fact:
recorders and approvers), within the scope of the divisions the event touched. A refusal is a
403 and records nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.support import GUARANTEED, member, proposal

APPROVALS = {"IdentificationApproved", "IdentificationRejected", "ExitConfirmed"}
ROLES = ("subscriber", "investigator", "admin", "recorder", "approver")


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def every_type(api: Api) -> dict[str, tuple[str, str]]:
    """One event of every household type: type → (household, event id). H-A goes through a whole
    life and moves from 620422100201 to 620422100202; H-B is rejected; H-C withdraws an exit and
    is removed; H-D is closed."""
    ids: dict[str, tuple[str, str]] = {}

    def rec(hid: str, at: str, as_: str = "approver", **body: Any) -> str:
        api.clock.set(f"{at}T02:00:00+00:00")
        event_id = ok(api.event(hid, as_=as_, **body))["event_id"]
        ids.setdefault(body["type"], (hid, event_id))
        return event_id

    def propose(hid: str, seq: int, at: str = "2014-05-02") -> None:
        api.clock.set(f"{at}T02:00:00+00:00")
        event_id = ok(api.post("/v1/households", json={"household_id": hid, **proposal(
            seq=seq, effective_date=at, members=[member(seq), member(seq + 500, "spouse")])}))["event_id"]
        ids.setdefault("IdentificationProposed", (hid, event_id))

    propose("H-A", 1)
    rec("H-A", "2014-05-21", type="IdentificationApproved", effective_date="2014-05-20")
    measure = rec("H-A", "2014-06-01", type="AssistanceMeasureAssigned", effective_date="2014-06-01",
                  category="industry", amount=3000)
    rec("H-A", "2014-06-02", type="HelperAssigned", effective_date="2014-06-02", helper_name="王五")
    rec("H-A", "2014-09-01", type="AssistanceMeasureCompleted", effective_date="2014-09-01", measure_id=measure)
    rec("H-A", "2015-06-01", type="MembersChanged", effective_date="2015-06-01", joined=[member(30, "child")])
    rec("H-A", "2015-12-01", type="IncomeAssessed", effective_date="2015-12-01", year=2015,
        income_per_capita=5000)
    rec("H-A", "2016-11-01", type="ExitProposed", effective_date="2016-11-01", pathway="industry",
        guarantees=GUARANTEED)
    rec("H-A", "2016-11-15", type="ExitConfirmed", effective_date="2016-11-15", household_acknowledged=True)
    rec("H-A", "2017-03-01", type="Revisited", effective_date="2017-03-01", finding="stable")
    rec("H-A", "2017-08-03", type="ReturnedToPoverty", effective_date="2017-08-03", cause="illness")
    rec("H-A", "2017-08-10", type="MemberUpdated", effective_date="2017-08-10", id_number=member(1)["id_number"],
        health="serious_illness")
    rec("H-A", "2017-08-11", type="GuaranteesAssessed", effective_date="2017-08-11", guarantees=GUARANTEED)
    rec("H-A", "2017-08-12", type="AttributeChanged", effective_date="2017-08-12", attribute="dibao")
    rec("H-A", "2017-09-01", type="HouseholdTransferred", effective_date="2017-09-01",
        division_code="620422100202")
    propose("H-B", 40)
    rec("H-B", "2014-05-20", type="IdentificationRejected", effective_date="2014-05-20", reason="异议成立")
    propose("H-C", 50)
    rec("H-C", "2014-05-21", type="IdentificationApproved", effective_date="2014-05-20")
    rec("H-C", "2015-12-01", type="IncomeAssessed", effective_date="2015-12-01", year=2015, income_per_capita=5000)
    rec("H-C", "2016-11-01", type="ExitProposed", effective_date="2016-11-01", pathway="industry",
        guarantees=GUARANTEED)
    rec("H-C", "2016-11-10", type="ExitWithdrawn", effective_date="2016-11-10", reason="公示期内有异议")
    rec("H-C", "2017-01-10", type="RemovedAsIneligible", effective_date="2017-01-10", reason="错评")
    propose("H-D", 60)
    rec("H-D", "2014-05-21", type="IdentificationApproved", effective_date="2014-05-20")
    rec("H-D", "2015-01-10", type="HouseholdClosed", effective_date="2015-01-10", reason="户籍迁出")
    api.clock.set("2018-03-01T02:00:00+00:00")
    return ids


def version(api: Api, hid: str) -> int:
    return int(api.get(f"/v1/households/{hid}/audit")
               .json()["events"][-1]["version"])


def test_every_role_against_every_event_type(api: Api, every_type: dict[str, tuple[str, str]]) -> None:
    from domain.events import EVENT_TYPES, META_EVENTS

    assert set(every_type) == set(EVENT_TYPES) - META_EVENTS, "every household event type is covered"
    for kind in ("EventCorrected", "EventRetracted"):
        for event_type, (hid, event_id) in sorted(every_type.items()):
            for role in ROLES:
                body: dict[str, Any] = {"type": kind, "effective_date": "2018-03-01", "target_event_id": event_id,
                                        "reason": "核查"}
                if kind == "EventCorrected":
                    body["changes"] = {"reason": f"{role} 更正说明"}
                before = version(api, hid)
                answer = api.event(hid, as_=role, **body)
                where = (kind, event_type, role, answer.text)
                if role in ("subscriber", "investigator", "admin"):
                    assert (answer.status_code, answer.json()["rule"]) == (403, "wrong_role"), where
                elif role == "recorder" and event_type in APPROVALS:
                    assert (answer.status_code, answer.json()["rule"]) == (403, "correction_needs_role"), where
                    assert "无权更正或撤销" in answer.json()["detail"], where
                elif kind == "EventCorrected":
                    assert answer.status_code == 201, where  # the reason of any event may be corrected
                else:
                    # Allowed: recorded, or refused by the state machine (409), never for the role.
                    assert answer.status_code in (201, 409), where
                if answer.status_code != 201:
                    assert version(api, hid) == before, f"{where}: a refusal records nothing"


def test_corrections_stay_within_the_divisions_the_event_touched(
    api: Api, every_type: dict[str, tuple[str, str]]
) -> None:
    hid, transfer = every_type["HouseholdTransferred"]
    _, approval = every_type["IdentificationApproved"]
    def correct(division: str, target: str) -> Any:
        return api.post(f"/v1/households/{hid}/events", as_="approver", division=division, json={
            "type": "EventCorrected", "effective_date": "2018-03-01", "target_event_id": target,
            "changes": {"reason": "更正"}, "reason": "核查"})

    # H-A lives in 620422100202 now, but was approved in 620422100201: a token of the new
    # village may record for it, not rewrite what the old village's offices decided.
    new_village = correct("620422100202", approval)
    assert (new_village.status_code, new_village.json()["rule"]) == (403, "out_of_scope")
    assert correct("620422100", approval).status_code == 201
    # The transfer itself touched both villages.
    moved = correct("620422100202", transfer)
    assert (moved.status_code, moved.json()["rule"]) == (403, "out_of_scope")
    elsewhere = correct("620423", approval)
    assert (elsewhere.status_code, elsewhere.json()["rule"]) == (403, "out_of_scope")
