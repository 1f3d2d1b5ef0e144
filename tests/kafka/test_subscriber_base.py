"""The subscriber base without a broker: redelivery, out-of-order copies and retries, record by record.

The runner's ``process`` is what runs for each chunk a poll returns; here the
chunks are built by hand, so each delivery pattern the broker can produce
(at-least-once duplicates, a copy ahead of its predecessor after a relay
failure, a database that fails for a while) is exercised exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from bootstrap.settings import Settings
from consumers.base import Record, RetryableError, SubscriberRunner
from consumers.messages import FeedMessage, encode_value
from domain.feed import feed_item
from persistence.db import Tx
from service.registry import Registry
from tests.kafka.conftest import Collector, collected
from tests.kafka.workload import StepClock, setup_divisions, write_households

TOPIC = "household-events"


@pytest.fixture
def feed(settings: Settings) -> Iterator[list[tuple[int, Any]]]:
    clock = StepClock()
    registry = Registry(settings, clock=clock)
    try:
        setup_divisions(registry, clock)
        write_households(registry, clock, "U", 6)
        yield registry.feed(0, 10_000)
    finally:
        registry.close()


def records(feed: list[tuple[int, Any]], first_offset: int = 0) -> list[Record]:
    """The feed as one partition's records (the partition does not matter to the base)."""
    return [Record(TOPIC, 0, first_offset + i, event.household_id.encode(), encode_value(feed_item(p, event)))
            for i, (p, event) in enumerate(feed)]


def runner(subscriber: Any, settings: Settings) -> SubscriberRunner:
    # No broker: ``process`` only needs one for dead letters, which these tests do not produce.
    return SubscriberRunner(subscriber, settings, bootstrap="127.0.0.1:9", topic=TOPIC, backoff_initial=0.01,
                            backoff_max=0.05)


def test_redelivered_records_are_applied_once(settings: Settings, feed: list[tuple[int, Any]]) -> None:
    r = runner(Collector(), settings)
    try:
        chunk = records(feed)
        assert r.process(chunk[:30])
        assert r.process(chunk)  # a redelivery overlapping what was applied (offsets not committed)
        assert r.process(chunk[10:40])
        rows = collected(r)
        assert [row[0] for row in rows] == [e.event_id for _, e in feed]
        assert r.stats.applied_total == len(feed)
        assert r.stats.duplicates_total == 30 + len(chunk[10:40])
    finally:
        r.close()


def test_a_copy_ahead_of_its_predecessor_waits_for_the_resent_one(settings: Settings,
                                                                  feed: list[tuple[int, Any]]) -> None:
    """After a failed batch the relay re-publishes from its last acknowledged position, so a partition may
    hold v1, v3, v2, v3: v3's first copy is deferred, the re-sent v2 and v3 are applied in order."""
    household = feed[0][1].household_id
    own = [(p, e) for p, e in feed if e.household_id == household]
    v1, v2, v3 = own[:3]
    r = runner(Collector(), settings)
    try:
        assert r.process(records([v1, v3, v2, v3]))
        assert [row[2] for row in collected(r)] == [1, 2, 3]
        assert r.stats.deferred_total == 1 and r.stats.applied_total == 3
    finally:
        r.close()


class Flaky(Collector):
    """The subscriber's own system is down for the first ``failures`` attempts."""

    name = "flaky"

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def handle_batch(self, messages: Sequence[FeedMessage], tx: Tx) -> None:
        super().handle_batch(messages, tx)  # written, then rolled back with the failure
        if self.failures:
            self.failures -= 1
            raise RetryableError("the civil-affairs database is restarting")


def test_retryable_failures_roll_back_and_retry(settings: Settings, feed: list[tuple[int, Any]]) -> None:
    r = runner(Flaky(failures=3), settings)
    try:
        assert r.process(records(feed))
        assert r.stats.retries_total == 3
        assert [row[0] for row in collected(r)] == [e.event_id for _, e in feed]  # once, not four times
    finally:
        r.close()
