"""Civil affairs' low-income roster sync (`povreg consume dibao`), run through the CLI, agrees with the
registry's own read model on who is a low-income (dibao) household in poverty on any date."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bootstrap.settings import Settings
from cli import app
from consumers.relay import Relay, RelayConfig
from projections.readmodel import SqlReadModel
from service.registry import Registry
from tests.kafka.conftest import consumer_process, get_health, household_events, terminate, unique_group, wait_for
from tests.kafka.workload import household_id, write_households
from tests.kafka_broker import TansuBroker

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

HOUSEHOLDS = 60
DATES = [date(2014, 5, 19), date(2014, 5, 20), date(2016, 11, 14), date(2016, 11, 15), date(2017, 8, 3),
         date(2018, 6, 30)]
#: registered and in poverty (docs/domain.md): approved, not (yet) exited; `returned` counts as poor.
ON_ROSTER = {"poor", "exit_pending", "returned"}


def cli(args: list[str], database_url: str) -> Any:
    result = CliRunner().invoke(app, args, env={"POVREG_DATABASE_URL": database_url, "POVREG_KAFKA_BOOTSTRAP": ""})
    return result


def expected_roster(model: SqlReadModel, day: date) -> set[tuple[str, str]]:
    """From the in-process read model: dibao households registered in poverty on ``day``."""
    rows = model.roster("620422", day, None, page_size=1000)["rows"]
    return {(r["household_id"], r["division_code"]) for r in rows
            if r["attribute"] == "dibao" and r["status"] in ON_ROSTER}


def test_dibao_roster_sync_through_the_cli(store: tuple[Registry, Any], kafka_settings: Settings,
                                           broker: TansuBroker, topic: str, tmp_path: Path) -> None:
    registry, clock = store
    write_households(registry, clock, "DB", HOUSEHOLDS)
    feed = household_events(registry)
    # Civil affairs keeps its copy in its own database (a file of its own here, on SQLite).
    own = f"sqlite:///{tmp_path / 'civil-affairs.db'}" if kafka_settings.backend == "sqlite" else None
    consumer, port = consumer_process(kafka_settings, "dibao", unique_group("dibao"), tmp_path / "dibao.log",
                                      *(["--database-url", own] if own else []))
    try:
        relay = Relay(kafka_settings, RelayConfig(bootstrap=broker.bootstrap, topic=topic), registry=registry)
        relay.drain()
        relay.close()
        wait_for(lambda: get_health(port)[1].get("applied_total", 0) >= len(feed), 60,
                 "the dibao consumer to apply every event")
        status, health = get_health(port)
        assert status == 200 and health["applied_total"] == len(feed) and health["dead_letters_total"] == 0
    finally:
        code = terminate(consumer)
    assert code == 0, (tmp_path / "dibao.log").read_text()

    url = own or kafka_settings.database_url
    model = SqlReadModel(registry)
    try:
        model.catch_up()
        for day in DATES:
            result = cli(["dibao", "roster", "--as-of", day.isoformat()], url)
            assert result.exit_code == 0, result.output
            listed = json.loads(result.output)
            got = {(r["household_id"], r["division_code"]) for r in listed["rows"]}
            assert got == expected_roster(model, day), day
            assert listed["households"] == len(got)
        assert expected_roster(model, date(2018, 6, 30))  # the comparison is not between empty sets
    finally:
        model.close()

    # A division's part of the roster.
    village = cli(["dibao", "roster", "--as-of", "2018-06-30", "--division", "620422100201"], url)
    assert village.exit_code == 0
    assert {r["division_code"] for r in json.loads(village.output)["rows"]} == {"620422100201"}

    # The change feed civil affairs acts on: entries and exits with their valid dates and causes.
    result = cli(["dibao", "changes", "--limit", "100000"], url)
    assert result.exit_code == 0, result.output
    changes: dict[str, list[tuple[str, str]]] = {}
    for c in json.loads(result.output):
        changes.setdefault(c["household_id"], []).append((c["change"], c["valid_date"]))
    # H-DB-000000: a dibao household that exits (2016-11-15) and falls back into poverty (2017-08-03).
    assert changes[household_id("DB", 0)] == [("entered", "2014-05-20"), ("left", "2016-11-15"),
                                              ("entered", "2017-08-03")]
    # H-DB-000001: general, corrected to dibao in 2018 — entered retroactively from its approval.
    assert changes[household_id("DB", 1)] == [("entered", "2014-05-20")]
    corrected = [c for c in json.loads(result.output) if c["household_id"] == household_id("DB", 1)]
    correction = next(p for p, e in feed if e.household_id == household_id("DB", 1) and e.type == "EventCorrected")
    assert corrected[0]["position"] == correction
    # H-DB-000002: general, never corrected: never on the roster.
    assert household_id("DB", 2) not in changes


def test_dibao_queries_refuse_bad_input(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'civil.db'}"
    for args, words in [(["dibao", "roster", "--as-of", "2018-13-01"], "as-of"),
                        (["dibao", "roster", "--division", "62x"], "division"),
                        (["dibao", "roster", "--division", "6204221"], "division"),
                        (["dibao", "changes", "--limit", "0"], "limit")]:
        result = cli(args, url)
        assert result.exit_code == 2, (args, result.output)
        assert words in result.output.lower(), (args, result.output)
