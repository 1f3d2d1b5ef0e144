"""Poison messages go to <topic>.dlq with the reason; retryable failures are retried; nothing is skipped."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence

import pytest
from kafka import KafkaProducer
from typer.testing import CliRunner

from bootstrap.settings import Settings
from cli import app
from consumers.base import RetryableError
from consumers.messages import FeedMessage, PoisonMessage, decode
from consumers.relay import Relay, RelayConfig
from domain.feed import feed_item
from persistence.db import Tx
from tests.kafka.conftest import Collector, collected, household_events, runner_for, unique_group
from tests.kafka.workload import write_households
from tests.kafka_broker import TansuBroker

pytestmark = pytest.mark.kafka


class Picky(Collector):
    """Fails for good on one household, and once (retryably) on another."""

    name = "picky"

    def __init__(self, bad: str, flaky: str) -> None:
        super().__init__()
        self.bad, self.flaky, self.failed_once = bad, flaky, False

    def handle_batch(self, messages: Sequence[FeedMessage], tx: Tx) -> None:
        for m in messages:
            if m.household_id == self.bad:
                raise ValueError(f"cannot map household {m.household_id} to a civil-affairs file")
            if m.household_id == self.flaky and not self.failed_once:
                self.failed_once = True
                raise RetryableError("the civil-affairs database is restarting")
        super().handle_batch(messages, tx)


def test_decode_rejects_what_is_not_a_feed_item() -> None:
    for value, kind in [(b"\xff{", "decode"), (b"{nope", "decode"), (b"[1]", "schema"), (b"{}", "schema"),
                        (None, "decode")]:
        with pytest.raises(PoisonMessage) as caught:
            decode(value)
        assert caught.value.kind == kind


def test_poison_messages_go_to_the_dead_letter_topic(store, kafka_settings: Settings, broker: TansuBroker,
                                                     topic: str) -> None:
    registry, clock = store
    write_households(registry, clock, "D", 4, corrections=False)
    feed = household_events(registry)
    relay = Relay(kafka_settings, RelayConfig(bootstrap=broker.bootstrap, topic=topic))
    relay.drain()
    relay.close()

    good = json.loads(json.dumps(feed_item(*feed[0])))
    invalid = dict(good, event_id="e-invalid", data={**good["data"], "division_code": "not-a-code"})
    poison = [
        (b"H-x", b"{this is not json"),
        (b"H-x", b'["an", "array"]'),
        (b"H-x", json.dumps({"event_id": "e-1"}).encode()),
        (good["household_id"].encode(), json.dumps(invalid).encode()),
    ]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    for key, value in poison:
        producer.send(topic, key=key, value=value, headers=[("position", b"0")])
    producer.flush()
    producer.close()

    bad, flaky = "H-D-000001", "H-D-000002"
    group = unique_group("picky")
    runner = runner_for(Picky(bad, flaky), kafka_settings, group=group, backoff_initial=0.05)
    bad_events = [e for _, e in feed if e.household_id == bad]
    expected_dead = len(poison) + len(bad_events)
    try:
        runner.run(threading.Event(),
                   idle=lambda: runner.stats.applied_total + runner.stats.dead_letters_total
                   >= len(feed) + len(poison))
        assert runner.stats.dead_letters_total == expected_dead
        assert runner.stats.retries_total >= 1
        applied = {r[0] for r in collected(runner)}
        assert applied == {e.event_id for _, e in feed if e.household_id != bad}
        assert len(collected(runner)) == len(applied)
    finally:
        runner.close()

    dead = broker.read_all(topic + ".dlq", expect=expected_dead)
    assert len(dead) == expected_dead
    kinds = sorted(dict(r.headers)["dlq.kind"].decode() for r in dead)
    assert kinds == sorted(["decode", "schema", "schema", "schema"] + ["handler"] * len(bad_events))
    for record in dead:
        headers = dict(record.headers)
        assert headers["dlq.reason"] and headers["dlq.subscriber"] == b"picky"
        assert headers["dlq.topic"] == topic.encode() and int(headers["dlq.offset"]) >= 0
    reasons = b" ".join(dict(r.headers)["dlq.reason"] for r in dead).decode()
    assert "undecodable JSON" in reasons and "cannot map household" in reasons and "division_code" in reasons
    assert {r.value for r in dead} >= {value for _, value in poison}

    listed = CliRunner().invoke(app, ["consume", "dead-letters", "--subscriber", "picky"],
                                env={"POVREG_DATABASE_URL": kafka_settings.database_url})
    assert listed.exit_code == 0, listed.output
    assert len(json.loads(listed.output)) == expected_dead

    # Offsets were committed after the effects: the group, once it has the partitions again,
    # finds nothing left to do.
    again = runner_for(Picky(bad, flaky), kafka_settings, group=group)
    try:
        polls = iter(range(100))
        again.run(threading.Event(), idle=lambda: bool(again.partitions) and next(polls) >= 5)
        assert again.stats.applied_total == 0 and again.stats.dead_letters_total == 0
        assert again.stats.duplicates_total == 0  # not even redelivered
    finally:
        again.close()
