"""Writers together: racing registries, recording moments in commit order, the bulk writer,
and writers of other PostgreSQL schemas (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from bootstrap.settings import Settings
from domain.commands import Command
from domain.errors import DomainError, VersionConflict
from service.registry import Registry
from tests.support import APPROVER, GUARANTEED, RECORDER, Clock, member, proposal, record, registered


def test_racing_writers_never_both_win(settings: Settings, county: Registry, clock: Clock) -> None:
    """Two registries (as two processes would) race on one household with the same expected version."""
    registered(county, clock)
    clock.set("2014-06-01T10:00:00+00:00")
    other = Registry(settings, clock=clock)
    results: list[object] = []
    barrier = threading.Barrier(8)

    def write(reg: Registry, n: int) -> None:
        barrier.wait()
        try:
            results.append(record(reg, "H-1", {"type": "HelperAssigned", "effective_date": "2014-06-01",
                                               "helper_name": f"干部{n}"}, expected_version=2))
        except VersionConflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=write, args=(county if n % 2 else other, n)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    wins = [r for r in results if not isinstance(r, VersionConflict)]
    assert len(wins) == 1 and len(results) == 8
    history = county.history("H-1")
    assert len(history) == 3
    moments = [e.recorded_at for e in history]
    assert moments == sorted(moments) and len(set(moments)) == 3

def test_recording_moments_follow_commit_order_across_registries(settings: Settings, county: Registry) -> None:
    """Two writers whose clocks disagree still stamp moments in notification order."""
    behind = Registry(settings, clock=lambda: datetime(2014, 1, 1, tzinfo=UTC))
    ahead_clock = Clock(datetime(2014, 6, 1, tzinfo=UTC))
    ahead = Registry(settings, clock=ahead_clock)
    r1 = ahead.record(Command(proposal(seq=1), RECORDER, household_id="H-a"))
    r2 = behind.record(Command(proposal(seq=3, effective_date="2013-12-01"), RECORDER, household_id="H-b"))
    assert r2.recorded_at > r1.recorded_at
    behind.close()
    ahead.close()

APPROVE = {"type": "IdentificationApproved", "effective_date": "2014-05-20"}

def _bulk_batches(prefix: str, seq: int) -> list[list[Command]]:
    """Batches whose checks depend on the batches before them (versions, people, the state)."""
    a, b, c = f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"
    helper = {"type": "HelperAssigned", "effective_date": "2014-05-25", "helper_name": "干部"}
    return [
        [
            Command(proposal(seq=seq), RECORDER, household_id=a),
            Command(proposal(seq=seq + 1), RECORDER, household_id=b),
            Command({**APPROVE, "effective_date": "2014-05-03"}, APPROVER, household_id=a),  # notice period
            Command(helper, RECORDER, household_id=f"{prefix}-404"),  # no such household
        ],
        [
            Command(APPROVE, APPROVER, household_id=a, expected_version=1),
            Command(APPROVE, APPROVER, household_id=b, expected_version=2),  # version conflict
            Command(proposal(seq=seq + 2, members=[member(seq)]), RECORDER, household_id=c),  # a's head
        ],
        [
            Command(helper, RECORDER, household_id=a, expected_version=2),
            Command({"type": "IncomeAssessed", "effective_date": "2014-05-10", "year": 2014,
                     "income_per_capita": 2500}, RECORDER, household_id=a),  # late: before the approval
            Command({"type": "ExitProposed", "effective_date": "2014-05-30", "pathway": "industry",
                     "guarantees": GUARANTEED}, RECORDER, household_id=b),  # not approved yet
            Command(APPROVE, APPROVER, household_id=b),
        ],
    ]

def _outcome(results: list[object]) -> list[tuple[object, ...]]:
    return [
        ("refused", r.rule) if isinstance(r, DomainError) else (r.type, r.version, r.status)  # type: ignore[attr-defined]
        for r in results
    ]

def test_bulk_writer_answers_and_records_as_record_many(county: Registry, clock: Clock) -> None:
    """Each batch checked while the one before is saved: the same answers, histories and
    recording moments in notification order."""
    clock.set("2014-06-01T10:00:00+00:00")
    one_by_one = [_outcome(county.record_many(batch)) for batch in _bulk_batches("H-r", 1)]
    with county.bulk_writer() as writer:
        bulk = [_outcome(writer.record_many(batch)) for batch in _bulk_batches("H-w", 101)]
    assert bulk == one_by_one
    assert ("refused", "identification_notice_period") in bulk[0] and ("refused", "unknown_household") in bulk[0]
    assert ("refused", "person_in_another_household") in bulk[1]
    for suffix in ("a", "b"):
        want = [(e.version, e.type, e.body.effective_date) for e in county.history(f"H-r-{suffix}")]
        assert [(e.version, e.type, e.body.effective_date) for e in county.history(f"H-w-{suffix}")] == want
    # (an index event carries the moment of the household event it goes with)
    stored = [(n.originator_id, county.mapper.to_domain_event(n).timestamp)  # type: ignore[attr-defined]
              for n in county.recorder.select_notifications(start=1, limit=1000)]
    assert [at for _, at in stored] == sorted(at for _, at in stored)
    household_moments = [at for key, at in stored if str(key).startswith("H-")]
    assert len(set(household_moments)) == len(household_moments)

def test_bulk_writer_failed_save_records_nothing_of_it(county: Registry, clock: Clock,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A save that fails in flight is raised; neither it nor the batch checked after it is
    recorded, and the registry goes on from what was saved."""
    clock.set("2014-06-01T10:00:00+00:00")
    real, saves = county.events.put, []

    def second_save_fails(events: Any, **kwargs: Any) -> Any:
        saves.append(events)
        if len(saves) == 2:
            raise RuntimeError("the disk is full")
        return real(events, **kwargs)

    monkeypatch.setattr(county.events, "put", second_save_fails)
    helper = {"type": "HelperAssigned", "effective_date": "2014-05-25", "helper_name": "干部"}
    with pytest.raises(RuntimeError, match="disk is full"), county.bulk_writer() as writer:
        writer.record_many([Command(proposal(), RECORDER, household_id="H-1")])
        writer.record_many([Command(APPROVE, APPROVER, household_id="H-1")])
        writer.record_many([Command(helper, RECORDER, household_id="H-1")])
    monkeypatch.undo()
    assert [e.type for e in county.history("H-1")] == ["IdentificationProposed"]
    receipt = record(county, "H-1", APPROVE, APPROVER, expected_version=1)
    assert receipt.version == 2  # type: ignore[attr-defined]

