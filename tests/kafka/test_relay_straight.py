"""The relay's messages, byte for byte, equal a straight computation from each household's whole
history (tests/kafka/reference.py): on the household topic, the personal-data topic and the
restatements topic, for a simulated county with late recordings, corrections, retractions and
findings opened and resolved — end to end through the broker, and however the relay reads the log
(page sizes, a start mid-log, caches too small to keep anything, restatements off)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bootstrap.settings import Settings
from consumers.encoding import PageEncoder
from consumers.folds import HouseholdFolds
from consumers.relay import Relay, RelayConfig
from consumers.restatements import restatement_topic
from service.feed import HOUSEHOLD_TOPIC_PREFIX
from service.registry import Registry
from simulation import SimClock
from tests.kafka.conftest import PARTITIONS, with_pii_topic
from tests.kafka.reference import county_with_findings, expected
from tests.kafka_broker import TansuBroker


@pytest.fixture
def county(database_url: str) -> Iterator[Registry]:
    clock = SimClock()
    registry = Registry(Settings(database_url=database_url, inline_projections=False), clock=clock)
    county_with_findings(registry, clock)
    yield registry
    registry.close()


def values_by_position(broker: TansuBroker, topic: str, expect: int) -> dict[int, list[bytes]]:
    out: dict[int, list[bytes]] = {}
    records = broker.read_all(topic, timeout=60, expect=expect)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        out.setdefault(int(dict(record.headers)["position"]), []).append(record.value)
    return out


@pytest.mark.kafka
def test_the_relay_publishes_what_the_histories_say(county: Registry, kafka_settings: Settings,
                                                    broker: TansuBroker, topic: str) -> None:
    settings = with_pii_topic(broker, kafka_settings)
    broker.create_topic(restatement_topic(topic), PARTITIONS)
    relay = Relay(settings, RelayConfig(bootstrap=broker.bootstrap, topic=topic, pii_topic=settings.kafka_pii_topic,
                                        page_size=97))
    try:
        relay.drain(timeout=300)
        want = expected(county, relay.ref_key)
    finally:
        relay.close()
    assert any(b'"findings"' in value for value in want.masked.values())
    restated = want.restatement_values()
    assert any(b'"finding":{' in value for value in restated) and any(b'"finding":null' in v for v in restated)

    assert values_by_position(broker, topic, len(want.masked)) == {p: [v] for p, v in want.masked.items()}
    assert values_by_position(broker, settings.kafka_pii_topic or "", len(want.full)) == {
        p: [v] for p, v in want.full.items()}
    published = values_by_position(broker, restatement_topic(topic), len(restated))
    assert published == {p: values for p, values in want.restatements.items() if values}


#: (page size, tracks kept, histories kept, from the middle of the log, restating)
READINGS = [
    (5000, 200_000, 50_000, False, True),
    (13, 5, 2, False, True),  # households evicted all the time: their histories read again
    (97, 200_000, 50_000, True, True),  # a relay started (or re-started) mid-log
    (97, 3, 1, True, True),
    (50, 200_000, 50_000, False, False),  # no restatements topic: only what the findings need is folded
    (7, 4, 2, True, False),
]


def test_however_the_log_is_read_the_values_are_the_same(county: Registry) -> None:
    want = expected(county, b"k")
    every = [n for n in county.recorder.select_notifications(start=1, limit=100_000)
             if n.topic.startswith(HOUSEHOLD_TOPIC_PREFIX)]
    for reading in READINGS:
        page, tracks, histories, from_middle, restating = reading
        events = every[len(every) // 2:] if from_middle else every
        encoder = PageEncoder(county, b"k", full=True, folds=HouseholdFolds(county, tracks=tracks, histories=histories))
        for i in range(0, len(events), page):
            chunk = events[i:i + page]
            for n, values in zip(chunk, encoder.encode(chunk, restating=restating), strict=True):
                assert (values.masked, values.full) == (want.masked[n.id], want.full[n.id]), (reading, n.id)
                assert values.restatements == (want.restatements[n.id] if restating else []), (reading, n.id)
