"""Restatements on the real broker: the relay publishes exactly the expected messages on
``<topic>.restatements`` for a late exit and for a correction (none for on-time events nor for a
correction that leaves every status), keyed by household on one partition, and the dibao
subscriber applies them (a feed restarted mid-log gives the same ids: tests/test_restatement_feed.py)."""

from __future__ import annotations

import json

import pytest

from bootstrap.settings import Settings
from consumers.dibao import DibaoRosterSync, restated
from consumers.relay import Relay, RelayConfig
from consumers.restatements import restatement_topic
from service.registry import Registry
from tests.kafka.conftest import Background, runner_for, topic_items, wait_for
from tests.kafka.workload import StepClock, late_exit_and_correction
from tests.kafka_broker import TansuBroker

pytestmark = [pytest.mark.kafka]

EXPECTED = [("exit", "2016-11-15", "2016-12-20", "exit_pending", "exited"),
            ("fix", "2016-11-10", "2016-11-15", "exit_pending", "exited")]


def test_the_relay_publishes_each_restatement_once_in_order(store: tuple[Registry, StepClock],
                                                            kafka_settings: Settings, broker: TansuBroker,
                                                            topic: str) -> None:
    registry, clock = store
    broker.create_topic(restatement_topic(topic), 4)
    ids = late_exit_and_correction(registry, clock)
    relay = Relay(kafka_settings, RelayConfig(bootstrap=broker.bootstrap, topic=topic))
    try:
        relay.drain()
    finally:
        relay.close()
    items = topic_items(broker, restatement_topic(topic), expect=2)
    found = [(m["event_id"], m["valid_from"], m["valid_to"], m["status_before"], m["status_after"])
             for _, m in sorted(items, key=lambda rm: rm[0].offset)]
    assert found == [(ids[name], *rest) for name, *rest in EXPECTED]
    assert {record.key for record, _ in items} == {b"H-1"} and len({r.partition for r, _ in items}) == 1
    events = topic_items(broker, topic, expect=7)
    assert len(events) == 7  # the events themselves, as ever

    # The dibao subscriber applies them once each, even when they come again.
    runner = runner_for(DibaoRosterSync(), kafka_settings)
    background = Background(runner.run, "dibao")
    try:
        wait_for(lambda: len(restated(runner.db)) == 2, 60, "two restatements applied after their events")
        kept = restated(runner.db)
    finally:
        background.stop()
        runner.close()
    assert [(r["event_id"], r["valid_from"], r["valid_to"], r["on_roster_before"], r["on_roster_after"])
            for r in kept] == [(ids["exit"], "2016-11-15", "2016-12-20", True, False),
                               (ids["fix"], "2016-11-10", "2016-11-15", True, False)]
    assert json.loads(json.dumps(kept))[0]["restatement_id"] == f"{ids['exit']}/1"
