"""Restatements on the real broker: the relay publishes exactly the expected messages on
``<topic>.restatements`` for a late exit and for a correction (none for on-time events nor for a
correction that leaves every status), keyed by household on one partition, and the dibao
subscriber applies them (a feed restarted mid-log gives the same ids: tests/test_restatement_feed.py)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from bootstrap.settings import Settings
from consumers.dibao import DibaoRosterSync, restated
from consumers.relay import Relay, RelayConfig
from consumers.restatements import restatement_topic
from domain.history import Actor
from service.registry import Command, Registry
from tests.kafka.conftest import Background, runner_for, topic_items, wait_for
from tests.kafka.workload import StepClock
from tests.kafka_broker import TansuBroker
from tests.support import GUARANTEED, proposal

pytestmark = [pytest.mark.kafka]

CLERK = Actor("clerk", "recorder", "620422")
OFFICE = Actor("office", "approver", "620422")


def record(registry: Registry, clock: StepClock, at: str, actor: Actor = CLERK, hid: str = "H-1",
           **payload: Any) -> str:
    clock.set(datetime.fromisoformat(at))
    return registry.record(Command(payload, actor, household_id=hid)).event_id


def late_exit_and_correction(registry: Registry, clock: StepClock) -> dict[str, str]:
    """A dibao household: on time until its exit, confirmed 35 days late, whose date is then
    corrected five days earlier; and an income correction, which changes no status."""
    ids = {}
    record(registry, clock, "2014-05-02T02:00:00+00:00", **proposal(attribute="dibao"))
    record(registry, clock, "2014-05-20T02:00:00+00:00", OFFICE, type="IdentificationApproved",
           effective_date="2014-05-20")
    ids["income"] = record(registry, clock, "2016-10-15T02:00:00+00:00", type="IncomeAssessed",
                           effective_date="2016-10-15", year=2016, income_per_capita=3600)
    record(registry, clock, "2016-11-01T02:00:00+00:00", type="ExitProposed", effective_date="2016-11-01",
           pathway="industry", guarantees=GUARANTEED)
    ids["exit"] = record(registry, clock, "2016-12-20T02:00:00+00:00", OFFICE, type="ExitConfirmed",
                         effective_date="2016-11-15", household_acknowledged=True)
    ids["fix"] = record(registry, clock, "2017-01-10T02:00:00+00:00", OFFICE, type="EventCorrected",
                        effective_date="2017-01-10", target_event_id=ids["exit"],
                        changes={"effective_date": "2016-11-10"}, reason="日期录错")
    record(registry, clock, "2017-02-01T02:00:00+00:00", type="EventCorrected", effective_date="2017-02-01",
           target_event_id=ids["income"], changes={"income_per_capita": 3700}, reason="录入错误")
    return ids


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
