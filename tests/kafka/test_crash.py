"""kill -9 the relay in the middle of a large publish and restart it (nothing lost, nothing doubled).

Every event reaches the topic at least once; every subscriber — a plain test
subscriber, the projection consumer and the dibao roster sync, all running
meanwhile — applies each event exactly once and in order per household; on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bootstrap.settings import Settings
from consumers.dibao import DibaoRosterSync
from consumers.messages import decode, encode_value
from consumers.projections import projection_runner
from domain.feed import feed_item
from persistence.db import Database
from projections.runner import ProjectionStore
from service.registry import Registry
from tests.kafka.conftest import (
    Collector,
    assert_order_per_household,
    collected,
    household_events,
    povreg_process,
    projection_rows,
    run_subscriber,
    runner_for,
    terminate,
    topic_items,
    unique_group,
    wait_for,
    with_pii_topic,
)
from tests.kafka.workload import bulk_households
from tests.kafka_broker import TansuBroker

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

HOUSEHOLDS = 1400  # ≈ 8,000 household events


def quarters(registry: Registry, start: int, end: int, chunk: int = 2000) -> int:
    """Write quarters ``start`` … ``end`` - 1 of the workload's households (each quarter its own prefix,
    recorded after the previous one); returns the log's head."""
    quarter = HOUSEHOLDS // 4
    for q in range(start, end):
        bulk_households(registry, f"K{q}", quarter, chunk=chunk,
                        start=datetime(2019, 1, 1, tzinfo=UTC) + timedelta(days=q))
    return registry.recorder.max_notification_id() or 0


def tracked(db: Database, topic: str) -> int:
    try:
        row = db.one("SELECT position FROM povreg_relay_tracking WHERE name = ?", (topic,))
    except Exception:  # the relay has not created its table yet
        if db.backend == "postgres":
            db.close()
        return 0
    return int(row[0]) if row else 0


def dibao_state(db: Database) -> tuple[list[Any], list[Any], int]:
    roster = db.query("SELECT household_id, division_code, valid_from, valid_to, position FROM dibao_roster "
                        "ORDER BY household_id, valid_from")
    changes = db.query("SELECT position, household_id, change, valid_date, division_code, recorded_at "
                         "FROM dibao_changes ORDER BY position, household_id, change, valid_date")
    events = db.one("SELECT count(*) FROM dibao_household_events")
    assert events is not None
    return [tuple(r) for r in roster], [tuple(r) for r in changes], int(events[0])


def dibao_one_by_one(feed: list[tuple[int, Any]], path: Path) -> tuple[list[Any], list[Any], int]:
    """The roster sync applied to the log in order, one event at a time, without Kafka."""
    db = Database(Settings(database_url=f"sqlite:///{path}"))
    sync = DibaoRosterSync()
    sync.setup(db)
    try:
        with db.transaction() as tx:
            for position, event in feed:
                sync.handle(decode(encode_value(feed_item(position, event))), tx)
        return dibao_state(db)
    finally:
        db.close()


def test_kill_9_relay_mid_publish_then_restart(kafka_settings: Settings, broker: TansuBroker, topic: str,
                                               tmp_path: Path) -> None:
    kafka_settings = with_pii_topic(broker, kafka_settings)  # the projection consumer reads the full events
    registry = Registry(kafka_settings)
    db = Database(kafka_settings)
    collector = runner_for(Collector(), kafka_settings)
    projections, projection_registry = projection_runner(kafka_settings, group=unique_group("projections"),
                                                         session_timeout_ms=6000)
    dibao = runner_for(DibaoRosterSync(), kafka_settings)
    runners = [collector, projections, dibao]
    threads = [run_subscriber(r) for r in runners]
    log = tmp_path / "relay.log"
    try:
        # The relay publishes the first quarter, then follows the log while the next two are written in
        # small transactions, and is killed 0.1 s after it recorded a position among them: mid-publish,
        # with events acknowledged by the broker but not yet recorded (the restart publishes them again).
        # The last quarter is written only after the kill, so the kill is before the end whatever the
        # relay's speed.
        killed = threading.Event()

        def write_the_rest() -> None:
            quarters(registry, 1, 3, chunk=50)
            killed.wait(120)
            quarters(registry, 3, 4)

        first_head = quarters(registry, 0, 1)
        writer = threading.Thread(target=write_the_rest, daemon=True)
        first = povreg_process(kafka_settings, ["relay", "--page-size", "500", "--commit-interval", "0.25"], log)
        try:
            wait_for(lambda: tracked(db, topic) == first_head or first.poll() is not None, 60,
                     "the relay to publish the first quarter", interval=0.01)
            writer.start()
            wait_for(lambda: tracked(db, topic) > first_head or first.poll() is not None, 60,
                     "the relay to publish while the log is written", interval=0.01)
            time.sleep(0.1)
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
            killed.set()
        at_kill = tracked(db, topic)
        writer.join(120)
        feed = household_events(registry)
        head = registry.recorder.max_notification_id() or 0
        assert len(feed) > 8_000
        assert first_head < at_kill < head, f"the relay was killed at {at_kill} of {head}: not mid-publish"

        second = povreg_process(kafka_settings, ["relay"], log)
        try:
            wait_for(lambda: tracked(db, topic) == head, 120, "the restarted relay to catch up")
        finally:
            code = terminate(second)
        assert code == 0, log.read_text()

        items = topic_items(broker, topic, expect=len(feed))
        on_topic = [item["event_id"] for _, item in items]
        assert set(on_topic) == {e.event_id for _, e in feed}  # every event at least once
        assert_order_per_household(items)

        for runner in runners:
            wait_for(lambda r=runner: r.stats.applied_total >= len(feed), 120,  # type: ignore[misc]
                     f"{runner.subscriber.name} to apply every event")
    finally:
        for thread in threads:
            thread.stop()
        for runner in runners:
            runner.close()
        projection_registry.close()

    for runner in runners:
        assert runner.stats.applied_total == len(feed), runner.subscriber.name
        assert runner.stats.dead_letters_total == 0 and runner.stats.deferred_total == 0, runner.stats_dict()

    # The test subscriber logs every application, without a unique key: a double effect would show.
    rows = collected(collector)
    assert len(rows) == len(feed)
    assert {r[0] for r in rows} == {e.event_id for _, e in feed}
    last: dict[str, int] = {}
    for _, household_id, version, _ in rows:
        assert version == last.get(household_id, 0) + 1, f"{household_id} applied out of order"
        last[household_id] = version

    # The projection consumer built exactly what the in-process projection builds from the log.
    store = ProjectionStore(registry)
    try:
        from_topic = projection_rows(store)
        store.rebuild(["households"])
        assert projection_rows(store) == from_topic
    finally:
        store.close()

    # The roster sync ended exactly where applying the log one event at a time ends.
    assert dibao_state(db) == dibao_one_by_one(feed, tmp_path / "reference.db")
    resent = len(on_topic) - len(feed)
    print(f"\nkill -9 at position {at_kill}/{head}; {resent} events re-sent; duplicates skipped: "
          f"{[r.stats.duplicates_total for r in runners]}")
    db.close()
    registry.close()
