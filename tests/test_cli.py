"""The real CLI (typer's runner) on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli import app
from tests.support import GUARANTEED, proposal


@pytest.fixture
def cli(database_url: str):
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(app, list(args), input=input, env={"POVREG_DATABASE_URL": database_url})

    for code, name in [("620422", "会宁县"), ("620422100", "会师镇"), ("620422100201", "南关村")]:
        assert run("division", "put", code, "--name", name, "--rural-population", "1000").exit_code == 0
    return run


def test_import_reports_refused_lines_and_keeps_the_rest(cli, tmp_path) -> None:
    lines = [
        json.dumps({"household_id": "H-1", **proposal()}),
        json.dumps({"household_id": "H-1", "type": "IdentificationApproved", "effective_date": "2014-05-20"}),
        "{not json",
        json.dumps({"household_id": "H-2", **proposal(seq=7, village="620422100299")}),
        json.dumps({"household_id": "H-1", "type": "ExitProposed", "effective_date": "2014-06-01",
                    "pathway": "industry", "guarantees": GUARANTEED}),
        json.dumps({"household_id": "H-1", "type": "IncomeAssessed", "effective_date": "2015-12-01",
                    "year": 2015, "income_per_capita": 4100}),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli("import", str(path))
    assert result.exit_code == 1, result.output
    assert "imported 3 event(s); refused 3 line(s)" in result.output
    for rule in ("invalid_json", "unknown_division", "exit_income_below_line"):
        assert rule in result.output

    shown = cli("household", "show", "H-1", "--as-of", "2016-01-01")
    assert shown.exit_code == 0, shown.output
    card = json.loads(shown.output)
    assert card["status"] == "poor" and card["latest_income"]["income_per_capita"] == 4100

    before = cli("household", "show", "H-1", "--as-of", "2014-05-10")
    assert json.loads(before.output)["status"] == "proposed"
    missing = cli("household", "show", "H-1", "--as-of", "2014-01-01")
    assert missing.exit_code == 1 and "not_on_register" in missing.output

    timeline = cli("household", "timeline", "H-1")
    assert timeline.exit_code == 0 and "proposed" in timeline.output and "poor" in timeline.output


def test_record_and_history(cli) -> None:
    result = cli("household", "record", json.dumps({"household_id": "H-5", **proposal(seq=5)}))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["version"] == 1
    bad = cli("household", "record", "[1, 2]")
    assert bad.exit_code == 2
    history = cli("household", "history", "H-5")
    assert json.loads(history.output.splitlines()[0])["type"] == "IdentificationProposed"


def test_token_create_prints_token_last(cli) -> None:
    result = cli("token", "create", "--role", "investigator", "--division", "620422")
    assert result.exit_code == 0
    assert result.output.strip().splitlines()[-1].startswith("pvr_")
    bad = cli("token", "create", "--role", "emperor")
    assert bad.exit_code == 1 and "unknown_role" in bad.output


def test_division_needs_its_parents(cli) -> None:
    result = cli("division", "put", "620499100201", "--name", "孤村", "--rural-population", "10")
    assert result.exit_code == 1 and "unknown_parent_division" in result.output


def test_policy_record_and_show(cli) -> None:
    assert cli("policy", "record", "--example", "taizhou-2016").exit_code == 0
    shown = cli("policy", "show", "321201001001", "--on", "2016-06-01")
    assert shown.exit_code == 0
    rules = json.loads(shown.output)
    assert rules["poverty_line"] == 7000
    assert rules["post_exit_continuation"] == {"kind": "years", "years": 2, "until": None, "floor": False}
    assert rules["provenance"]["poverty_line"]["source"].startswith("泰发〔2016〕5号")
    assert cli("policy", "record", "{}").exit_code == 2


def test_serve_refuses_a_bad_store_url_before_starting_workers() -> None:
    result = CliRunner().invoke(app, ["serve", "--workers", "2"], env={"POVREG_DATABASE_URL": "mysql://x/y"})
    assert result.exit_code == 2
    assert "configuration error" in result.output and "POVREG_DATABASE_URL" in result.output


def test_the_false_exit_through_the_cli(cli) -> None:
    """The truth behind a false exit: recorded as a correction, listed by ``povreg findings``,
    shown by ``povreg card`` and ``povreg audit``; resolved by a revisit (错退纳回)."""

    def record(obj: dict) -> dict:
        result = cli("household", "record", json.dumps(obj))
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    record({"household_id": "H-9", **proposal(seq=9)})
    record({"household_id": "H-9", "type": "IdentificationApproved", "effective_date": "2014-05-20"})
    income = record({"household_id": "H-9", "type": "IncomeAssessed", "effective_date": "2016-10-20",
                     "year": 2016, "income_per_capita": 3300})
    record({"household_id": "H-9", "type": "ExitProposed", "effective_date": "2016-11-01",
            "pathway": "industry", "guarantees": GUARANTEED})
    record({"household_id": "H-9", "type": "ExitConfirmed", "effective_date": "2016-11-15",
            "household_acknowledged": True})
    fix = record({"household_id": "H-9", "type": "EventCorrected", "effective_date": "2018-03-01",
                  "target_event_id": income["event_id"], "changes": {"income_per_capita": 2500},
                  "reason": "审计发现2016年实际收入2500元"})
    assert fix["status"] == "exited"

    listed = cli("findings", "620422", "--json")
    assert listed.exit_code == 0, listed.output
    found = json.loads(listed.output)
    assert found["counts"] == {"open": 1, "resolved": 0}
    assert found["findings"][0]["rule"] == "exit_income_below_line"
    before = cli("findings", "620422", "--json", "--known-at", income["recorded_at"])
    assert json.loads(before.output)["counts"] == {"open": 0, "resolved": 0}
    table = cli("findings", "620422")
    assert table.exit_code == 0 and "open 1, resolved 0" in table.output and "H-9" in table.output

    card = json.loads(cli("card", "H-9").output)
    assert [f["rule"] for f in card["findings"]] == ["exit_income_below_line"]
    trail = json.loads(cli("audit", "--household", "H-9").output)
    assert [f["finding_id"] for f in trail["findings"]] == [card["findings"][0]["finding_id"]]

    back = record({"household_id": "H-9", "type": "Revisited", "effective_date": "2018-04-10",
                   "finding": "wrongly_exited"})
    assert back["status"] == "returned"
    resolved = json.loads(cli("findings", "620422", "--json", "--state", "resolved").output)
    assert resolved["counts"] == {"open": 0, "resolved": 1}
    assert resolved["findings"][0]["resolved_by"] == back["event_id"]
    assert cli("findings", "620422", "--state", "shut").exit_code == 2
