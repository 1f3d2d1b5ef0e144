"""What the console needs from the API: its files, who the token is, finding households
(names and ID numbers only for roles that see them, in scope), any table as a workbook."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from tests.api import test_queries
from tests.api.conftest import Api, answer_schema, assert_problem
from tests.api.test_queries import ok
from tests.support import member

worked = test_queries.worked  # the worked example's fixture


def test_the_console_is_served_with_a_strict_policy(api: Api) -> None:
    page = api.client.get("/console/")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace('xmlns="http', "")  # nothing loaded from elsewhere
    script = api.client.get("/console/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert api.client.get("/console/missing.js").status_code == 404


def test_me(api: Api) -> None:
    assert ok(api.get("/v1/me", as_="recorder", division="620422100")) == {
        "name": "recorder-620422100", "role": "recorder", "division": "620422100", "sees_personal_data": False}
    assert_problem(api.get("/v1/me", as_=None), 401, "missing_token")
    assert answer_schema(api, "get", "/v1/me") == "Me"


def test_find_households_by_number_name_and_id_number(worked: Api) -> None:
    head = member(1)
    found = ok(worked.get("/v1/households", params={"q": "h-1"}))["households"]
    assert [f["household_id"] for f in found] == ["H-1"] and found[0]["status"] == "returned"
    by_name = ok(worked.get("/v1/households", params={"q": head["name"]}))["households"]
    assert [f["household_id"] for f in by_name] == ["H-1"] and by_name[0]["matched"] == "person"
    assert by_name[0]["head_id_number"] == head["id_number"]
    by_id = ok(worked.get("/v1/households", params={"q": head["id_number"]}))["households"]
    assert [f["household_id"] for f in by_id] == ["H-1"]
    # a recorder finds by number only, and sees the head masked
    assert ok(worked.get("/v1/households", as_="recorder", params={"q": head["id_number"]}))["households"] == []
    masked = ok(worked.get("/v1/households", as_="recorder", params={"q": "H-1"}))["households"]
    assert "*" in masked[0]["head_id_number"]
    # in scope only
    assert ok(worked.get("/v1/households", as_="investigator", division="620422101",
                         params={"q": "H-"}))["households"][0]["household_id"] == "H-2"
    assert_problem(worked.get("/v1/households", as_="subscriber", params={"q": "H"}), 403, "wrong_role")
    assert_problem(worked.get("/v1/households", params={"q": ""}), 422, "invalid_parameters")
    assert answer_schema(worked, "get", "/v1/households") == "HouseholdSearch"


def test_any_table_as_a_workbook(api: Api) -> None:
    body = {"title": "下级区划 620422", "name": "children-620422", "query": {"division_code": "620422",
            "as_of": "2016-12-31", "known_at": None},
            "sheets": [{"title": "下级区划", "headers": ["区划", "户数"], "rows": [["会师镇", 18], ["郭城驿镇", 17]]}]}
    response = api.post("/v1/sheets", as_="approver", json=body)
    assert response.status_code == 200 and 'filename="children-620422.xlsx"' in response.headers["content-disposition"]
    rows = list(load_workbook(io.BytesIO(response.content))["下级区划"].iter_rows(values_only=True))
    assert rows[0][0] == "下级区划 620422" and ("统计日期(as_of)", "2016-12-31") in [r[:2] for r in rows]
    assert rows[-2:] == [("会师镇", 18), ("郭城驿镇", 17)]
    assert_problem(api.post("/v1/sheets", as_="subscriber", json=body), 403, "wrong_role")
    assert_problem(api.post("/v1/sheets", json={**body, "name": "../etc/passwd"}), 422, "invalid_fields")
