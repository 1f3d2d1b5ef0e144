"""Poison messages: recorded in ``povreg_consumer_dead_letters`` (and sent to ``<topic>.dlq``
by the runner), so that a record already dead-lettered is never applied nor sent again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from persistence.db import Tx

if TYPE_CHECKING:
    from consumers.messages import FeedMessage

#: (the record, its message if it decoded, kind, reason)
DeadLetter = tuple[Any, "FeedMessage | None", str, str]

DEAD_LETTER_TABLE = "povreg_consumer_dead_letters"
TABLES = (
    f"CREATE TABLE IF NOT EXISTS {DEAD_LETTER_TABLE} ("
    " subscriber TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, kafka_offset BIGINT NOT NULL,"
    " event_id TEXT, household_id TEXT, version INTEGER, kind TEXT NOT NULL, reason TEXT NOT NULL,"
    " dead_at TEXT NOT NULL, PRIMARY KEY (subscriber, topic, partition, kafka_offset))",
)


def dead_offsets(tx: Tx, subscriber: str, records: Sequence[Any]) -> set[tuple[str, int, int]]:
    if not records:
        return set()
    first, final = records[0], records[-1]
    rows = tx.query(
        f"SELECT topic, partition, kafka_offset FROM {DEAD_LETTER_TABLE} WHERE subscriber = ? AND topic = ? "
        "AND partition = ? AND kafka_offset BETWEEN ? AND ?",
        (subscriber, first.topic, first.partition, first.offset, final.offset))
    return {(t, int(p), int(o)) for t, p, o in rows}


def record_dead_letters(tx: Tx, subscriber: str, dead: Sequence[DeadLetter], now: str) -> None:
    tx.insert_many(
        DEAD_LETTER_TABLE,
        ("subscriber", "topic", "partition", "kafka_offset", "event_id", "household_id", "version", "kind", "reason",
         "dead_at"),
        [(subscriber, r.topic, r.partition, r.offset, m.event_id if m else None, m.household_id if m else None,
          m.version if m else None, kind, reason[:2000], now) for r, m, kind, reason in dead],
    )
