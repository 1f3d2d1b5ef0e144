"""The read models through the ``povreg`` command line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli import app
from projections.store import default_workers
from service.registry import Registry
from tests.projections.test_integrity import position_of, tamper
from tests.projections.test_queries import H, seed_county, worked_example
from tests.support import Clock


@pytest.fixture
def cli(county: Registry, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("POVREG_DATABASE_URL", county.settings.database_url)
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def run(cli: CliRunner, *args: str, code: int = 0) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_queries_rebuild_status_and_verify(cli: CliRunner, county: Registry, clock: Clock, tmp_path) -> None:
    seed_county(county, clock)  # recorded without a read model: the CLI catches up itself
    roster = json.loads(run(cli, "roster", "620422100201", "--as-of", "2016-12-31", "--json"))
    assert roster["counts"]["exited"] == {"households": 1, "persons": 3}
    assert "南关村" in run(cli, "roster", "620422100201", "--as-of", "2016-12-31", "--mask")
    report = json.loads(run(cli, "adjustments", "620422100", "--start", "2014-01-01", "--end", "2016-12-31",
                            "--json"))
    assert report["reconciles"] is True
    out = run(cli, "adjustments", "620422100", "--start", "2014-01-01", "--end", "2016-12-31", "--diff")
    assert "late_entry ExitConfirmed" in out
    incidence = json.loads(run(cli, "incidence", "620422", "--as-of", "2016-06-01"))
    assert incidence["population"] == 480_000
    card = json.loads(run(cli, "card", "H-620422100201-0001", "--as-of", "2016-12-31", "--timeline", "--mask"))
    assert card["status"] == "exited" and card["timeline"][-1]["status"] == "exited"
    assert "*" in card["members"][0]["name"]
    trail = json.loads(run(cli, "audit", "--household", "H-620422100201-0001"))
    assert trail["events"][0]["type"] == "IdentificationProposed"
    assert json.loads(run(cli, "audit", "--actor", "county-office"))["events"]
    rebuilt = run(cli, "projections", "rebuild")
    assert "rebuilt households, reference, audit" in rebuilt
    # Unless told, as many processes as suit the backend (PostgreSQL: one more than the cores).
    processes = default_workers(county.settings.backend)
    assert f"{processes} process" in rebuilt and (processes > 1) == (county.settings.backend == "postgres")
    status = json.loads(run(cli, "projections", "status", "--json"))
    assert {s["name"]: s["lag"] for s in status} == {"audit": 0, "households": 0, "reference": 0}
    anchors = tmp_path / "anchors.jsonl"
    run(cli, "projections", "anchor", "--file", str(anchors))
    assert "intact" in run(cli, "verify", "--anchors", str(anchors))


def test_verify_names_a_tampered_row(cli: CliRunner, county: Registry, clock: Clock) -> None:
    worked_example(county, clock)
    run(cli, "projections", "catch-up")
    from projections import open_read_model

    model = open_read_model(county, inline=False)
    position, event_id = position_of(model, 3)
    model.close()
    tamper(county, position, b"5200", b"9200")
    result = json.loads(run(cli, "verify", "--json", code=1))
    assert result["problems"][0]["position"] == position and event_id in result["problems"][0]["detail"]
    assert "differs from the live one" in run(cli, "projections", "rebuild", "audit", code=1)
    assert H in run(cli, "verify", code=1)


def test_bad_input_is_refused(cli: CliRunner) -> None:
    run(cli, "roster", "6204221", code=2)
    run(cli, "projections", "rebuild", "nonsense", code=2)
