"""Facts, decisions and findings through real HTTP on both stores: the false exit (虚假脱贫).

The domain's worked example: a household exited in 2016 on an assessed income of 3300;
in 2018 an audit finds the real 2016 income was 2500, below that year's line. The
correction is accepted, the exit carries a finding from then on, and views known
before never change.
"""

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


def exit_in_2016(api: Api, hid: str, seq: int, returned: bool) -> dict[str, str]:
    """Identified 2014, income 3300 assessed 2016-10-20, exit proposed 2016-11-01 and
    confirmed 2016-11-15 (recorded late, 2016-12-20); back in poverty 2017-08-03 if ``returned``."""
    at(api, "2014-05-02T02:00:00+00:00")
    ok(api.post("/v1/households", json={"household_id": hid, **proposal(
        seq=seq, members=[member(seq), member(seq + 500, "spouse")])}))
    at(api, "2014-05-21T02:00:00+00:00")
    approval = ok(api.event(hid, as_="approver", type="IdentificationApproved", effective_date="2014-05-20"))
    at(api, "2016-10-20T02:00:00+00:00")
    income = ok(api.event(hid, type="IncomeAssessed", effective_date="2016-10-20", year=2016,
                          income_per_capita=3300))
    at(api, "2016-11-01T02:00:00+00:00")
    exit_proposed = ok(api.event(hid, type="ExitProposed", effective_date="2016-11-01", pathway="industry",
                                 guarantees=GUARANTEED))
    at(api, "2016-12-20T02:00:00+00:00")
    ok(api.event(hid, as_="approver", type="ExitConfirmed", effective_date="2016-11-15",
                 household_acknowledged=True))
    if returned:
        at(api, "2017-09-01T02:00:00+00:00")
        ok(api.event(hid, type="ReturnedToPoverty", effective_date="2017-08-03", cause="illness"))
    return {"approval": approval["event_id"], "income": income["event_id"], "exit": exit_proposed["event_id"]}


@pytest.fixture
def audited(api: Api) -> Api:
    """H-1 is the worked example (exited, returned in 2017); H-3 exited and stayed out."""
    api.ids = {"H-1": exit_in_2016(api, "H-1", 1, True), "H-3": exit_in_2016(api, "H-3", 60, False)}  # type: ignore[attr-defined]
    at(api, "2018-03-01T02:00:00+00:00")
    return api


def card(api: Api, hid: str, **params: str) -> dict[str, Any]:
    return ok(api.get(f"/v1/households/{hid}", as_="investigator", params=params))


def findings(api: Api, division: str = "620422", as_: str = "investigator", **params: str) -> dict[str, Any]:
    return ok(api.get(f"/v1/findings/{division}", as_=as_, params=params))


def test_the_true_income_behind_a_false_exit_is_accepted_and_flags_the_exit(audited: Api) -> None:
    ids = audited.ids["H-1"]  # type: ignore[attr-defined]
    timeline_before = ok(audited.get("/v1/households/H-1/timeline"))
    fix = ok(audited.event("H-1", type="EventCorrected", effective_date="2018-03-01",
                           target_event_id=ids["income"], changes={"income_per_capita": 2500},
                           reason="审计发现2016年实际人均纯收入为2500元"))
    assert fix["status"] == "returned", "a fact never moves the status"
    timeline = ok(audited.get("/v1/households/H-1/timeline"))
    assert [(i["status"], i["from"], i["to"]) for i in timeline] == [
        (i["status"], i["from"], i["to"]) for i in timeline_before
    ]

    (found,) = card(audited, "H-1")["findings"]
    assert found["rule"] == "exit_income_below_line"
    assert (found["decision_event_id"], found["decision_type"]) == (ids["exit"], "ExitProposed")
    assert found["shown_by"] == [ids["income"], fix["event_id"]]
    assert found["known_since"] == fix["recorded_at"]
    assert (found["state"], found["resolved_by"]) == ("open", None)

    # Known before the correction: no finding, whatever the date.
    assert card(audited, "H-1", as_of="2016-12-01", known_at="2018-02-28")["findings"] == []
    assert card(audited, "H-1", as_of="2016-12-01")["findings"][0]["finding_id"] == found["finding_id"]
    # As of before the exit was proposed, there is no decision to flag.
    assert card(audited, "H-1", as_of="2016-10-31")["findings"] == []

    # The worked example's answers are unchanged.
    assert card(audited, "H-1", as_of="2016-12-01", known_at="2016-12-10")["status"] == "exit_pending"
    assert card(audited, "H-1", as_of="2016-12-01")["status"] == "exited"
    assert card(audited, "H-1", as_of="2017-08-15", known_at="2017-08-20")["status"] == "exited"
    assert card(audited, "H-1", as_of="2017-08-15")["status"] == "returned"

    # The timeline shows it on the interval the exit was proposed in; the audit trail too.
    pending = next(i for i in timeline if i["status"] == "exit_pending")
    assert [f["finding_id"] for f in pending["findings"]] == [found["finding_id"]]
    old = ok(audited.get("/v1/households/H-1/timeline", params={"known_at": "2018-02-28"}))
    assert all(not i.get("findings") for i in old)
    trail = ok(audited.get("/v1/households/H-1/audit"))
    assert [f["finding_id"] for f in trail["findings"]] == [found["finding_id"]]
    by_id = {e["event_id"]: e for e in trail["events"]}
    for eid in (ids["exit"], ids["income"], fix["event_id"]):
        assert by_id[eid]["findings"] == [found["finding_id"]]

    # The division's list, as of and known at.
    listed = findings(audited)
    assert listed["counts"] == {"open": 1, "resolved": 0}
    assert [(f["household_id"], f["rule"]) for f in listed["findings"]] == [("H-1", "exit_income_below_line")]
    assert findings(audited, known_at="2018-02-28")["counts"] == {"open": 0, "resolved": 0}
    assert findings(audited, "620422101")["counts"] == {"open": 0, "resolved": 0}


