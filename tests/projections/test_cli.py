"""The read models through the ``povreg`` command line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli import app
from projections.lanes import default_workers
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


def test_rebuild_gives_the_findings_of_the_incremental_path(cli: CliRunner, county: Registry, clock: Clock) -> None:
    """``povreg projections rebuild`` (in parallel on PostgreSQL) answers the same findings, as of and
    known at any moment, as the read model caught up event by event."""
    from domain.history import Actor
    from service.registry import Command
    from tests.support import GUARANTEED, proposal

    approver = Actor("county-office", "approver", "620422")
    for n, hid in enumerate(("H-F1", "H-F2", "H-F3")):
        events = [
            ("2014-05-02", proposal(seq=200 + 10 * n)),
            ("2014-05-21", {"type": "IdentificationApproved", "effective_date": "2014-05-20"}),
            ("2016-10-20", {"type": "IncomeAssessed", "effective_date": "2016-10-20", "year": 2016,
                            "income_per_capita": 3300}),
            ("2016-11-01", {"type": "ExitProposed", "effective_date": "2016-11-01", "pathway": "industry",
                            "guarantees": GUARANTEED}),
            ("2016-12-20", {"type": "ExitConfirmed", "effective_date": "2016-11-15", "household_acknowledged": True}),
        ]
        for day, payload in events:
            clock.set(f"{day}T0{n + 1}:00:00+00:00")
            county.record(Command(payload=payload, actor=approver, household_id=hid))
    # H-F1: the truth found in 2018 (a late fact); H-F2: a corrected assessment, then readmitted;
    # H-F3: nothing wrong.
    clock.set("2018-03-01T02:00:00+00:00")
    county.record(Command(payload={"type": "IncomeAssessed", "effective_date": "2016-10-25", "year": 2016,
                                   "income_per_capita": 2400}, actor=approver, household_id="H-F1"))
    income = county.history("H-F2")[2].event_id
    clock.set("2018-03-02T02:00:00+00:00")
    county.record(Command(payload={"type": "EventCorrected", "effective_date": "2018-03-02", "reason": "审计",
                                   "target_event_id": income, "changes": {"income_per_capita": 2500}},
                          actor=approver, household_id="H-F2"))
    clock.set("2018-04-11T02:00:00+00:00")
    county.record(Command(payload={"type": "Revisited", "effective_date": "2018-04-10", "finding": "wrongly_exited"},
                          actor=approver, household_id="H-F2"))
    moments = ["2018-03-01T02:00:00+00:00", "2018-03-02T02:00:00+00:00", "2018-04-11T02:00:00+00:00"]

    def answers() -> list[object]:
        out: list[object] = []
        for as_of in ("2016-12-31", "2018-04-09", "2018-12-31"):
            for known_at in moments:
                out.append(json.loads(run(cli, "findings", "620422", "--as-of", as_of, "--known-at", known_at,
                                          "--json")))
            out.append(json.loads(run(cli, "card", "H-F2", "--as-of", as_of))["findings"])
        return out

    incremental = answers()  # the CLI catches the read model up, event by event
    final = incremental[-2]
    assert isinstance(final, dict) and final["counts"] == {"open": 1, "resolved": 1}
    assert "rebuilt households" in run(cli, "projections", "rebuild")
    assert answers() == incremental
