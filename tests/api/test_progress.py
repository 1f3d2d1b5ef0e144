"""``GET /v1/divisions/{code}/progress``, ``…/revisits-due`` and ``…/without-helper``."""

from __future__ import annotations

from domain.policy_data import LOCAL_POLICIES
from tests.api.conftest import Api, assert_problem
from tests.api.test_commands import late, propose  # noqa: F401 (the fixture)


def test_work_lists_and_progress_over_http(late: Api) -> None:  # noqa: F811
    propose(late)
    approved = late.event("H-1", as_="approver", type="IdentificationApproved", effective_date="2014-05-20")
    assert approved.status_code == 201
    no_helper = late.get("/v1/divisions/620422/without-helper?as_of=2015-01-01")
    assert no_helper.status_code == 200, no_helper.text
    assert [(r["household_id"], r["status_label"]) for r in no_helper.json()["rows"]] == [("H-1", "在档未脱贫")]
    due = late.get("/v1/divisions/620422100201/revisits-due?as_of=2017-01-01")
    assert due.status_code == 200 and due.json()["total"] == 0
    progress = late.get("/v1/divisions/620422/progress?as_of=2017-01-01")
    assert progress.status_code == 200 and progress.json()["years"] == []
    assert_problem(late.get("/v1/divisions/3212/progress", as_="recorder", division="620422"), 403, "out_of_scope")


def test_village_exit_is_judged_against_the_rosters(late: Api) -> None:  # noqa: F811
    from datetime import date

    from domain.policy import PolicySettings, PolicyVersion

    propose(late)
    approved = late.event("H-1", as_="approver", type="IdentificationApproved", effective_date="2014-05-20")
    assert approved.status_code == 201
    late.registry.record_policy(PolicyVersion(jurisdiction="620422", effective_date=date(2014, 1, 1),
                                              settings=PolicySettings(village_exit_max_incidence=0.1)))
    body = {"type": "VillageExited", "effective_date": "2016-12-31", "reason": "贫困发生率达标",
            "evidence": ["县政府批复-2016-12"]}
    # 2 poor persons of 1,200 in 南关村: 0.17 %, not below 0.1 %
    refused = assert_problem(late.post("/v1/divisions/620422100201/decisions", as_="approver", json=body),
                             409, "division_incidence_too_high")
    assert refused["poor_persons"] == 2 and refused["population"] == 1200
    assert "贫困村出列须贫困发生率低于" in refused["detail"]
    assert late.get("/v1/divisions/620422100201/decisions").json() == []
    # 北关村 has no poor household
    assert_problem(late.post("/v1/divisions/620422100202/decisions", as_="recorder", json=body), 403, "wrong_role")
    ok = late.post("/v1/divisions/620422100202/decisions", as_="approver", json=body)
    assert ok.status_code == 201, ok.text
    assert ok.json()["incidence"] == 0 and ok.json()["label"] == "贫困村出列"
    assert_problem(late.post("/v1/divisions/620422100202/decisions", as_="approver", json=body),
                   409, "division_already_decided")
    assert_problem(late.post("/v1/divisions/620422100202/decisions", as_="approver",
                             json={**body, "type": "CountyDelisted"}), 422, "division_level")
    assert [d["type"] for d in late.get("/v1/divisions/620422100202/decisions").json()] == ["VillageExited"]

    late.registry.record_policy(LOCAL_POLICIES["huining-2015"])
    years = {y["year"]: y for y in late.get("/v1/divisions/620422/progress?as_of=2016-12-31").json()["years"]}
    villages = next(i for i in years[2016]["items"] if i["target"] == "villages_exited")
    assert (villages["wanted"], villages["actual"], villages["met"]) == (38, 1, False)
