"""The relay: store → Kafka (``povreg relay``).

The notification log is the outbox. The relay reads it after its own tracked
position, publishes every household event to the topic (key = household_id,
value = the feed item JSON, header ``position``) with kafka-python's producer,
``acks=all`` and idempotent wherever the broker supports it (sequence numbers
keep each partition in order, retries included), and records a position only once every event up to it was
acknowledged by the broker. The position lives in its own table in the store's
database (``povreg_relay_tracking``), so a restart — after kill -9, a crash or a
broker outage — resumes from the last acknowledged event: at-least-once, never
a gap. Events acknowledged but not yet recorded when the relay died are
published again; subscribers de-duplicate them by ``event_id`` (consumers/base.py).

Any producer failure (broker down, request timeout, an expired or rejected
message) drops the producer, waits with exponential backoff (with jitter), and
starts again from the last acknowledged position with a new producer.

Throughput: events are read a page at a time (``page_size``) and sent as they are
encoded, many pages in flight; each send returns a future, kept in log order with its
position, and the acknowledged position is the one before the oldest event still
unacknowledged (partitions answer independently, so a later event may be acknowledged
first). It is written at most every ``commit_interval`` seconds. Each event is decoded
once and its findings and restatements cost one fold step (consumers/encoding.py,
consumers/folds.py). The partition is computed here (Kafka's murmur2 of the key, cached
per household) because sharding needs it, and passed to the producer, which then skips
its partitioner. The producer's settings are in consumers/producer.py; the position and
the shards in consumers/tracking.py.

Scaling out: ``shard=(i, N)`` makes a relay publish only the partitions p with
p % N == i; N relays (i = 0 … N-1) each read the log and send their share in
parallel, each with its own tracking row. A household still has one partition,
hence one relay: its order holds.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bootstrap.settings import Settings
from consumers.clients import close_producer
from consumers.encoding import PageEncoder
from consumers.folds import rarer_collections
from consumers.messages import POSITION_HEADER
from consumers.person_ref import person_ref_key
from consumers.producer import (
    AckWindow,
    RelayConfigError,
    RelayError,
    Topics,
    check_compression,
    producer_settings,
    transient_errors,
)
from consumers.restatements import restatement_topic
from consumers.tracking import RelayTracking, parse_shard
from persistence.db import Database
from service.feed import HOUSEHOLD_TOPIC_PREFIX
from service.registry import Registry

log = logging.getLogger("povreg.relay")

__all__ = ["Relay", "RelayConfig", "RelayConfigError", "RelayError", "parse_shard"]


@dataclass
class RelayConfig:
    bootstrap: str
    topic: str = "household-events"
    #: the opt-in topic of full personal data (``POVREG_KAFKA_PII_TOPIC``): each event also goes there.
    pii_topic: str | None = None
    #: the tracking row's key: one row per relayed topic.
    name: str | None = None
    page_size: int = 5000
    #: events sent but not yet acknowledged before the relay waits for acks.
    max_pending: int = 50_000
    poll_interval: float = 0.05
    commit_interval: float = 0.5
    log_interval: float = 10.0
    flush_timeout: float = 5.0
    #: seconds between checks of the topic's partition count
    metadata_interval: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    #: kafka-python producer settings over the relay's own (``linger_ms``, ``compression_type``, …)
    producer: dict[str, Any] = field(default_factory=dict)
    #: (index, count): publish only the partitions p with p % count == index. Run one relay for each
    #: index 0 … count-1 to spread publishing over processes (each reads the log, sends its share).
    shard: tuple[int, int] | None = None
    #: publish restatements on ``<topic>.restatements`` (when that topic exists)
    restatements: bool = True
    #: seconds between checks that the restatements topic exists
    restatements_check_interval: float = 30.0

    @property
    def tracking_name(self) -> str:
        if self.name:
            return self.name
        if self.shard is not None:
            return f"{self.topic}#{self.shard[0]}/{self.shard[1]}"
        return self.topic


class Relay:
    """Publishes the notification log to Kafka; :meth:`run` until stopped."""

    def __init__(self, settings: Settings, config: RelayConfig, registry: Registry | None = None,
                 producer_factory: Callable[..., Any] | None = None) -> None:
        check_compression(config.producer.get("compression_type"))
        if config.shard is not None:
            parse_shard(f"{config.shard[0]}/{config.shard[1]}")
        self.settings = settings
        self.config = config
        self._own_registry = registry is None
        self.registry = registry or Registry(settings)
        self.db = Database(settings)
        self.tracking = RelayTracking(self.db, config.tracking_name, config.topic, config.shard)
        self.ref_key = person_ref_key(self.registry.settings, self.db)  # the store's key resolved
        #: each event's message, with the findings it opened or resolved and its restatements
        self.encoder = PageEncoder(self.registry, self.ref_key, full=config.pii_topic is not None)
        self.topics = Topics(settings, config.bootstrap, config.topic, config.metadata_interval,
                             config.restatements_check_interval if config.restatements else None)
        self.restatements_total = 0
        self._producer_factory = producer_factory
        self._producer: Any = None
        self._window = AckWindow()
        self.position, self.published_total = self.tracking.load()
        self.recorded_position = self.position
        self.read_position = self.position
        self.max_position = self.position
        self.started_at = time.time()
        self.failures_total = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.last_ack_at: float | None = None
        self.connected = False
        self._backoff = config.backoff_initial
        self._last_commit = time.monotonic()
        self._last_log = time.monotonic()
        self._last_max_check = 0.0
        self._last_progress = time.monotonic()
        self._log_published = self.published_total

    # ------------------------------------------------------------------ state

    @property
    def lag(self) -> int:
        """Notifications in the log that the relay has not yet had acknowledged."""
        return max(0, self.max_position - self.position)

    def stats(self) -> dict[str, Any]:
        return {
            "component": "relay",
            "topic": self.config.topic,
            "relay": self.config.tracking_name,
            # Unhealthy from a failure until the broker acknowledges again.
            "healthy": self.last_error_at is None or (self.last_ack_at or 0) > self.last_error_at,
            "connected": self.connected,
            "position": self.position,
            "recorded_position": self.recorded_position,
            "max_position": self.max_position,
            "lag": self.lag,
            "published_total": self.published_total,
            "failures_total": self.failures_total,
            "last_error": self.last_error,
            "seconds_since_last_error": (round(time.time() - self.last_error_at, 3)
                                         if self.last_error_at else None),
            "seconds_since_last_ack": round(time.time() - self.last_ack_at, 3) if self.last_ack_at else None,
            "uptime_seconds": round(time.time() - self.started_at, 3),
        }

    # --------------------------------------------------------------- producer

    def _new_producer(self) -> Any:
        from kafka import KafkaProducer
        from kafka.errors import KafkaConfigurationError

        config = producer_settings(self.settings, self.config.bootstrap, self.config.producer)
        factory = self._producer_factory or KafkaProducer
        try:
            producer = factory(**config)
        except (KafkaConfigurationError, ValueError, TypeError, AssertionError) as exc:
            raise RelayConfigError(f"the producer refuses its configuration: {exc}") from exc
        if not producer.config.get("enable_idempotence"):
            log.warning("relay: the broker does not support the idempotent producer; a retried batch may repeat "
                        "events (subscribers de-duplicate them)")
        return producer

    def _drop_producer(self, timeout: float | None = None) -> None:
        """Close the producer once what it was given is done (acknowledged, refused or expired), so that
        nothing of it reaches the broker after the next producer starts re-sending."""
        producer, self._producer = self._producer, None
        self.connected = False
        if producer is not None:
            if timeout is None:  # everything it holds completes within the delivery timeout
                timeout = producer.config.get("delivery_timeout_ms", 30_000) / 1000 + 5
            close_producer(producer, list(self._window.futures()), timeout)

    # ------------------------------------------------------------------- run

    def run(self, stop: threading.Event | None = None, until: int | None = None) -> None:
        """Relay until ``stop`` is set (or, with ``until``, until that position is acknowledged)."""
        stop = stop or threading.Event()
        log.info("relay starting at position %d → topic %s on %s", self.position, self.config.topic,
                 self.config.bootstrap)
        with rarer_collections():
            while not stop.is_set():
                try:
                    if self._session(stop, until):
                        break
                except RelayConfigError:
                    self._drop_producer(self.config.flush_timeout)
                    raise
                except transient_errors() as exc:
                    self._fail(exc)
                    delay = self._backoff * (0.5 + random.random())
                    self._backoff = min(self._backoff * 2, self.config.backoff_max)
                    log.warning("relay: retrying in %.1fs from position %d (lag %d)", delay, self.position,
                                self.lag)
                    stop.wait(delay)
        self._commit(force=True)
        # Stopping: what is still unacknowledged is re-sent by the next run; do not wait for it long.
        self._drop_producer(self.config.flush_timeout)
        log.info("relay stopped at position %d (lag %d, %d published)", self.position, self.lag,
                 self.published_total)

    def drain(self, timeout: float = 60.0) -> None:
        """Publish everything in the log now, then return (tests, benchmarks, one-shot runs)."""
        target = self.registry.recorder.max_notification_id() or 0
        stop = threading.Event()
        timer = threading.Timer(timeout, stop.set)
        timer.start()
        try:
            self.run(stop, until=target)
        finally:
            timer.cancel()
        if self.position < target:
            raise RelayError(f"relay reached position {self.position}, not {target}, within {timeout}s")

    def _fail(self, exc: BaseException) -> None:
        self.failures_total += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.last_error_at = time.time()
        log.error("relay: publishing failed at position %d (lag %d): %s", self.position, self.lag,
                  self.last_error)
        self._drop_producer()
        self._update_max(force=True)

    def _session(self, stop: threading.Event, until: int | None) -> bool:
        """One producer's life; returns True when done (``until`` reached), raises on any failure."""
        cfg = self.config
        self.read_position = self.position  # read again from what the broker acknowledged
        self._window = window = AckWindow()
        self._producer = producer = self._new_producer()
        self.topics.refresh(producer, force=True)
        self.connected = True
        self._last_progress = time.monotonic()
        recorder = self.registry.recorder
        next_start = self.position + 1
        while not stop.is_set():
            page: Sequence[Any] = []
            if len(window) < cfg.max_pending:
                page = recorder.select_notifications(start=next_start, limit=cfg.page_size)
            if page:
                self.topics.refresh(producer)
                self._send(producer, page)
                next_start = page[-1].id + 1
                self.read_position = page[-1].id
                self.max_position = max(self.max_position, self.read_position)
            elif len(window):
                self._wait_for_acks(producer)
            else:
                self._update_max()
                if until is not None and self.position >= until:
                    self._commit(force=True)
                    return True
                self._commit()
                stop.wait(cfg.poll_interval)
            self._advance()
            self._commit()
            self._update_max()
            self._maybe_log()
        # Stopping: give in-flight events a last chance to be acknowledged.
        if len(window):
            from kafka.errors import KafkaTimeoutError

            try:
                producer.flush(timeout=cfg.flush_timeout)
            except KafkaTimeoutError:
                log.warning("relay: %d events not acknowledged at shutdown; they will be re-sent", len(window))
        with contextlib.suppress(RelayError):
            self._advance()
        return True

    def _send(self, producer: Any, page: Sequence[Any]) -> None:
        """Send the page's household events of this relay's partitions, each followed by its
        restatements (keyed by household: in order per household); note each as unacknowledged."""
        shard_index, shard_count = self.config.shard or (0, 1)
        mine: list[tuple[Any, bytes, int]] = []
        for n in page:
            if not n.topic.startswith(HOUSEHOLD_TOPIC_PREFIX):
                continue
            key = n.originator_id.encode()
            partition = self.topics.partition(key)
            if shard_count == 1 or partition % shard_count == shard_index:
                mine.append((n, key, partition))
        if not mine:
            return
        restating = self.topics.restating
        encoded = self.encoder.encode([n for n, _, _ in mine], restating=restating)
        topic, pii_topic, send, sent = self.config.topic, self.config.pii_topic, producer.send, self._window.sent
        restated_topic = restatement_topic(topic)
        for (n, key, partition), values in zip(mine, encoded, strict=True):
            headers = [(POSITION_HEADER, str(n.id).encode())]
            futures = [send(topic, values.masked, key, headers, partition)]
            if pii_topic is not None:  # the same key: the default partitioner puts the household there too
                futures.append(send(pii_topic, values.full, key, headers))
            if values.restatements:
                futures += [send(restated_topic, value, key, headers) for value in values.restatements]
                self.restatements_total += len(values.restatements)
            sent(n.id, *futures)

    def _wait_for_acks(self, producer: Any) -> None:
        """Send what is lingering now and wait a little for acknowledgements (the loop comes back here
        until they arrive, watching ``stop`` in between)."""
        from kafka.errors import KafkaTimeoutError

        try:
            producer.flush(timeout=min(self.config.flush_timeout, 0.1))
        except KafkaTimeoutError:
            stalled = time.monotonic() - self._last_progress
            if stalled >= self.config.flush_timeout and self.connected:  # the broker is slow or gone
                self.connected = False
                self.last_error = f"no acknowledgement from the broker within {self.config.flush_timeout}s"
                self.last_error_at = time.time()
                self._update_max(force=True)
                log.warning("relay: waiting for the broker (position %d, lag %d)", self.position, self.lag)

    def _advance(self) -> None:
        """Move the acknowledged position up to the first event still unacknowledged (or all read)."""
        acked = self._window.advance()
        if acked:  # the broker answered: healthy again
            self.published_total += acked
            self.last_ack_at = time.time()
            self._last_progress = time.monotonic()
            self.connected = True
            self._backoff = self.config.backoff_initial
        self.position = max(self.position, self._window.acknowledged_through(self.read_position))

    def _commit(self, force: bool = False) -> None:
        if self.position == self.recorded_position:
            return
        now = time.monotonic()
        if force or now - self._last_commit >= self.config.commit_interval:
            self.tracking.save(self.position, self.published_total)
            self.recorded_position = self.position
            self._last_commit = now

    def _update_max(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_max_check >= 0.2:
            self._last_max_check = now
            try:
                self.max_position = max(self.registry.recorder.max_notification_id() or 0, self.read_position)
            except Exception:
                log.debug("max_notification_id failed", exc_info=True)

    def _maybe_log(self) -> None:
        now = time.monotonic()
        elapsed = now - self._last_log
        if elapsed >= self.config.log_interval:
            self._update_max(force=True)
            rate = (self.published_total - self._log_published) / elapsed
            log.info("relay: position %d, max %d, lag %d, %.0f events/s", self.position, self.max_position,
                     self.lag, rate)
            self._last_log = now
            self._log_published = self.published_total

    def close(self) -> None:
        self._drop_producer(self.config.flush_timeout)
        self.db.close()
        if self._own_registry:
            self.registry.close()
