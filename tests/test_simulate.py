"""``povreg simulate``: the synthetic county is deterministic, realistic in its shares,
uses every event kind, is accepted whole by the domain rules on SQLite and PostgreSQL,
and the projections built from it answer as the domain fold does."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bootstrap.settings import Settings
from cli import app
from domain.events import EVENT_TYPES
from projections import open_read_model
from service.registry import Registry
from simulation import EXIT_TARGETS, LATE_DAYS, Recording, SimClock, Simulation, load
from tests.projections.oracle import Oracle

#: generated only (fast): shares, kinds, exits by year
STREAM_HOUSEHOLDS = 1500
#: loaded into each backend through the application service
STORE_HOUSEHOLDS = 220
SHANGHAI = timedelta(hours=8)


def local_day(at: datetime) -> date:
    return (at + SHANGHAI).date() if at.utcoffset() == timedelta(0) else (at.astimezone() + SHANGHAI).date()


@pytest.fixture(scope="module")
def stream() -> tuple[Simulation, list[Recording]]:
    sim = Simulation(STREAM_HOUSEHOLDS, seed=3)
    return sim, list(sim.recordings())


def test_the_same_seed_gives_the_same_county_and_history() -> None:
    def generate(seed: int) -> tuple[list[Any], list[dict[str, Any]]]:
        sim = Simulation(120, seed=seed)
        return sim.divisions(), [r.as_json() for r in sim.recordings()]

    first, again, other = generate(7), generate(7), generate(8)
    assert first == again
    assert first[1] != other[1]


def test_every_event_kind_is_used(stream: tuple[Simulation, list[Recording]]) -> None:
    _, recordings = stream
    kinds = Counter(r.command.payload["type"] for r in recordings)
    assert set(kinds) == set(EVENT_TYPES), set(EVENT_TYPES) - set(kinds)
    # Every household is identified once, with members whose ID numbers no other household lists.
    proposals = [r.command for r in recordings if r.command.payload["type"] == "IdentificationProposed"]
    assert len(proposals) == STREAM_HOUSEHOLDS
    ids = [m["id_number"] for c in proposals for m in c.payload["members"]]
    assert len(ids) == len(set(ids))


def test_recordings_are_in_order_and_within_the_period(stream: tuple[Simulation, list[Recording]]) -> None:
    _, recordings = stream
    moments = [r.at for r in recordings]
    assert moments == sorted(moments)
    for r in recordings:
        effective = date.fromisoformat(r.command.payload["effective_date"])
        assert date(2014, 1, 1) <= effective <= date(2021, 12, 31)
        assert effective <= local_day(r.at), r  # never recorded before it happened


def test_late_recordings_and_corrections_have_realistic_shares(stream: tuple[Simulation, list[Recording]]) -> None:
    _, recordings = stream
    base = [r for r in recordings if r.command.payload["type"] not in ("EventCorrected", "EventRetracted")]
    late = sum(
        1 for r in base
        if (local_day(r.at) - date.fromisoformat(r.command.payload["effective_date"])).days >= LATE_DAYS
    )
    corrected = sum(1 for r in recordings if r.command.payload["type"] == "EventCorrected")
    assert 0.035 <= late / len(recordings) <= 0.065
    assert 0.006 <= corrected / len(recordings) <= 0.015
    # 1–2 million events for 100,000 households: 10–20 per household.
    assert 10 <= len(recordings) / STREAM_HOUSEHOLDS <= 21


def test_exits_follow_the_county_yearly_targets(stream: tuple[Simulation, list[Recording]]) -> None:
    """Persons exiting per year (the household's size when it exits) in the proportions of the
    county's targets (会宁县委发〔2015〕53号)."""
    size: dict[str, int] = {}
    persons: Counter[int] = Counter()
    for r in stream[1]:
        p, hid = r.command.payload, r.command.household_id
        if p["type"] == "IdentificationProposed":
            size[hid] = len(p["members"])
        elif p["type"] == "MembersChanged":
            size[hid] += len(p.get("joined", [])) - len(p.get("left", []))
        elif p["type"] == "ExitConfirmed":
            persons[date.fromisoformat(p["effective_date"]).year] += size[hid]
    total = sum(persons[y] for y in EXIT_TARGETS)
    target_total = sum(EXIT_TARGETS.values())
    for year in (2015, 2016, 2017, 2018):
        assert abs(persons[year] / total - EXIT_TARGETS[year] / target_total) < 0.035, (year, persons)
    assert persons[2016] > 1.5 * persons[2015] and persons[2017] > 2 * persons[2018]


def test_loads_whole_and_projections_equal_the_fold(database_url: str) -> None:
    sim = Simulation(STORE_HOUSEHOLDS, seed=5)
    clock = SimClock()
    registry = Registry(Settings(database_url=database_url, inline_projections=False), clock=clock, cache_size=None)
    try:
        report = load(registry, sim.recordings(), clock, divisions=sim.divisions(), window_days=30)
        assert report.refused == 0, report.examples
        assert report.recorded == sim.stats["events"]
        model = open_read_model(registry, inline=False)
        try:
            assert model.catch_up() >= report.recorded
            with model.store.db.read() as tx:
                stored = tx.query("SELECT household_id, type, effective_date, recorded_us FROM proj_events")
            assert Counter(row[1] for row in stored) == Counter(
                {k: v for k, v in sim.stats.items() if k in EVENT_TYPES}
            )
            households = sorted({row[0] for row in stored})
            assert len(households) == STORE_HOUSEHOLDS
            check_against_fold(registry, model, households, stored)
        finally:
            model.close()
    finally:
        registry.close()


def check_against_fold(registry: Registry, model: Any, households: list[str], stored: list[tuple[Any, ...]]) -> None:
    """Cards of a sample and county / township / village roster counts at random (as_of, known_at)."""
    rng = random.Random(11)
    oracle = Oracle(registry, households)
    moments = sorted(datetime.fromisoformat("1970-01-01T00:00:00+00:00") + timedelta(microseconds=row[3])
                     for row in stored)
    village = households[0].split("-")[1]
    for _ in range(6):
        as_of = date(2014, 1, 1) + timedelta(days=rng.randint(0, 8 * 365))
        known_at = rng.choice([None, rng.choice(moments), rng.choice(moments) - timedelta(microseconds=1)])
        for hid in rng.sample(households, 12):
            got, want = model.card(hid, as_of, known_at), oracle.card(hid, as_of, known_at)
            if want is None:
                assert got is None, (hid, as_of, known_at)
            else:
                assert got is not None and {k: got[k] for k in want} == want, (hid, as_of, known_at)
        for prefix in (village[:6], village[:9], village):
            roster = model.roster(prefix, as_of, known_at, page_size=5)
            assert roster["counts"] == oracle.roster_counts(prefix, as_of, known_at), (prefix, as_of, known_at)


def test_cli_writes_json_lines_and_loads_them(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"POVREG_DATABASE_URL": database_url, "POVREG_INLINE_PROJECTIONS": "false"}
    out, again = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path in (out, again):
        result = runner.invoke(app, ["simulate", "--households", "40", "--seed", "2", "--out", str(path)], env=env)
        assert result.exit_code == 0, result.output
    assert out.read_bytes() == again.read_bytes()
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["division"]["code"] == "620422"
    events = [line for line in lines if "event" in line]
    assert len(events) > 40 * 10

    loaded = runner.invoke(app, ["simulate", "--from", str(out), "--days", "30"], env=env)
    assert loaded.exit_code == 0, loaded.output
    assert f"recorded {len(events):,} of {len(events):,} events" in loaded.output
    # A second load would put recording moments before the store's: refused up front.
    twice = runner.invoke(app, ["simulate", "--households", "40", "--seed", "2"], env=env)
    assert twice.exit_code == 2 and "already holds" in twice.output


def test_povreg_import_reads_what_simulate_out_writes(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"POVREG_DATABASE_URL": database_url}
    county = tmp_path / "county.jsonl"
    written = runner.invoke(app, ["simulate", "--households", "30", "--seed", "4", "--out", str(county)], env=env)
    assert written.exit_code == 0, written.output
    lines = [json.loads(line) for line in county.read_text(encoding="utf-8").splitlines()]
    events = [line for line in lines if "event" in line]
    divisions = [line["division"] for line in lines if "division" in line]

    imported = runner.invoke(app, ["import", str(county)], env=env)
    assert imported.exit_code == 0, imported.output
    assert f"recorded {len(events):,} of {len(events):,} events" in imported.output
    assert "refused 0" in imported.output

    registry = Registry(Settings(database_url=database_url))
    try:
        assert [registry.division(d["code"]).versions[-1].name for d in divisions] == [d["name"] for d in divisions]
        recorded = [event for _, event in registry.feed(0, 100_000)]
        assert len(recorded) == len(events)
        # Each event kept the recording moment the simulation gave it (the stream is in that order).
        assert [e.recorded_at for e in recorded] == sorted(e.recorded_at for e in recorded)
        assert recorded[0].recorded_at.year == 2014
    finally:
        registry.close()

    # A simulated history goes only into an empty store: its moments lie before the store's.
    again = runner.invoke(app, ["import", str(county)], env=env)
    assert again.exit_code == 2 and "already holds" in again.output
