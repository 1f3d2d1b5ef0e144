"""``verify``: tampering with one row in the database is detected and named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from projections import SqlReadModel
from projections.households import ProjectionError
from projections.integrity import GENESIS, canonical, link, sha256
from projections.verify import anchor, verify
from service.registry import Registry
from tests.projections.test_queries import H, worked_example
from tests.support import Clock


def store_sql(registry: Registry, sql: str, params: tuple[Any, ...]) -> None:
    """Run SQL directly on the event store's database, as an intruder would."""
    table = registry.recorder.events_table_name
    if registry.settings.backend == "sqlite":
        import sqlite3

        with sqlite3.connect(registry.settings.sqlite_path) as conn:
            conn.execute(sql.format(table=table, id="rowid"), params)
    else:
        import psycopg

        schema = registry.settings.postgres_params().get("schema", "public")
        with psycopg.connect(registry.settings.postgres_conninfo(), autocommit=True) as conn:
            conn.execute(f"SET search_path TO {schema}")
            conn.execute(sql.format(table=table, id="notification_id").replace("?", "%s"), params)


def tamper(registry: Registry, position: int, old: bytes, new: bytes) -> None:
    """Edit one stored event's content in place, as an intruder who holds the store's key would
    (an encrypted event is decrypted, edited and encrypted again)."""
    cipher = registry.mapper.cipher

    def edit(state: bytes) -> bytes:
        if cipher is None:
            return state.replace(old, new)
        return cipher.encrypt(cipher.decrypt(state).replace(old, new))

    if registry.settings.backend == "sqlite":
        import sqlite3

        with sqlite3.connect(registry.settings.sqlite_path) as conn:
            (state,) = conn.execute("SELECT state FROM stored_events WHERE rowid = ?", (position,)).fetchone()
            conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (edit(state), position))
        return
    import psycopg

    schema = registry.settings.postgres_params().get("schema", "public")
    table = registry.recorder.events_table_name
    with psycopg.connect(registry.settings.postgres_conninfo(), autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        (state,) = conn.execute(f"SELECT state FROM {table} WHERE notification_id = %s", (position,)).fetchone()
        conn.execute(f"UPDATE {table} SET state = %s WHERE notification_id = %s",
                     (edit(bytes(state)), position))


def position_of(model: SqlReadModel, version: int) -> tuple[int, str]:
    with model.store.db.read() as tx:
        row = tx.one("SELECT position, event_id FROM proj_events WHERE household_id = ? AND version = ?", (H, version))
    assert row is not None
    return row[0], row[1]


def test_an_intact_store_verifies(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    worked_example(county, clock)
    result = verify(model.store)
    assert result.ok, result.problems
    assert result.checked == result.log_head and result.not_yet_chained == 0


def test_an_altered_stored_event_is_named(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    worked_example(county, clock)
    position, event_id = position_of(model, 3)  # the IncomeAssessed
    tamper(county, position, b"5200", b"9200")
    result = verify(model.store)
    assert not result.ok
    # The read models still show what was recorded: they differ from the altered log too.
    (problem,) = [p for p in result.problems if p.kind != "read_model_altered"]
    assert problem.kind == "stored_event_altered" and problem.position == position
    assert event_id in problem.detail and H in problem.detail and "version 3" in problem.detail


def test_a_deleted_stored_event_is_named(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    worked_example(county, clock)
    position, event_id = position_of(model, 5)
    store_sql(county, "DELETE FROM {table} WHERE {id} = ?", (position,))
    problems = [p for p in verify(model.store).problems if p.kind != "read_model_altered"]
    assert [(p.kind, p.position) for p in problems] == [("deleted", position)]
    assert event_id in problems[0].detail


def test_an_altered_audit_row_and_chain_are_named(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    worked_example(county, clock)
    position, _ = position_of(model, 2)
    with model.store.db.write() as tx:
        tx.execute("UPDATE proj_audit_actors SET name_ref = 'someone-else' WHERE actor = "
                   "(SELECT actor FROM proj_audit WHERE position = ?)", (position,))
        tx.execute("UPDATE proj_chain SET chain = ? WHERE position = ?", (bytes.fromhex("f" * 64), position - 1))
    kinds = {(p.kind, p.position) for p in verify(model.store).problems}
    assert ("audit_altered", position) in kinds
    assert ("chain_altered", position - 1) in kinds


def test_a_rewritten_chain_is_caught_by_an_anchor(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    worked_example(county, clock)
    head = anchor(model.store)
    assert head is not None
    position, _ = position_of(model, 3)
    tamper(county, position, b"5200", b"9200")
    # A rebuild notices that the store's past changed and refuses to swap...
    with pytest.raises(ProjectionError, match="differs from the live one"):
        model.store.rebuild(["audit"])
    assert verify(model.store).problems[0].kind == "stored_event_altered"
    # ...but an intruder may force it: the chain is then self-consistent again...
    model.store.rebuild(force=True)
    assert verify(model.store).ok
    # ...but the anchor written down before does not match any more.
    result = verify(model.store, [(head["position"], head["chain"])])
    assert [p.kind for p in result.problems] == ["anchor_mismatch"]


def test_the_household_chain_can_be_recomputed_from_the_served_trail(
    county: Registry, clock: Clock, model: SqlReadModel
) -> None:
    worked_example(county, clock)
    trail = model.audit(H)
    assert trail is not None
    previous = GENESIS
    for event in trail["events"]:
        record = {k: event[k] for k in ("event_id", "household_id", "version", "type", "effective_date",
                                        "recorded_at", "recorded_by", "data")}
        assert sha256(canonical(record)) == event["event_hash"]
        previous = link(previous, event["event_hash"])
        assert previous == event["household_chain"]
    assert json.dumps(trail)  # JSON-ready
