"""The Kafka benches' broker and topics, and their baseline: the naive relay (send and wait for each)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from consumers.messages import POSITION_HEADER, value_from_notification
from consumers.producer import producer_settings
from consumers.restatements import restatement_topic
from service.feed import HOUSEHOLD_TOPIC_PREFIX
from service.registry import Registry

PARTITIONS = 4


@contextmanager
def broker() -> Iterator[str]:
    """A broker's bootstrap address: POVREG_KAFKA_BOOTSTRAP, or a Tansu of our own."""
    bootstrap = os.environ.get("POVREG_KAFKA_BOOTSTRAP")
    if bootstrap:
        yield bootstrap
        return
    from tests.kafka_broker import TansuBroker

    with TansuBroker() as tansu:
        yield tansu.bootstrap


def new_topic(bootstrap: str, partitions: int = PARTITIONS, restatements: bool = False, pii: bool = False) -> str:
    """A fresh topic (and, with ``restatements``, its ``.restatements`` topic, as deployed; with ``pii``,
    ``<topic>.pii``, the personal-data topic the projection consumers read)."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    name = f"bench-household-events-{uuid.uuid4().hex[:8]}"
    topics = [name, *([restatement_topic(name)] if restatements else []), *([f"{name}.pii"] if pii else [])]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=1) for t in topics])
    finally:
        admin.close()
    return name


class NaiveRelay:
    """The obvious relay: read the log, send each event and wait for its acknowledgement."""

    def __init__(self, registry: Registry, bootstrap: str, topic: str) -> None:
        from kafka import KafkaProducer

        self.registry = registry
        self.topic = topic
        self.producer = KafkaProducer(**producer_settings(registry.settings, bootstrap, {"linger_ms": 0}))
        self.position = 0

    def publish(self, limit: int | None = None, stop: threading.Event | None = None) -> int:
        """Publish what follows ``position`` (at most ``limit`` events); returns how many."""
        sent = 0
        page = self.registry.recorder.select_notifications(start=self.position + 1, limit=limit or 1000)
        for n in page:
            if n.topic.startswith(HOUSEHOLD_TOPIC_PREFIX):
                self.producer.send(self.topic, key=str(n.originator_id).encode(),
                                   value=value_from_notification(n, self.registry.mapper),
                                   headers=[(POSITION_HEADER, str(n.id).encode())]).get(timeout=30)
                sent += 1
            self.position = n.id
            if stop is not None and stop.is_set():
                break
        return sent

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.publish(stop=stop):
                stop.wait(0.05)

    def close(self) -> None:
        self.producer.close(timeout=5)
