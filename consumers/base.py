"""The subscriber base: topic → your database, each event applied exactly once.

Write a subscriber in a few lines::

    class Arrivals(Subscriber):
        name = "arrivals"
        tables = ("CREATE TABLE IF NOT EXISTS arrivals (household_id TEXT PRIMARY KEY, division TEXT)",)

        def handle(self, message: FeedMessage, tx: Tx) -> None:
            if message.type == "IdentificationProposed":
                tx.execute("INSERT INTO arrivals VALUES (?, ?)",
                           (message.household_id, message.event.body.division_code))

    SubscriberRunner(Arrivals(), settings).run()

What the runner guarantees (docs/kafka.md: delivery is at least once):

- **Consumer group**: run as many copies as the topic has partitions; the group
  splits the partitions between them.
- **Exactly-once effect**: ``handle`` runs inside a database transaction that
  also records the event (``povreg_consumer_applied``: subscriber, event_id,
  household, version, position). A redelivered event is found there and
  skipped; the offsets are committed to Kafka only after that transaction
  committed. A crash anywhere means redelivery, never a double effect. On
  PostgreSQL the transaction first takes an advisory lock on (subscriber,
  partition), so two members of a group that briefly both hold a partition
  during a rebalance apply its records one after the other, and the second
  sees the first one's de-duplication rows.
- **Order per household**: a household's events arrive in version order on
  one partition. An event whose version is already applied is a duplicate. An
  event that arrives ahead of an earlier version of its household (possible only
  after a relay failure, which then re-publishes the earlier events *and* it
  again) is deferred: logged, counted, not applied now — its re-published copy
  is applied in order.
- **Poison messages** (undecodable JSON, not a feed item, an invalid event, or
  ``handle`` raising a non-retryable error) go to ``<topic>.dlq`` with the
  original key, value and headers plus ``dlq.reason``, ``dlq.kind``,
  ``dlq.subscriber``, ``dlq.topic``, ``dlq.partition``, ``dlq.offset``; the
  dead letter is also recorded in ``povreg_consumer_dead_letters``. Never a
  silent skip.
- **Retryable errors** (database locked or gone, broker unavailable for the
  dead-letter topic, or :class:`RetryableError` raised by ``handle``) roll the
  transaction back and retry it with exponential backoff, for as long as it
  takes.

This module is the runner: the consumer group, the poll, retry and commit loop, the lag
and the dead-letter topic. What it composes lives apart: :mod:`consumers.subscriber`
(what you write), :mod:`consumers.applying` (a chunk applied in one transaction),
:mod:`consumers.dedupe` (each event once), :mod:`consumers.dead_letters` (poison messages
recorded) and :mod:`consumers.retry` (the backoff).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from bootstrap.settings import Settings
from consumers import dead_letters, dedupe
from consumers.applying import Applier
from consumers.clients import client_config, close_producer
from consumers.dead_letters import DEAD_LETTER_TABLE, DeadLetter
from consumers.restatements import restatement_topic
from consumers.retry import Backoff
from consumers.subscriber import Record, RetryableError, Stats, Subscriber
from persistence.db import Database, transient_db_errors

log = logging.getLogger("povreg.consumers")

#: The runner's own tables: what was applied, and what was dead-lettered.
BASE_TABLES = (*dedupe.TABLES, *dead_letters.TABLES)



class SubscriberRunner:
    """Consumes the topic with a group and applies each event to ``subscriber`` exactly once."""

    def __init__(
        self,
        subscriber: Subscriber,
        settings: Settings,
        bootstrap: str | None = None,
        topic: str | None = None,
        group: str | None = None,
        db: Database | None = None,
        chunk_size: int = 500,
        session_timeout_ms: int = 10_000,
        consumer_config: dict[str, Any] | None = None,
        backoff_initial: float = 0.2,
        backoff_max: float = 30.0,
    ) -> None:
        self.subscriber = subscriber
        self.settings = settings
        self.bootstrap = bootstrap or settings.kafka_bootstrap
        self.topic = topic or settings.kafka_topic
        self.dlq_topic = f"{self.topic}.dlq"
        self.restatement_topic = restatement_topic(self.topic)
        self.group = group or f"povreg-{subscriber.name}"
        self.db = db or Database(settings)
        self.chunk_size = chunk_size
        self.session_timeout_ms = session_timeout_ms
        self.consumer_config = consumer_config or {}
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stats = Stats()
        #: the partitions this member holds and its lag after the last poll (snapshots for other threads).
        self.partitions: tuple[int, ...] = ()
        self.lag: int | None = None
        #: per partition, the offset after the last record applied in the current assignment
        self._next_offsets: dict[Any, int] = {}
        self.consumer: Any = None
        self._dlq_producer: Any = None
        self._dlq_futures: list[Any] = []
        self._retryable: tuple[type[BaseException], ...] = (RetryableError, *transient_db_errors())
        #: applies a chunk in one transaction (consumers/applying.py)
        self.applier = Applier(subscriber, self.db, self.stats, self._retryable, self._send_dead_letters,
                               self.dlq_topic, self.restatement_topic)
        self.db.ddl(*BASE_TABLES)
        subscriber.setup(self.db)

    # ------------------------------------------------------------------ kafka

    def consumer_settings(self) -> dict[str, Any]:
        """The kafka-python consumer's configuration (connection, TLS and SASL from the settings)."""
        config: dict[str, Any] = {
            **client_config(self.settings, self.bootstrap),
            "group_id": self.group,
            "client_id": f"povreg-{self.subscriber.name}",
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "session_timeout_ms": self.session_timeout_ms,
            "heartbeat_interval_ms": max(500, self.session_timeout_ms // 4),
            "max_poll_records": self.chunk_size * 4,
            "max_poll_interval_ms": 600_000,
            "max_partition_fetch_bytes": 4 * 1024 * 1024,
            "request_timeout_ms": 30_000,
            "reconnect_backoff_max_ms": 2_000,
        }
        config.update(self.consumer_config)
        return config

    def dead_letter_settings(self) -> dict[str, Any]:
        """The dead-letter producer's configuration (connection, TLS and SASL from the settings)."""
        return {**client_config(self.settings, self.bootstrap), "acks": "all",
                "client_id": f"povreg-{self.subscriber.name}-dlq", "request_timeout_ms": 10_000,
                "delivery_timeout_ms": 30_000, "max_block_ms": 10_000}

    def _consumer(self) -> Any:
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(**self.consumer_settings())
        consumer.subscribe([self.topic, *([self.restatement_topic] if self.subscriber.restatements else [])])
        return consumer

    def _dlq(self) -> Any:
        if self._dlq_producer is None:
            from kafka import KafkaProducer

            self._dlq_producer = KafkaProducer(**self.dead_letter_settings())
        return self._dlq_producer

    def _measure_lag(self) -> int | None:
        """Messages on the assigned partitions not yet applied: the high watermarks of the last fetches
        minus where this member got to (the client's fetch position before anything was applied)."""
        consumer = self.consumer
        if consumer is None:
            return None
        total = 0
        try:
            for tp in consumer.assignment():
                high = consumer.highwater(tp)
                at = self._next_offsets.get(tp)
                if at is None:  # nothing applied yet in this assignment: where the client will fetch from
                    at = consumer.position(tp, timeout_ms=0)
                if high is None or at is None:
                    return None
                total += max(0, high - at)
        except Exception:  # a metric, not a reason to fail
            return None
        return total

    def stats_dict(self) -> dict[str, Any]:
        s = self.stats
        assigned = list(self.partitions)
        return {
            "component": "subscriber",
            "subscriber": self.subscriber.name,
            "group": self.group,
            "topic": self.topic,
            "healthy": s.last_error is None,
            "assigned_partitions": assigned,
            "lag": self.lag,
            "applied_total": s.applied_total,
            "restatements_total": s.restatements_total,
            "duplicates_total": s.duplicates_total,
            "deferred_total": s.deferred_total,
            "dead_letters_total": s.dead_letters_total,
            "retries_total": s.retries_total,
            "last_applied_position": s.last_applied_position,
            "last_error": s.last_error,
        }

    # -------------------------------------------------------------------- run

    def run(self, stop: threading.Event | None = None, idle: Callable[[], bool] | None = None) -> None:
        """Consume until ``stop`` is set (or ``idle()`` returns True after an empty poll)."""
        from kafka.structs import OffsetAndMetadata

        stop = stop or threading.Event()
        self.consumer = self._consumer()
        log.info("%s: consuming %s as group %s", self.subscriber.name, self.topic, self.group)
        try:
            while not stop.is_set():
                try:
                    polled = self.consumer.poll(timeout_ms=200)
                except Exception as exc:  # broker trouble: the client reconnects
                    self.stats.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("%s: poll failed: %s", self.subscriber.name, exc)
                    stop.wait(1.0)
                    continue
                self.stats.last_error = None
                self._observe()
                if not polled:
                    if idle is not None and idle():
                        break
                    continue
                for tp, polled_records in polled.items():
                    records = self._unseen(tp, polled_records)
                    for start in range(0, len(records), self.chunk_size):
                        chunk = records[start:start + self.chunk_size]
                        if not self.process(chunk, stop):
                            break  # stopping: uncommitted records are redelivered later
                        self._next_offsets[tp] = chunk[-1].offset + 1
                        try:
                            self.consumer.commit({tp: OffsetAndMetadata(chunk[-1].offset + 1, None, -1)})
                        except Exception as exc:  # rebalanced away: the new owner de-duplicates
                            self.stats.last_error = f"offset commit failed: {exc}"
                            log.warning("%s: offset commit failed (%s); records will be redelivered and "
                                        "de-duplicated", self.subscriber.name, exc)
                    if stop.is_set():
                        break
                self.lag = self._measure_lag()
        finally:
            self.close_kafka()

    def _unseen(self, tp: Any, records: Sequence[Any]) -> Sequence[Any]:
        """Drop records at offsets this member already applied in its current assignment (a client or
        broker that hands the same offsets out again); later copies of an event at new offsets are
        the de-duplication's business."""
        floor = self._next_offsets.get(tp)
        if floor is None or not records or records[0].offset >= floor:
            return records
        log.warning("%s: %s[%d]: the client returned offsets from %d again (applied up to %d); skipping them",
                    self.subscriber.name, tp.topic, tp.partition, records[0].offset, floor - 1)
        return [r for r in records if r.offset >= floor]

    def _observe(self) -> None:
        """Snapshot the assignment and the lag for the metrics endpoint and observers."""
        try:
            partitions = tuple(sorted(tp.partition for tp in self.consumer.assignment()))
        except Exception:  # a snapshot for observers, not a reason to fail
            return
        if partitions != self.partitions:
            log.info("%s: assigned partitions %s of %s", self.subscriber.name, list(partitions), self.topic)
            self.partitions = partitions
            self._next_offsets.clear()  # a new assignment starts from the committed offsets
        self.lag = self._measure_lag()

    def close_kafka(self) -> None:
        if self.consumer is not None:
            try:
                self.consumer.close(autocommit=False)
            except Exception:
                log.debug("closing the consumer", exc_info=True)
            self.consumer = None
            self.partitions = ()
            self.lag = None
            self._next_offsets.clear()
        self._reset_dlq()

    def close(self) -> None:
        self.close_kafka()
        self.db.close()

    # -------------------------------------------------------------- applying

    def process(self, records: Sequence[Any], stop: threading.Event | None = None) -> bool:
        """Apply one partition's consecutive records; retried with backoff until done.

        Returns False if ``stop`` was set before the records could be applied.
        """
        backoff = Backoff(self.backoff_initial, self.backoff_max)
        while True:
            try:
                self.applier.apply(records)
                self.stats.batches_total += 1
                return True
            except self._retryable as exc:
                self.subscriber.rolled_back()
                self._note_retry(exc)
            except Exception as exc:
                self.subscriber.rolled_back()
                from kafka.errors import KafkaError

                if not isinstance(exc, KafkaError):
                    raise
                self._note_retry(exc)
                self._reset_dlq()
            if not backoff.wait(stop):
                return False

    def _note_retry(self, exc: BaseException) -> None:
        self.stats.retries_total += 1
        self.stats.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("%s: retrying after %s", self.subscriber.name, self.stats.last_error)

    def _reset_dlq(self) -> None:
        """Close the dead-letter producer once what it was sent is done (sent or failed)."""
        if self._dlq_producer is not None:
            close_producer(self._dlq_producer, self._dlq_futures)
            self._dlq_producer = None
            self._dlq_futures = []

    def _send_dead_letters(self, dead: Sequence[DeadLetter]) -> None:
        producer = self._dlq()
        futures = self._dlq_futures = []
        for r, _message, kind, reason in dead:
            headers = [(k, v) for k, v in (r.headers or []) if not k.startswith("dlq.")]
            headers += [
                ("dlq.reason", reason.encode()),
                ("dlq.kind", kind.encode()),
                ("dlq.subscriber", self.subscriber.name.encode()),
                ("dlq.topic", r.topic.encode()),
                ("dlq.partition", str(r.partition).encode()),
                ("dlq.offset", str(r.offset).encode()),
                ("dlq.at", datetime.now(UTC).isoformat().encode()),
            ]
            futures.append(producer.send(self.dlq_topic, key=r.key, value=r.value, headers=headers))
            log.error("%s: dead-lettered %s[%d]@%d (%s): %s", self.subscriber.name, r.topic, r.partition,
                      r.offset, kind, reason)
        producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=0)


__all__ = ["BASE_TABLES", "DEAD_LETTER_TABLE", "Record", "RetryableError", "Stats", "Subscriber", "SubscriberRunner"]
