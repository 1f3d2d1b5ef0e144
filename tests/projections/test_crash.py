"""Kill -9 at any moment: the projections resume with nothing lost or doubled.

A subprocess catches up (or rebuilds) in small pages and is SIGKILLed as soon as
it has committed a couple of pages — most likely in the middle of the next
transaction. After several kills the read model is finished in-process and must
equal, row for row, a rebuild from the whole log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from projections import open_read_model
from projections.runner import ProjectionStore
from service.registry import Registry
from tests.projections.histories import populate
from tests.projections.test_property import snapshot
from tests.support import Clock

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys
from service.registry import Registry
from bootstrap.settings import Settings
from projections.runner import ProjectionStore

registry = Registry(Settings.from_env())
store = ProjectionStore(registry, page_size=int(sys.argv[2]))
def report(p):
    print(p.position, flush=True)
if sys.argv[1] == "catch-up":
    store.catch_up(progress=report)
elif sys.argv[1] == "parallel":
    store.rebuild(progress=report, resume=True, workers=3)
else:
    store.rebuild(progress=report, resume=sys.argv[1] == "resume")
print("done", flush=True)
"""


def run_and_kill(url: str, mode: str, pages_before_kill: int, page_size: int = 20) -> bool:
    """Start the child; SIGKILL it after it reports ``pages_before_kill`` pages. True if it finished first."""
    env = {**os.environ, "POVREG_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, str(page_size)], stdout=subprocess.PIPE, env=env, text=True
    )
    assert child.stdout is not None
    deadline = time.monotonic() + 120
    for seen, line in enumerate(child.stdout, start=1):
        if line.startswith("done"):
            child.wait()
            return True
        if seen >= pages_before_kill:
            child.send_signal(signal.SIGKILL)
            break
        assert time.monotonic() < deadline
    child.wait()
    assert child.returncode in (-signal.SIGKILL, 0)
    return child.returncode == 0


def test_catch_up_killed_mid_page_resumes_exactly(county: Registry, clock: Clock) -> None:
    populate(county, clock, households=30, seed=3, batch=60, corrections=0.2)
    url = county.settings.database_url
    store = ProjectionStore(county)
    store.close()
    kills = 0
    for pages in (2, 3, 4):
        if not run_and_kill(url, "catch-up", pages):
            kills += 1
    assert kills >= 2
    model = open_read_model(county, inline=False)
    try:
        lag_before = model.store.status()[0]["lag"]
        assert lag_before > 0  # the kills left work to do
        model.catch_up()
        resumed = snapshot(model)
        households = {r[0] for r in resumed["proj_events"]}
        assert len(resumed["proj_events"]) == sum(len(county.history(h)) for h in households)
        model.store.rebuild()
        assert snapshot(model) == resumed
    finally:
        model.close()


def test_rebuild_killed_keeps_serving_the_old_model_and_resumes(county: Registry, clock: Clock) -> None:
    populate(county, clock, households=30, seed=4, batch=60)
    model = open_read_model(county, inline=False)
    try:
        model.catch_up()
        before = snapshot(model)
        assert not run_and_kill(county.settings.database_url, "rebuild", 3, page_size=10)
        # The live tables are untouched and still answer; the rebuild's own row shows it.
        assert snapshot(model) == before
        names = {r["name"] for r in model.store.status()}
        assert "households@rebuild" in names
        assert run_and_kill(county.settings.database_url, "resume", 10_000, page_size=10)
        assert snapshot(model) == before
        assert {r["name"] for r in model.store.status()} == {"households", "reference", "audit"}
        assert_all_indexes(model.store)
    finally:
        model.close()


def test_concurrent_catch_ups_neither_lose_nor_double(county: Registry, clock: Clock) -> None:
    import threading

    populate(county, clock, households=20, seed=5, batch=40)
    models = [open_read_model(county, inline=False) for _ in range(2)]
    for m in models:
        m.store.page_size = 15
    errors: list[BaseException] = []

    def run(m: object) -> None:
        try:
            m.catch_up()  # type: ignore[attr-defined]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(models[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors
        caught_up = snapshot(models[0])
        models[0].store.rebuild()
        assert snapshot(models[0]) == caught_up
    finally:
        for m in models:
            m.close()


def test_parallel_rebuild_killed_resumes_and_equals_the_incremental_model(county: Registry, clock: Clock) -> None:
    """Workers (the audit lane and two household shards) each commit their own pages;
    killing the rebuild kills them too, and a resumed rebuild finishes every lane."""
    populate(county, clock, households=30, seed=6, batch=60, corrections=0.2)
    model = open_read_model(county, inline=False)
    try:
        model.catch_up()
        before = snapshot(model)
        assert not run_and_kill(county.settings.database_url, "parallel", 4, page_size=10)
        assert snapshot(model) == before
        rebuilding = {r["name"] for r in model.store.status() if r["rebuilding"]}
        assert rebuilding == {"reference@rebuild", "audit@rebuild", "households#0/2@rebuild",
                              "households#1/2@rebuild"}
        assert run_and_kill(county.settings.database_url, "parallel", 10_000, page_size=10)
        assert snapshot(model) == before
        assert {r["name"] for r in model.store.status()} == {"households", "reference", "audit"}
        assert model.store.rebuild(workers=2) > 0  # households alone in one lane
        assert snapshot(model) == before
        assert_all_indexes(model.store)
        assert_all_statistics(model.store)
    finally:
        model.close()


def assert_all_indexes(store: ProjectionStore) -> None:
    """Every declared index once and every primary key, though a rebuild creates most indexes
    (and, on PostgreSQL, some primary keys) after its bulk load."""
    with store.db.read() as tx:
        for projection in store.projections.values():
            for table in projection.tables:
                if tx.dialect == "postgres":
                    assert tx.has_primary_key(table.name), table.name
                names = tx.index_names(table.name)
                for i in range(len(table.indexes)):
                    assert sum(n.startswith(f"ix_{table.name}_{i}_") for n in names) == 1, (table.name, names)


def assert_all_statistics(store: ProjectionStore) -> None:
    """PostgreSQL: the rebuilt tables' planner statistics cover every column, not only those the
    rebuild looked rows up by (the queries filter on the others)."""
    with store.db.read() as tx:
        if tx.dialect != "postgres":
            return
        for table in store.households.tables:
            analysed = {r[0] for r in tx.query(
                "SELECT attname FROM pg_stats WHERE schemaname = current_schema() AND tablename = ?", (table.name,))}
            if analysed:  # an empty table has none
                assert analysed == set(table.column_names), (table.name, set(table.column_names) - analysed)


def test_a_catch_up_that_need_not_wait_steps_aside_while_another_runs(county: Registry, clock: Clock) -> None:
    """The API's queries do not queue behind a writer's catch-up (PostgreSQL's NOWAIT lock):
    while another transaction holds the tracking rows they return at once, projecting nothing."""
    import pytest

    if county.settings.backend != "postgres":
        pytest.skip("SQLite writers take turns on the file lock; queries wait there")
    populate(county, clock, households=5, seed=3, batch=20)
    head = county.recorder.max_notification_id() or 0
    busy, reader = (open_read_model(county, inline=False) for _ in range(2))
    try:
        assert reader.behind(head)
        with busy.store.db.write() as tx:
            busy.store.lock_positions(tx, list(busy.store.projections))
            started = time.monotonic()
            assert reader.catch_up(wait=False) == 0
            assert time.monotonic() - started < 5
            assert reader.behind(head)
        assert reader.catch_up(wait=False) > 0
        assert not reader.behind(head)
    finally:
        busy.close()
        reader.close()
