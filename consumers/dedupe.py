"""Each event applied once per subscriber: the events it applied are recorded in the same
transaction as their effect (``povreg_consumer_applied``), so a redelivered event is found
and skipped; and on PostgreSQL one transaction at a time per (subscriber, partition)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from persistence.db import Tx

APPLIED_TABLE = "povreg_consumer_applied"
TABLES = (
    f"CREATE TABLE IF NOT EXISTS {APPLIED_TABLE} ("
    " subscriber TEXT NOT NULL, event_id TEXT NOT NULL, household_id TEXT NOT NULL,"
    " version INTEGER NOT NULL, position BIGINT NOT NULL, outcome TEXT NOT NULL, applied_at TEXT NOT NULL,"
    " PRIMARY KEY (subscriber, event_id))",
    f"CREATE INDEX IF NOT EXISTS {APPLIED_TABLE}_household ON {APPLIED_TABLE} (subscriber, household_id, version)",
)


def lock_partition(tx: Tx, subscriber: str, topic: str, partition: int) -> None:
    """PostgreSQL: one transaction at a time per (subscriber, partition), across processes.
    (SQLite's ``BEGIN IMMEDIATE`` already serialises every writer.)"""
    if tx.backend == "postgres":
        tx.execute("SELECT pg_advisory_xact_lock(hashtext(?), ?)", (f"povreg:{subscriber}:{topic}", partition))


def chunks(items: Sequence[Any], size: int = 400) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def already_applied(tx: Tx, subscriber: str, event_ids: Sequence[str]) -> set[str]:
    seen: set[str] = set()
    for part in chunks(list(event_ids)):
        marks = ",".join("?" * len(part))
        seen.update(row[0] for row in tx.query(
            f"SELECT event_id FROM {APPLIED_TABLE} WHERE subscriber = ? AND event_id IN ({marks})",
            (subscriber, *part)))
    return seen


def last_versions(tx: Tx, subscriber: str, households: Iterable[str]) -> dict[str, int]:
    last: dict[str, int] = {}
    for part in chunks(sorted(households)):
        marks = ",".join("?" * len(part))
        for household_id, version in tx.query(
            f"SELECT household_id, MAX(version) FROM {APPLIED_TABLE} WHERE subscriber = ? "
            f"AND household_id IN ({marks}) GROUP BY household_id", (subscriber, *part)):
            last[household_id] = int(version)
    return last


def record_applied(tx: Tx, rows: Sequence[tuple[str, str, str, int, int, str, str]]) -> None:
    """(subscriber, event_id, household_id, version, position, outcome, applied_at) rows."""
    tx.insert_many(APPLIED_TABLE, ("subscriber", "event_id", "household_id", "version", "position", "outcome",
                                   "applied_at"), rows)