def test_bulk_writer_lets_other_writers_in(settings: Settings, county: Registry, clock: Clock) -> None:
    """The gate is released between batches once held ``max_hold``: another writer gets in,
    and the next batch is checked against what it wrote."""
    clock.set("2014-06-01T10:00:00+00:00")
    other = Registry(settings, clock=clock)
    if other.settings.backend == "postgres":
        other.gate._pg_connection()  # its session now, so that the test can watch it wait
    helper = {"type": "HelperAssigned", "effective_date": "2014-05-25", "helper_name": "干部"}
    try:
        with county.bulk_writer(max_hold=0) as writer:
            writer.record_many([Command(proposal(), RECORDER, household_id="H-1")])
            approving = threading.Thread(target=record, args=(other, "H-1", APPROVE, APPROVER))
            approving.start()
            _wait_until_blocked_or_done(other, approving)
            (answer,) = writer.record_many([Command(helper, RECORDER, household_id="H-1")])
        approving.join()
    finally:
        other.close()
    history = county.history("H-1")
    assert not isinstance(answer, DomainError), answer
    assert [e.version for e in history] == [1, 2, 3]
    assert {e.type for e in history} == {"IdentificationProposed", "IdentificationApproved", "HelperAssigned"}
    assert [e.recorded_at for e in history] == sorted({e.recorded_at for e in history})

def test_writers_of_other_postgres_schemas_do_not_wait_for_each_other() -> None:
    """Each schema is a store with its own write gate; writers of one store still take turns.
    (A SQLite store is a file, with its own lock file.)"""
    from tests.support import postgres_schema

    with postgres_schema() as url, postgres_schema() as other_url:
        first, same, other = (Registry(Settings(database_url=u)) for u in (url, url, other_url))
        entered: list[Registry] = []

        def enter(registry: Registry) -> None:
            with registry.gate.open():
                entered.append(registry)

        try:
            same.gate._pg_connection()  # its session now, so that the test can watch it wait
            with first.gate.open():
                elsewhere = threading.Thread(target=enter, args=(other,))
                elsewhere.start()
                elsewhere.join(30)
                assert entered == [other]
                here = threading.Thread(target=enter, args=(same,))
                here.start()
                _wait_until_blocked_or_done(same, here)
                assert entered == [other]  # waiting for the first writer
            here.join(30)
            assert entered == [other, same]
        finally:
            for registry in (first, same, other):
                registry.close()

def _wait_until_blocked_or_done(writer: Registry, thread: threading.Thread) -> None:
    """Until ``thread``, writing through ``writer``, waits for the gate the bulk writer holds
    (PostgreSQL), or has written (elsewhere the bulk writer holds the gate only inside a call)."""
    if writer.settings.backend != "postgres":
        thread.join()
        return
    import psycopg

    pid = writer.gate._pg_connection().info.backend_pid
    with psycopg.connect(writer.settings.postgres_conninfo(), autocommit=True) as conn:
        for _ in range(3000):
            row = conn.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", (pid,)).fetchone()
            if (row and row[0]) or not thread.is_alive():
                return
            threading.Event().wait(0.01)
    raise AssertionError("the other writer never reached the gate")

def test_processes_opening_a_new_postgres_schema_together_all_start() -> None:
    """API, relay shards and rebuild workers may start at once on a schema nobody created yet: the
    registry creates the schema and its tables under one lock, so none of them fails."""
    import subprocess
    import sys
    import uuid

    import psycopg

    from tests.support import PG_DB, PG_HOST, PG_PORT, PG_USER, postgres_schema

    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}?schema={schema}"
    code = (
        "import sys; from service.registry import Registry; from bootstrap.settings import Settings; "
        "r = Registry(Settings(database_url=sys.argv[1])); print(r.recorder.max_notification_id()); r.close()"
    )
    with postgres_schema():  # PostgreSQL answers and the test database exists
        pass
    try:
        procs = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(4)]
        results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
        assert [r[0] for r in results] == [0, 0, 0, 0], [r[2][-500:] for r in results]
        assert [r[1].strip() for r in results] == ["None"] * 4
    finally:
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DB, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
