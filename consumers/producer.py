"""The relay's Kafka side (kafka-python): the producer's settings, the window of events sent and not yet
acknowledged (which decides the position the relay may record), and what the relay knows of its
topics (each household's partition, whether the restatements topic exists)."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bootstrap.settings import Settings
from consumers.clients import client_config
from consumers.restatements import restatement_topic
from persistence.db import transient_db_errors

log = logging.getLogger("povreg.relay")


class RelayError(RuntimeError):
    pass


class RelayConfigError(RelayError):
    """A configuration the producer refuses: retrying cannot help."""


def transient_errors() -> tuple[type[BaseException], ...]:
    """What the relay waits out and retries: the broker's and the database's failures. Anything else
    is a bug or a misconfiguration, and stops the relay (its supervisor restarts it, visibly)."""
    from eventsourcing.persistence import InterfaceError, OperationalError
    from kafka.errors import KafkaError

    return (KafkaError, RelayError, OSError, InterfaceError, OperationalError, *transient_db_errors())


def murmur2_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (the Java client's, and the consumers')."""
    from kafka.partitioner.default import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % partitions


COMPRESSION_CODECS = ("none", "gzip", "snappy", "lz4", "zstd")


def check_compression(codec: str | None) -> None:
    """Refuse an unknown codec, or one whose library is missing, before anything is written
    (kafka-python would refuse it only when the producer is built)."""
    if codec in (None, "none"):
        return
    from kafka import codec as codecs

    available = {"gzip": codecs.has_gzip, "snappy": codecs.has_snappy, "lz4": codecs.has_lz4,
                 "zstd": codecs.has_zstd}
    if codec not in available:
        raise RelayConfigError(f"unknown compression {codec!r}: {', '.join(COMPRESSION_CODECS)}")
    if not available[codec]():
        raise RelayConfigError(f"compression {codec!r} needs its library (pip install 'kafka-python[{codec}]')")


def producer_settings(settings: Settings, bootstrap: str | None = None,
                      overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The relay's kafka-python producer configuration (``overrides`` use kafka-python's names)."""
    config: dict[str, Any] = {
        **client_config(settings, bootstrap),
        "client_id": "povreg-relay",
        # Every replica in sync acknowledges. Idempotence is kafka-python's default: on wherever the broker
        # supports it (InitProducerId), so each partition stays in order across retries with up to 5 requests
        # in flight (a retried batch cannot overtake a later one).
        "acks": "all",
        # Measured on the benchmark's county (docs/kafka.md): kafka-python's cost is per record, and
        # 64 KiB batches after 5 ms beat 1 MiB after 50 ms (less copying, the sender busy sooner).
        "linger_ms": 5,
        "batch_size": 64 * 1024,
        "max_request_size": 8 * 1024 * 1024,
        # The client's own sensors cost Python per record; the relay's figures are on its metrics endpoint.
        "metrics_enabled": False,
        # The topic and its partition count are the deployment's choice: never created by a send.
        "allow_auto_create_topics": False,
        "request_timeout_ms": 10_000,
        "delivery_timeout_ms": 30_000,
        "max_block_ms": 10_000,
        # The partition count is read from the client's metadata: refresh it often enough to see a change.
        "metadata_max_age_ms": 5_000,
        "reconnect_backoff_ms": 100,
        "reconnect_backoff_max_ms": 2_000,
    }
    config.update(overrides or {})
    if config.get("compression_type") == "none":
        config["compression_type"] = None
    return config


class AckWindow:
    """The events sent and not yet acknowledged, in log order, each with its send futures.

    Partitions are acknowledged independently, so a later event may be acknowledged before an
    older one of another partition: the acknowledged position moves only past events whose every
    future (and every older event's) succeeded.
    """

    def __init__(self) -> None:
        self.pending: deque[tuple[int, tuple[Any, ...]]] = deque()

    def __len__(self) -> int:
        return len(self.pending)

    def sent(self, position: int, *futures: Any) -> None:
        self.pending.append((position, futures))

    def futures(self) -> Iterator[Any]:
        for _, futures in self.pending:
            yield from futures

    def advance(self) -> int:
        """Drop the leading acknowledged events; how many. Raises :class:`RelayError` on a failed one."""
        pending, done = self.pending, 0
        while pending:
            position, futures = pending[0]
            for future in futures:
                if not future.is_done:
                    return done
                if future.failed():
                    raise RelayError(f"the event at position {position} was not acknowledged: {future.exception!r}")
            pending.popleft()
            done += 1
        return done

    def acknowledged_through(self, read_position: int) -> int:
        """The last position up to which every event sent is acknowledged (``read_position``, the last
        one read, when nothing is outstanding)."""
        return self.pending[0][0] - 1 if self.pending else read_position


@dataclass
class Topics:
    """What the relay knows of its topics: each household's partition (Kafka's murmur2 of the key, for
    the partition count the producer's metadata knows, read at most every ``metadata_interval`` s)
    and whether ``<topic>.restatements`` exists (asked of the broker at most every
    ``restatements_interval`` s; None: restatements are off)."""

    settings: Settings
    bootstrap: str
    topic: str
    metadata_interval: float
    restatements_interval: float | None
    #: publish restatements: they are on and their topic exists
    restating: bool = field(default=False, init=False)
    _partitions: dict[bytes, int] = field(default_factory=dict, init=False)
    _partition_count: int = field(default=0, init=False)
    _partitions_checked: float = field(default=0.0, init=False)
    _restating_checked: float = field(default=0.0, init=False)

    def partition(self, key: bytes) -> int:
        part = self._partitions.get(key)
        if part is None:
            part = self._partitions[key] = murmur2_partition(key, self._partition_count)
        return part

    def refresh(self, producer: Any, force: bool = False) -> None:
        """Read the partition count again if it is due (the producer refreshes its metadata every
        ``metadata_max_age_ms``), and whether the restatements topic exists if that is due."""
        now = time.monotonic()
        if not force and now - self._partitions_checked < self.metadata_interval:
            return
        topic = self.topic
        parts = producer.partitions_for(topic)  # waits up to max_block_ms for the first metadata
        count = len(parts) if parts else 0
        if count == 0:
            raise RelayError(f"no partitions for topic {topic}")
        self._partitions_checked = now
        if count != self._partition_count:
            if self._partition_count:
                log.warning("topic %s now has %d partitions (was %d)", topic, count, self._partition_count)
            self._partition_count = count
            self._partitions.clear()
        interval = self.restatements_interval
        if interval is not None and (force or now - self._restating_checked >= interval):
            self._check_restatement_topic(now)

    def _check_restatement_topic(self, now: float) -> None:
        """Asked of the broker: the producer would wait its ``max_block_ms`` for a topic that does not exist."""
        from kafka import KafkaAdminClient

        name = restatement_topic(self.topic)
        admin = KafkaAdminClient(**client_config(self.settings, self.bootstrap),
                                 client_id="povreg-relay-admin", request_timeout_ms=10_000)
        try:
            exists = name in admin.list_topics()
        finally:
            admin.close()
        self._restating_checked = now
        if exists != self.restating:
            if not exists:
                log.warning("topic %s does not exist: restatements are not published (create it)", name)
            self.restating = exists
