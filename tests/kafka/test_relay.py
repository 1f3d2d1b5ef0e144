"""The relay publishes the notification log: everything, once per run, in order per household."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from typer.testing import CliRunner

from bootstrap.settings import Settings
from cli import app
from consumers.messages import item_from_notification, masked_item, value_from_notification, values_from_notification
from consumers.metrics import MetricsServer
from consumers.producer import AckWindow
from consumers.relay import Relay, RelayConfig, RelayConfigError, RelayError
from domain.feed import feed_item
from service.registry import Registry
from tests.kafka.conftest import assert_order_per_household, household_events, topic_items
from tests.kafka.workload import StepClock, setup_divisions, write_households
from tests.kafka_broker import TansuBroker

pytestmark = pytest.mark.kafka


def test_message_value_is_the_feed_item(settings: Settings, clock) -> None:
    """The relay's fast encoding equals feed_item() of the decoded event, for every event type."""
    for cipher in (None, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="):
        url = settings.database_url
        if cipher and url.startswith("sqlite:///"):
            url = url.removesuffix(".db") + "-cipher.db"
        elif cipher:
            continue  # the cipher path is the same code on PostgreSQL
        step = StepClock()
        registry = Registry(Settings(database_url=url, cipher_key=cipher), clock=step)
        try:
            setup_divisions(registry, step)
            write_households(registry, step, "M", 12)
            notifications = registry.recorder.select_notifications(start=1, limit=10_000)
            by_position = {n.id: n for n in notifications}
            feed = household_events(registry)
            types = {event.type for _, event in feed}
            assert {"IdentificationProposed", "ExitConfirmed", "ReturnedToPoverty", "EventCorrected"} <= types
            for position, event in feed:
                expected = json.loads(json.dumps(feed_item(position, event)))
                assert item_from_notification(by_position[position], registry.mapper) == expected
                assert json.loads(value_from_notification(by_position[position], registry.mapper)) == expected
                masked, full = values_from_notification(by_position[position], registry.mapper, b"k", full=True)
                assert json.loads(full or b"") == expected and json.loads(masked) == masked_item(expected, b"k")
        finally:
            registry.close()


def test_relay_publishes_every_event_keyed_and_in_order(store, kafka_settings: Settings, broker: TansuBroker,
                                                         topic: str) -> None:
    registry, clock = store
    write_households(registry, clock, "R", 150)
    feed = household_events(registry)
    relay = Relay(kafka_settings, RelayConfig(bootstrap=broker.bootstrap, topic=topic, page_size=200))
    try:
        relay.drain()
        head = registry.recorder.max_notification_id()
        assert relay.position == head and relay.lag == 0
        assert relay.published_total == len(feed)
    finally:
        relay.close()

    items = topic_items(broker, topic, expect=len(feed))
    assert len(items) == len(feed)  # no failure: each exactly once
    expected = {p: masked_item(json.loads(json.dumps(feed_item(p, e))), relay.ref_key) for p, e in feed}
    for record, item in items:
        assert item == expected[item["position"]]
        assert dict(record.headers)["position"] == str(item["position"]).encode()
    assert_order_per_household(items)

    # The position survived: a new relay publishes only what is new.
    write_households(registry, clock, "S", 5, corrections=False)
    relay = Relay(kafka_settings, RelayConfig(bootstrap=broker.bootstrap, topic=topic))
    try:
        assert relay.position == head
        relay.drain()
        assert relay.published_total == len(household_events(registry))
    finally:
        relay.close()
    assert len(topic_items(broker, topic, expect=len(household_events(registry)))) == len(household_events(registry))


def test_sharded_relays_split_the_partitions(store, kafka_settings: Settings, broker: TansuBroker,
                                             topic: str) -> None:
    """Two relays, shards 0/2 and 1/2, each publish their partitions' events; together each event once.
    A relay of another shape (here unsharded) starts from the lowest recorded position: nothing skipped."""
    registry, clock = store
    write_households(registry, clock, "SH", 40, corrections=False)
    for index in (0, 1):
        relay = Relay(kafka_settings, RelayConfig(bootstrap=broker.bootstrap, topic=topic, shard=(index, 2)),
                      registry=registry)
        try:
            relay.drain()
            assert relay.config.tracking_name == f"{topic}#{index}/2"
        finally:
            relay.close()
    feed = household_events(registry)
    items = topic_items(broker, topic, expect=len(feed))
    assert sorted(item["position"] for _, item in items) == [p for p, _ in feed]  # each exactly once
    assert {r.partition % 2 for r, _ in items} == {0, 1}
    assert_order_per_household(items)

    head = registry.recorder.max_notification_id()
    write_households(registry, clock, "SI", 5, corrections=False)
    relay = Relay(kafka_settings, RelayConfig(bootstrap=broker.bootstrap, topic=topic), registry=registry)
    try:
        assert relay.position == head  # both shards published everything up to there
        relay.drain()
        assert relay.published_total == len(household_events(registry)) - len(feed)
    finally:
        relay.close()
    with pytest.raises(RelayConfigError):
        Relay(kafka_settings, RelayConfig(bootstrap=broker.bootstrap, topic=topic, shard=(2, 2)), registry=registry)


def test_relay_metrics_endpoint(tmp_path, broker: TansuBroker, topic: str) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}", kafka_bootstrap=broker.bootstrap,
                        kafka_topic=topic)
    step = StepClock()
    registry = Registry(settings, clock=step)
    setup_divisions(registry, step)
    write_households(registry, step, "X", 3, corrections=False)
    relay = Relay(settings, RelayConfig(bootstrap=broker.bootstrap, topic=topic), registry=registry)
    server = MetricsServer("relay", relay.stats, 0, "127.0.0.1", labels={"topic": topic}).start()
    try:
        relay._update_max(force=True)
        status, health = get_json(f"http://127.0.0.1:{server.port}/health")
        assert status == 200 and health["healthy"]
        assert health["lag"] == registry.recorder.max_notification_id() and health["position"] == 0
        relay.drain()
        status, health = get_json(f"http://127.0.0.1:{server.port}/health")
        assert health["lag"] == 0 and health["published_total"] == len(household_events(registry))
        text = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics").read().decode()
        assert "povreg_relay_lag{" in text and "povreg_relay_published_total{" in text
    finally:
        server.stop()
        relay.close()
        registry.close()


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_relay_command_needs_kafka(tmp_path) -> None:
    result = CliRunner().invoke(app, ["relay"], env={"POVREG_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                                                     "POVREG_KAFKA_BOOTSTRAP": ""})
    assert result.exit_code == 2
    assert "POVREG_KAFKA_BOOTSTRAP" in result.output


def test_relay_refuses_bad_options(tmp_path, broker: TansuBroker, topic: str) -> None:
    """A codec or producer setting kafka-python does not know stops the relay at once (exit 2), never retried."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'o.db'}", kafka_bootstrap=broker.bootstrap,
                        kafka_topic=topic)
    env = {"POVREG_DATABASE_URL": settings.database_url, "POVREG_KAFKA_BOOTSTRAP": broker.bootstrap}
    for option in (["--compression", "brotli"], ["--shard", "3/2"]):
        result = CliRunner().invoke(app, ["relay", *option], env=env)
        assert result.exit_code == 2, (option, result.output)
    relay = Relay(settings, RelayConfig(bootstrap=broker.bootstrap, topic=topic, producer={"no_such_setting": 1}))
    try:
        with pytest.raises(RelayConfigError, match=r"no_such_setting"):
            relay.run()
        assert relay.failures_total == 0
    finally:
        relay.close()


def test_acknowledged_position_waits_for_every_older_event() -> None:
    """Partitions acknowledge independently: the position moves only past events all acknowledged."""
    from kafka.errors import RequestTimedOutError
    from kafka.future import Future

    window = AckWindow()
    futures = {position: Future() for position in (3, 4, 7, 9)}
    for position, future in futures.items():
        window.sent(position, future)
    assert window.advance() == 0 and window.acknowledged_through(9) == 2
    futures[7].success(None)  # another partition answered first
    futures[4].success(None)
    assert window.advance() == 0 and window.acknowledged_through(9) == 2
    futures[3].success(None)
    assert window.advance() == 3 and window.acknowledged_through(9) == 8  # 3, 4 and 7 done; 9 outstanding
    futures[9].success(None)
    assert window.advance() == 1 and window.acknowledged_through(12) == 12  # all done: up to the last read

    both = Future(), Future()  # an event on two topics counts once both acknowledged it
    window.sent(13, *both)
    both[1].success(None)
    assert window.advance() == 0 and window.acknowledged_through(13) == 12
    both[0].failure(RequestTimedOutError())
    with pytest.raises(RelayError, match="position 13"):
        window.advance()
    assert window.acknowledged_through(13) == 12


def test_findings_ride_on_the_events_that_open_and_resolve_them(store, kafka_settings: Settings,
                                                                 broker: TansuBroker, topic: str) -> None:
    """A false exit found in an audit: the correction's message carries the finding it opened,
    the revisit's (错退纳回) the one it resolved; every other message is the plain feed item."""
    from datetime import UTC, datetime

    from domain.history import Actor
    from service.registry import Command
    from tests.support import GUARANTEED, proposal

    registry, clock = store
    approver = Actor("county-office", "approver", "620422")

    def record(moment: str, payload: dict) -> str:
        clock.set(datetime.fromisoformat(moment).replace(tzinfo=UTC))
        return registry.record(Command(payload=payload, actor=approver, household_id="H-F")).event_id

    record("2014-05-02T02:00", proposal(seq=77))
    record("2014-05-21T02:00", {"type": "IdentificationApproved", "effective_date": "2014-05-20"})
    income = record("2016-10-20T02:00", {"type": "IncomeAssessed", "effective_date": "2016-10-20", "year": 2016,
                                         "income_per_capita": 3300})
    exit_id = record("2016-11-01T02:00", {"type": "ExitProposed", "effective_date": "2016-11-01",
                                          "pathway": "industry", "guarantees": GUARANTEED})
    record("2016-12-20T02:00", {"type": "ExitConfirmed", "effective_date": "2016-11-15",
                                "household_acknowledged": True})
    fix = record("2018-03-01T02:00", {"type": "EventCorrected", "effective_date": "2018-03-01",
                                      "target_event_id": income, "changes": {"income_per_capita": 2500},
                                      "reason": "审计更正"})
    back = record("2018-04-11T02:00", {"type": "Revisited", "effective_date": "2018-04-10",
                                       "finding": "wrongly_exited"})
    feed = household_events(registry)
    relay = Relay(kafka_settings, RelayConfig(bootstrap=broker.bootstrap, topic=topic))
    try:
        relay.drain()
    finally:
        relay.close()
    items = {item["event_id"]: item for _, item in topic_items(broker, topic, expect=len(feed))}
    (opened,) = items[fix]["findings"]
    assert (opened["change"], opened["rule"], opened["decision_event_id"]) == (
        "opened", "exit_income_below_line", exit_id)
    assert opened["shown_by"] == [income, fix] and opened["state"] == "open"
    (resolved,) = items[back]["findings"]
    assert (resolved["change"], resolved["finding_id"], resolved["resolved_by"]) == (
        "resolved", opened["finding_id"], back)
    plain = {p: masked_item(json.loads(json.dumps(feed_item(p, e))), relay.ref_key) for p, e in feed}
    for item in items.values():
        assert {k: v for k, v in item.items() if k != "findings"} == plain[item["position"]]
    assert [eid for eid, item in items.items() if "findings" in item] == [fix, back]
