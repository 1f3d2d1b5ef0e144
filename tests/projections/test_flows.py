"""The flow log and its checkpoints (:mod:`projections.flows`) answer county
roster counts, incidence and the adjustment report exactly as a scan of the timeline
does — for random (as_of, known_at), with late recordings, corrections and
retractions, whether built incrementally (small pages), by a rebuild, or by
writers that project households out of recording order (checkpoints invalidated
and taken again)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from bootstrap.settings import Settings
from projections import SqlReadModel, flow_migration, flows, open_read_model
from projections.encoding import from_us
from projections.log import read_page
from service.registry import Registry
from simulation import SimClock, Simulation, load
from tests.support import proposal

HOUSEHOLDS = 90
PREFIXES = ("62", "6204", "620422")


@pytest.fixture
def small_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flows, "CHECKPOINT_EVERY", 40)
    monkeypatch.setattr(flows, "CHECKPOINT_KEEP", 7)
    monkeypatch.setattr(flows, "CELL_ENTRIES", 5)


@pytest.fixture
def simulated(database_url: str) -> Iterator[Registry]:
    sim = Simulation(HOUSEHOLDS, seed=9)
    clock = SimClock()
    registry = Registry(Settings(database_url=database_url, inline_projections=False), clock=clock, cache_size=None)
    report = load(registry, sim.recordings(), clock, divisions=sim.divisions(), window_days=20)
    assert report.refused == 0, report.examples
    yield registry
    registry.close()


def questions(model: SqlReadModel, rng: random.Random, n: int) -> list[tuple[date, datetime | None]]:
    with model.store.db.read() as tx:
        moments = [int(r[0]) for r in tx.query("SELECT recorded_us FROM proj_events")]
        days = [date.fromisoformat(r[0]) for r in tx.query("SELECT effective_date FROM proj_events")]
    out: list[tuple[date, datetime | None]] = []
    for _ in range(n):
        day = rng.choice(days) + timedelta(days=rng.choice([-1, 0, 0, 1, 30]))
        if rng.random() < 0.1:
            day = rng.choice([date(2013, 1, 1), date(2030, 1, 1)])
        moment = rng.choice(moments) + rng.choice([-1, 0, 0, 1])
        out.append((day, None if rng.random() < 0.2 else from_us(moment)))
    return out


def answers(model: SqlReadModel, prefix: str, as_of: date, known_at: datetime | None,
            end: date) -> tuple[Any, ...]:
    return (
        model.roster(prefix, as_of, known_at, page_size=3)["counts"],
        model.incidence(prefix, as_of, known_at),
        model.adjustments(prefix, min(as_of, end), max(as_of, end), known_at),
    )


def check_flows_equal_timeline(model: SqlReadModel, rng: random.Random, n: int = 25) -> None:
    for as_of, known_at in questions(model, rng, n):
        prefix = rng.choice(PREFIXES)
        end = as_of + timedelta(days=rng.choice([0, 1, 90, 3 * 365]))
        model.use_flows = True
        got = answers(model, prefix, as_of, known_at, end)
        model.use_flows = False
        want = answers(model, prefix, as_of, known_at, end)
        model.use_flows = True
        assert got == want, (prefix, as_of, known_at, end)
    assert model.roster("620422", date(2016, 6, 1), None)["total"]["households"] > 0


def flow_tables(model: SqlReadModel) -> dict[str, list[tuple[Any, ...]]]:
    with model.store.db.read() as tx:
        return {
            "log": tx.query("SELECT * FROM proj_flows ORDER BY moment, position, n"),
            "classes": tx.query("SELECT * FROM proj_flow_classes ORDER BY flow_class"),
        }


def checkpoint_tables(model: SqlReadModel) -> dict[str, list[tuple[Any, ...]]]:
    with model.store.db.read() as tx:
        return {
            "marks": tx.query("SELECT * FROM proj_flow_marks ORDER BY mark"),
            "sums": tx.query("SELECT * FROM proj_flow_sums ORDER BY mark, chunk, flow_class"),
        }


def retake_one_by_one(model: SqlReadModel, every: int | None = None, keep: int | None = None,
                      first: int | None = None) -> int:
    """Drop the checkpoints and take them again with ``flows.checkpoint`` (``first`` of them,
    or all that are due); returns how many."""
    taken = 0
    with model.store.db.write() as tx:
        tx.execute("DELETE FROM proj_flow_sums")
        tx.execute("DELETE FROM proj_flow_marks")
        while (first is None or taken < first) and flows.checkpoint(tx, every=every, keep=keep):
            taken += 1
    return taken


def marks(model: SqlReadModel) -> list[tuple[Any, ...]]:
    with model.store.db.read() as tx:
        return tx.query("SELECT mark, moment FROM proj_flow_marks ORDER BY mark")


def test_flow_sums_equal_the_timeline_incrementally_and_rebuilt(simulated: Registry, small_checkpoints: None) -> None:
    model = open_read_model(simulated, inline=False)
    try:
        model.store.page_size = 97  # many small batches, checkpoints between them
        model.catch_up()
        assert len(marks(model)) >= 5
        rng = random.Random(4)
        check_flows_equal_timeline(model, rng)
        incremental = flow_tables(model)
        assert incremental["log"] and incremental["classes"]
        model.store.rebuild()
        assert flow_tables(model) == incremental
        assert marks(model)
        check_flows_equal_timeline(model, rng, 10)
        # The rebuild took its checkpoints at the end, all that were due, in one pass.
        rebuilt = checkpoint_tables(model)
        retake_one_by_one(model)
        assert checkpoint_tables(model) == rebuilt
    finally:
        model.close()


def test_checkpoints_in_one_pass_equal_those_taken_one_by_one(simulated: Registry,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """``checkpoint_all`` writes the very marks and sums that repeated ``checkpoint`` calls
    write, also when it starts after checkpoints already taken (reading the log in pages
    smaller than a checkpoint's entries)."""
    model = open_read_model(simulated, inline=False)
    try:
        monkeypatch.setattr(flows, "CHECKPOINT_EVERY", 10**9)
        model.catch_up()
        monkeypatch.setattr(flows, "CELL_ENTRIES", 5)
        monkeypatch.setattr(flows._Tail, "PAGE", 7)
        for every, keep, first in ((40, 7, 0), (40, 7, 3), (1, 0, 0), (25, 24, 2), (10**9, 0, 0)):
            total = retake_one_by_one(model, every, keep)
            one_by_one = checkpoint_tables(model)
            assert retake_one_by_one(model, every, keep, first) == min(first, total)
            with model.store.db.write() as tx:
                assert flows.checkpoint_all(tx, every=every, keep=keep) == total - min(first, total)
            assert checkpoint_tables(model) == one_by_one
            assert (total > first) == (every < 10**9)
    finally:
        model.close()


def test_out_of_order_writers_invalidate_checkpoints(simulated: Registry, small_checkpoints: None) -> None:
    """Households projected out of recording order (as Kafka partitions may): entries older
    than a checkpoint drop it, and the answers still equal the timeline's."""
    model = open_read_model(simulated, inline=False)
    try:
        events = []
        after = 0
        while page := read_page(simulated, after, 1000):
            events += [(e.position, e.household) for e in page if e.is_household]
            after = page[-1].position
        households = sorted({event.household_id for _, event in events})
        late = set(households[::3])  # a third of the county, projected after the rest
        rng = random.Random(8)
        early = [i for i in events if i[1].household_id not in late]
        for group in (early, [i for i in events if i[1].household_id in late]):
            for start in range(0, len(group), 150):
                model.store.apply_household_events(group[start : start + 150])
            if group is early:
                before = marks(model)
                assert len(before) >= 3
        after_marks = marks(model)
        # The late households' entries predate the first checkpoints: those were dropped and retaken.
        assert after_marks and after_marks != before
        first_late = min(e.recorded_at for _, e in events if e.household_id in late)
        assert all(from_us(int(m[1])) < first_late for m in before if m in after_marks)
        check_flows_equal_timeline(model, rng)
        model.store.catch_up()  # the other projections; households are already there
        reference = open_read_model(simulated, inline=False)
        try:
            reference.store.rebuild(["households"])
            assert flow_tables(reference) == flow_tables(model)
        finally:
            reference.close()
    finally:
        model.close()


def test_checkpoint_cells_and_tail(simulated: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    """No checkpoint (everything in the tail), one big cell, and many one-day cells agree."""
    model = open_read_model(simulated, inline=False)
    try:
        monkeypatch.setattr(flows, "CHECKPOINT_EVERY", 10**9)
        model.catch_up()
        assert marks(model) == []
        rng = random.Random(2)
        asked = questions(model, rng, 12)
        tail_only = [answers(model, "620422", a, k, a + timedelta(days=400)) for a, k in asked]
        with model.store.db.read() as tx:
            entries = int(tx.scalar("SELECT count(*) FROM proj_flows"))
        # one checkpoint of everything in one cell; one per moment with one-day cells; some of each
        for every, keep, cell in ((entries, 0, 10**9), (1, 0, 1), (50, 5, 3)):
            monkeypatch.setattr(flows, "CELL_ENTRIES", cell)
            with model.store.db.write() as tx:
                tx.execute("DELETE FROM proj_flow_sums")
                tx.execute("DELETE FROM proj_flow_marks")
                while flows.checkpoint(tx, every=every, keep=keep):
                    pass
            assert marks(model)
            assert [answers(model, "620422", a, k, a + timedelta(days=400)) for a, k in asked] == tail_only
    finally:
        model.close()


def test_derived_from_the_timeline(simulated: Registry, small_checkpoints: None) -> None:
    """``derive_from_timeline`` (for a store whose timeline predates the flow log) writes
    the same sums as the projection, one entry per (moment, day, class)."""
    model = open_read_model(simulated, inline=False)
    try:
        model.catch_up()
        by_cell = (
            "SELECT moment, day, flow_class, sum(households), sum(persons), sum(prev_persons) FROM proj_flows "
            "GROUP BY moment, day, flow_class HAVING sum(households) <> 0 OR sum(persons) <> 0 "
            "OR sum(prev_persons) <> 0 ORDER BY moment, day, flow_class"
        )
        with model.store.db.read() as tx:
            projected = tx.query(by_cell)
            classes = tx.query("SELECT * FROM proj_flow_classes ORDER BY flow_class")
        with model.store.db.write() as tx:
            for table in ("proj_flows", "proj_flow_classes", "proj_flow_marks", "proj_flow_sums"):
                tx.execute(f"DELETE FROM {table}")
            assert flow_migration.derive_from_timeline(tx) == len(projected)
        with model.store.db.read() as tx:
            assert tx.query(by_cell) == projected
            assert tx.query("SELECT * FROM proj_flow_classes ORDER BY flow_class") == classes
        assert len(marks(model)) >= 5
        check_flows_equal_timeline(model, random.Random(6), 12)
    finally:
        model.close()


def test_concurrent_writers(simulated: Registry, small_checkpoints: None) -> None:
    """Three writers (as Kafka partitions would be) project a third of the households each,
    at the same time: their checkpoints never miss another's entries."""
    import threading

    events = []
    after = 0
    while page := read_page(simulated, after, 1000):
        events += [(e.position, e.household) for e in page if e.is_household]
        after = page[-1].position
    models = [open_read_model(simulated, inline=False) for _ in range(3)]
    errors: list[BaseException] = []

    def write(model: SqlReadModel, part: int) -> None:
        try:
            mine = [i for i in events if hash(i[1].household_id) % 3 == part]
            for start in range(0, len(mine), 60):
                model.store.apply_household_events(mine[start : start + 60])
        except BaseException as exc:  # reported below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=write, args=(m, i)) for i, m in enumerate(models)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert marks(models[0])
        check_flows_equal_timeline(models[0], random.Random(12))
    finally:
        for m in models:
            m.close()


def test_county_difference_equals_comparing_every_household(simulated: Registry) -> None:
    """The cycle report as filed versus as known, for a county, compares only the households
    whose rows in the cycle changed in between: the same households, contributions and
    reports as comparing every household of the county."""
    from domain.commands import Command
    from domain.history import Actor

    # A household counted in 2014-2016 as filed, whose dates are corrected to 2017 later:
    # its rows in the cycle close and none opens there.
    village = next(e for e in read_page(simulated, 0, 2000) if e.is_household).data["body"]["division_code"]
    office = Actor("county-office", "approver", "620422")

    def record(payload: dict[str, Any]) -> Any:
        return simulated.record(Command(payload, office, household_id="H-MOVED"))

    proposed = record(proposal(village, seq=9001))
    approved = record({"type": "IdentificationApproved", "effective_date": "2014-05-20"})
    for target, day in ((approved, "2017-03-20"), (proposed, "2017-03-01")):
        record({"type": "EventCorrected", "effective_date": "2021-12-31", "target_event_id": target.event_id,
                "changes": {"effective_date": day}, "reason": "日期录入错误"})
    model = open_read_model(simulated, inline=False)
    try:
        model.catch_up()
        moved = difference_of_every_household(model, "620422", date(2014, 1, 1), date(2016, 12, 31),
                                              approved.recorded_at, None)
        assert moved["H-MOVED"][0] is not None and moved["H-MOVED"][1] is None
        rng = random.Random(11)
        asked = questions(model, rng, 40)
        differing = 0
        for (day, filed_at), (_, known_at) in zip(asked[::2], asked[1::2], strict=True):
            end = day + timedelta(days=rng.choice([1, 365, 3 * 365]))
            differing += bool(difference_of_every_household(model, rng.choice(PREFIXES), day, end, filed_at, known_at))
        assert differing >= 5
    finally:
        model.close()


def difference_of_every_household(model: SqlReadModel, prefix: str, start: date, end: date,
                                  filed_at: datetime | None, known_at: datetime | None) -> dict[str, Any]:
    """Asserts that ``adjustments_diff`` finds what comparing every household's contribution
    finds; returns the households that differ: (as filed, as known)."""
    from projections import adjustments as adj

    found = model.adjustments_diff(prefix, start, end, filed_at=filed_at, known_at=known_at)
    filed_at = filed_at or model.filed_at(end)
    before = model.contributions(prefix, start, end, filed_at)
    after = model.contributions(prefix, start, end, known_at)
    changed = {hid: (before.get(hid), after.get(hid)) for hid in sorted(set(before) | set(after))
               if before.get(hid) != after.get(hid)}
    assert [h["household_id"] for h in found["households"]] == list(changed), (prefix, start, end)
    for h in found["households"]:
        was, now = changed[h["household_id"]]
        assert (h["filed"], h["known"]) == (was and was.as_json(), now and now.as_json())
    assert found["filed"] == adj.report(before.values())
    assert found["known"] == adj.report(after.values())
    return changed
