"""One partition's chunk of records applied to a subscriber in one database transaction.

The runner (consumers/base.py) polls, retries and commits offsets; this is what happens inside
the transaction: the partition's lock, the de-duplication reads, the order per household
(duplicates skipped, an event that runs ahead deferred), the subscriber's code (the whole chunk
at once, one by one only to isolate a bad message), the records of what was applied, and the
dead letters — recorded, and on their topic before the transaction commits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from consumers import dead_letters
from consumers.dead_letters import DeadLetter, record_dead_letters
from consumers.dedupe import already_applied, last_versions, lock_partition, record_applied
from consumers.messages import FeedMessage, PoisonMessage, decode
from consumers.restatements import decode_restatement
from consumers.subscriber import Stats, Subscriber
from persistence.db import Database, Tx

log = logging.getLogger("povreg.consumers")


@dataclass
class Applier:
    """Applies chunks of one partition's records to ``subscriber``, counting in ``stats``;
    ``send_dead_letters`` puts poison messages on the dead-letter topic (and raises if it cannot)."""

    subscriber: Subscriber
    db: Database
    stats: Stats
    retryable: tuple[type[BaseException], ...]
    send_dead_letters: Callable[[Sequence[DeadLetter]], None]
    dlq_topic: str
    restatement_topic: str

    def apply(self, records: Sequence[Any]) -> None:
        """Apply the chunk in one transaction (raises a retryable error for the runner to retry)."""
        if records and records[0].topic == self.restatement_topic:
            self._apply_restatements(records)
        else:
            self._apply_events(records)

    def _apply_events(self, records: Sequence[Any]) -> None:
        sub = self.subscriber
        decoded: list[tuple[Any, FeedMessage | None, PoisonMessage | None]] = []
        for r in records:
            try:
                message = decode(r.value, r.key, r.topic, r.partition, r.offset)
                if sub.validate:
                    message.event  # noqa: B018 - validates (cached)
                decoded.append((r, message, None))
            except PoisonMessage as poison:
                decoded.append((r, None, poison))
        counts = {"applied": 0, "duplicates": 0, "deferred": 0, "dead": 0}
        dead: list[DeadLetter] = []
        now = datetime.now(UTC).isoformat()
        with self.db.transaction() as tx:
            lock_partition(tx, sub.name, records[0].topic, records[0].partition)
            sub.begin(tx)
            households = {m.household_id for _, m, _ in decoded if m is not None}
            event_ids = [m.event_id for _, m, _ in decoded if m is not None]
            seen = already_applied(tx, sub.name, event_ids)
            last = last_versions(tx, sub.name, households)
            dead_offsets = dead_letters.dead_offsets(tx, sub.name, records)
            fresh: list[tuple[Any, FeedMessage]] = []
            for r, decoded_message, poison_message in decoded:
                if (r.topic, r.partition, r.offset) in dead_offsets:
                    counts["duplicates"] += 1
                    continue
                if decoded_message is None:
                    assert poison_message is not None
                    dead.append((r, None, poison_message.kind, poison_message.reason))
                    continue
                message = decoded_message
                if message.event_id in seen or message.version <= last.get(message.household_id, 0):
                    counts["duplicates"] += 1
                    continue
                expected = last.get(message.household_id, 0) + 1
                if sub.strict_order and message.version > expected:
                    counts["deferred"] += 1
                    log.warning("%s: deferred %s v%d of %s (expected v%d): an earlier event has not arrived; "
                                "the relay re-publishes it and this one after it", sub.name, message.event_id,
                                message.version, message.household_id, expected)
                    continue
                last[message.household_id] = message.version
                seen.add(message.event_id)
                fresh.append((r, message))
            applied, failed = self._handle(tx, fresh)
            dead.extend(failed)
            record_applied(tx, [(sub.name, m.event_id, m.household_id, m.version, m.position, "applied", now)
                                for m in applied]
                           + [(sub.name, m.event_id, m.household_id, m.version, m.position, "dead_letter", now)
                              for _, m, _, _ in dead if m is not None])
            if dead:
                record_dead_letters(tx, sub.name, dead, now)
                # The dead letters must be on their topic before the offsets move past them.
                self.send_dead_letters(dead)
            counts["applied"] = len(applied)
            counts["dead"] = len(dead)
        s = self.stats
        s.applied_total += counts["applied"]
        s.duplicates_total += counts["duplicates"]
        s.deferred_total += counts["deferred"]
        s.dead_letters_total += counts["dead"]
        if applied:
            s.last_applied_position = max(s.last_applied_position, max(m.position for m in applied))
            s.last_applied_at = time.time()
        s.last_error = None

    def _apply_restatements(self, records: Sequence[Any]) -> None:
        """A chunk of the restatement topic: each ``restatement_id`` applied once (recorded in the same
        table as events, version 0), the undecodable sent to the dead-letter topic."""
        sub = self.subscriber
        now = datetime.now(UTC).isoformat()
        decoded: list[tuple[Any, dict[str, Any] | None, str]] = []
        for r in records:
            try:
                decoded.append((r, decode_restatement(r.value), ""))
            except PoisonMessage as poison:
                decoded.append((r, None, poison.reason))
        with self.db.transaction() as tx:
            lock_partition(tx, sub.name, records[0].topic, records[0].partition)
            sub.begin(tx)
            seen = already_applied(tx, sub.name, [m["restatement_id"] for _, m, _ in decoded if m is not None])
            dead_offsets = dead_letters.dead_offsets(tx, sub.name, records)
            fresh: list[dict[str, Any]] = []
            dead: list[DeadLetter] = []
            for r, message, reason in decoded:
                if (r.topic, r.partition, r.offset) in dead_offsets:
                    continue
                if message is None:
                    dead.append((r, None, "schema", reason))
                elif message["restatement_id"] not in seen:
                    seen.add(message["restatement_id"])
                    fresh.append(message)
            if fresh:
                sub.handle_restatements(fresh, tx)
                record_applied(tx, [(sub.name, m["restatement_id"], m["household_id"], 0, m["position"],
                                     "restatement", now) for m in fresh])
            if dead:
                record_dead_letters(tx, sub.name, dead, now)
                self.send_dead_letters(dead)
        self.stats.restatements_total += len(fresh)
        self.stats.dead_letters_total += len(dead)

    def _handle(self, tx: Tx, fresh: list[tuple[Any, FeedMessage]]) -> tuple[list[FeedMessage], list[DeadLetter]]:
        """Run the subscriber's code; returns (applied, dead letters)."""
        sub = self.subscriber
        if not fresh:
            return [], []
        if len(fresh) > 1:
            # The whole chunk under one savepoint; only if it fails, one by one to isolate the bad message.
            try:
                with tx.savepoint("batch"):
                    sub.handle_batch([m for _, m in fresh], tx)
                return [m for _, m in fresh], []
            except self.retryable:
                raise
            except Exception as exc:
                sub.rolled_back()
                log.warning("%s: batch failed (%s); applying one by one", sub.name, exc)
        applied: list[FeedMessage] = []
        dead: list[DeadLetter] = []
        for r, message in fresh:
            try:
                with tx.savepoint("one"):
                    sub.handle_batch([message], tx)
                applied.append(message)
            except self.retryable:
                raise
            except PoisonMessage as poison:
                sub.rolled_back()
                dead.append((r, message, poison.kind, poison.reason))
            except Exception as exc:  # non-retryable: dead-letter it, never skip silently
                sub.rolled_back()
                log.exception("%s: %s at position %d failed; sending it to %s", sub.name, message.event_id,
                              message.position, self.dlq_topic)
                dead.append((r, message, "handler", f"{type(exc).__name__}: {exc}"))
        return applied, dead
