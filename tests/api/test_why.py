"""``GET /v1/households/{id}/why`` and ``povreg why`` on both stores: the late exit explained,
as known before and after it was recorded, with a correction and by role."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from cli import app as cli_app
from tests.api import test_queries
from tests.api.conftest import Api, assert_problem
from tests.api.test_queries import ok

worked = test_queries.worked  # the worked example's fixture


def why(api: Api, hid: str = "H-1", as_: str = "investigator", **params: str) -> dict[str, Any]:
    return ok(api.get(f"/v1/households/{hid}/why", as_=as_, params=params))


def test_the_late_exit_before_and_after_it_was_recorded(worked: Api) -> None:
    before = why(worked, as_of="2016-12-01", known_at="2016-12-10")
    assert before["status"] == "exit_pending" and before["decision"]["type"] == "ExitProposed"
    assert {c["rule"] for c in before["checks"]} == {
        "exit_income_outdated", "exit_income_below_line", "exit_guarantees"}
    after = why(worked, as_of="2016-12-01")
    assert after["status"] == "exited" and after["since"] == "2016-11-15"
    decision = after["decision"]
    assert decision["type"] == "ExitConfirmed" and decision["recorded_by"]["role"] == "approver"
    assert decision["recorded_at"].startswith("2016-12-20T08:01:02.123456")
    assert [link["type"] for link in after["chain"]] == ["ExitConfirmed", "ExitProposed"]
    line = next(c for c in after["checks"] if c["rule"] == "exit_income_below_line")
    assert line["passed"] and line["value"] == 2952 and line["income_per_capita"] == 3600
    assert line["source"]["document"] and line["label"] == "人均纯收入不低于扶贫标准"
    assert next(f for f in after["facts"] if f["used_for"] == "income_per_capita")["event_id"] == \
        worked.income["event_id"]  # type: ignore[attr-defined]
    assert after["findings"] == [] and after["changes"] == []
    # the same answers the card gives
    card = ok(worked.get("/v1/households/H-1", params={"as_of": "2016-12-01", "known_at": "2016-12-10"}))
    assert card["status"] == before["status"]


def test_a_correction_shapes_the_answer_from_its_recording_on(worked: Api) -> None:
    worked.clock.set("2018-03-05T02:00:00+00:00")
    fix = ok(worked.event("H-1", type="EventCorrected", effective_date="2018-03-05",
                          target_event_id=worked.income["event_id"],  # type: ignore[attr-defined]
                          changes={"income_per_capita": 3500}, reason="录入错误"))
    now = why(worked, as_of="2016-12-01")
    assert [c["event_id"] for c in now["changes"]] == [fix["event_id"]]
    assert next(c for c in now["checks"] if c["rule"] == "exit_income_below_line")["income_per_capita"] == 3500
    then = why(worked, as_of="2016-12-01", known_at="2018-03-01")
    assert then["changes"] == []


def test_why_refusals_and_roles(worked: Api) -> None:
    assert_problem(worked.get("/v1/households/H-1/why", params={"as_of": "2014-05-01"}), 404, "not_on_register")
    assert_problem(worked.get("/v1/households/H-404/why"), 404, "unknown_household")
    assert_problem(worked.get("/v1/households/H-1/why", as_=None), 401, "missing_token")
    assert_problem(worked.get("/v1/households/H-1/why", as_="subscriber"), 403, "wrong_role")
    assert_problem(worked.get("/v1/households/H-1/why", params={"known_at": "yesterday"}), 422, "known_at_format")
    assert_problem(worked.get("/v1/households/H-1/why", as_="recorder", division="620422101"), 403, "out_of_scope")
    assert why(worked, as_="recorder", division="620422100")["status"] == "returned"


def test_povreg_why(worked: Api, monkeypatch: Any) -> None:
    monkeypatch.setenv("POVREG_DATABASE_URL", worked.registry.settings.database_url)
    runner = CliRunner()
    result = runner.invoke(cli_app, ["why", "H-1", "--as-of", "2016-12-01", "--known-at", "2016-12-10"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "exit_pending"
    missing = runner.invoke(cli_app, ["why", "H-1", "--as-of", "2014-01-01"])
    assert missing.exit_code == 1
    unknown = runner.invoke(cli_app, ["why", "H-404"])
    assert unknown.exit_code == 1