def test_a_late_income_and_the_readmission_resolve_as_wrongly_exited(audited: Api) -> None:
    ids = audited.ids["H-3"]  # type: ignore[attr-defined]
    late = ok(audited.event("H-3", type="IncomeAssessed", effective_date="2016-10-25", year=2016,
                            income_per_capita=2400, reason="纪检核查"))
    assert late["status"] == "exited"
    assert findings(audited, state="open")["counts"] == {"open": 1, "resolved": 0}
    at(audited, "2018-04-11T02:00:00+00:00")
    back = ok(audited.event("H-3", type="Revisited", effective_date="2018-04-10", finding="wrongly_exited"))
    assert back["status"] == "returned"
    (found,) = card(audited, "H-3")["findings"]
    assert (found["state"], found["resolved_by"], found["shown_by"]) == (
        "resolved", back["event_id"], [late["event_id"]]
    )
    assert found["decision_event_id"] == ids["exit"]
    # As of the day before the revisit it was open; as known before the revisit, too.
    assert card(audited, "H-3", as_of="2018-04-09")["findings"][0]["state"] == "open"
    assert findings(audited, known_at="2018-04-10")["counts"] == {"open": 1, "resolved": 0}
    assert findings(audited)["counts"] == {"open": 0, "resolved": 1}
    assert findings(audited, state="open")["findings"] == []
    assert [f["resolved_by"] for f in findings(audited, state="resolved")["findings"]] == [back["event_id"]]

    # 错退纳回 in the adjustment report, apart from 返贫, in both stocks, at every level
    # (a county from the flow sums, a township and a village from the timeline).
    for division in ("620422", "620422100", "620422100201"):
        report = ok(audited.get(f"/v1/adjustments/{division}", as_="approver",
                                params={"start": "2018-01-01", "end": "2018-12-31"}))
        assert report["inflows"]["readmitted"]["households"] == 1, division
        assert report["inflows"]["returned"]["households"] == 0, division
        exited = report["exited_stock"]
        assert exited["counted_statuses"] == ["exited"]
        assert (exited["opening"]["households"], exited["closing"]["households"]) == (1, 0), division
        assert exited["outflows"]["readmitted"]["households"] == 1, division
        assert exited["outflows"]["returned"]["households"] == 0, division
        assert report["reconciles"] and exited["reconciles"], division
    # H-1's return of 2017 is 返贫, and leaves the exited stock as such.
    earlier = ok(audited.get("/v1/adjustments/620422", as_="approver",
                             params={"start": "2016-01-01", "end": "2017-12-31"}))
    assert (earlier["inflows"]["returned"]["households"], earlier["inflows"]["readmitted"]["households"]) == (1, 0)
    assert earlier["exited_stock"]["inflows"]["exited"]["households"] == 2
    assert earlier["exited_stock"]["outflows"]["returned"]["households"] == 1
    assert earlier["exited_stock"]["closing"]["households"] == 1


def test_incidence_counts_a_pending_exit_as_poor_like_the_report(audited: Api) -> None:
    for division in ("620422", "620422100201"):
        incidence = ok(audited.get(f"/v1/divisions/{division}/incidence", params={"as_of": "2016-11-05"}))
        report = ok(audited.get(f"/v1/adjustments/{division}", as_="approver",
                                params={"start": "2016-01-01", "end": "2016-11-05"}))
        assert incidence["poor_households"] == report["closing"]["households"] == 2, division
        assert incidence["poor_persons"] == report["closing"]["persons"] == 4, division


def test_a_correction_after_the_readmission_is_accepted_and_born_resolved(audited: Api) -> None:
    ids = audited.ids["H-3"]  # type: ignore[attr-defined]
    back = ok(audited.event("H-3", type="Revisited", effective_date="2018-03-01", finding="wrongly_exited"))
    at(audited, "2018-03-02T02:00:00+00:00")
    ok(audited.event("H-3", type="EventCorrected", effective_date="2018-03-02", target_event_id=ids["income"],
                     changes={"income_per_capita": 2500}, reason="审计更正"))
    (found,) = card(audited, "H-3")["findings"]
    assert (found["state"], found["resolved_by"]) == ("resolved", back["event_id"])


def test_who_may_see_findings(audited: Api) -> None:
    for role in ("recorder", "subscriber"):
        assert_problem(audited.get("/v1/findings/620422", as_=role), 403, "wrong_role")
    for role in ("approver", "investigator", "admin"):
        findings(audited, as_=role)
    assert_problem(audited.get("/v1/findings/620422", as_="approver", division="620423"), 403, "out_of_scope")
    ok(audited.get("/v1/findings/620422100", as_="approver", division="620422100"))
    assert_problem(audited.get("/v1/findings/620422", params={"state": "closed"}), 422, "invalid_parameters")
