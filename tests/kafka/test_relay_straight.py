"""The relay's messages, byte for byte, equal a straight computation from each household's whole
history (tests/kafka/reference.py): on the household topic, the personal-data topic and the
restatements topic, for a simulated county with late recordings, corrections, retractions and
findings opened and resolved."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bootstrap.settings import Settings
from consumers.relay import Relay, RelayConfig
from consumers.restatements import restatement_topic
from service.registry import Registry
from simulation import SimClock
from tests.kafka.conftest import PARTITIONS, with_pii_topic
from tests.kafka.reference import county_with_findings, expected
from tests.kafka_broker import TansuBroker

pytestmark = [pytest.mark.kafka]


@pytest.fixture
def county(kafka_settings: Settings) -> Iterator[Registry]:
    clock = SimClock()
    registry = Registry(kafka_settings, clock=clock)
    county_with_findings(registry, clock)
    yield registry
    registry.close()


def values_by_position(broker: TansuBroker, topic: str, expect: int) -> dict[int, list[bytes]]:
    out: dict[int, list[bytes]] = {}
    records = broker.read_all(topic, timeout=60, expect=expect)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        out.setdefault(int(dict(record.headers)["position"]), []).append(record.value)
    return out


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
