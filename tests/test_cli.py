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
    assert json.loads(shown.output)["poverty_line"] == 7000
    assert cli("policy", "record", "{}").exit_code == 2


def test_serve_refuses_a_bad_store_url_before_starting_workers() -> None:
    result = CliRunner().invoke(app, ["serve", "--workers", "2"], env={"POVREG_DATABASE_URL": "mysql://x/y"})
    assert result.exit_code == 2
    assert "configuration error" in result.output and "POVREG_DATABASE_URL" in result.output
