"""Where the relay stands: its last acknowledged position, in the store's own database, and its shard.

One row per relay in ``povreg_relay_tracking``: ``name`` is the topic, or ``topic#i/N`` for shard i
of N (the relays of a topic publish the partitions p with p % N == i). A relay without a row yet
starts from the furthest position that the other rows of its topic prove published for all of
its partitions; re-sharding therefore re-sends some events, never skips one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from consumers.producer import RelayConfigError
from persistence.db import Database

TRACKING_TABLE = "povreg_relay_tracking"


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` → (i, N) with 0 <= i < N."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise RelayConfigError(f"a shard is INDEX/COUNT, e.g. 0/2, not {text!r}") from None
    if not 0 <= index < count:
        raise RelayConfigError(f"shard {text!r}: the index must be 0 to {count - 1}" if count > 0
                               else f"shard {text!r}: the count must be 1 or more")
    return index, count


class RelayTracking:
    """The relay's last acknowledged position, in the store's own database.

    One row per relay: ``name`` is the topic, or ``topic#i/N`` for shard i of N.
    A relay without a row yet starts from the furthest position that other rows
    of the topic prove published for all of its partitions (see
    :func:`covered_position`); with none, from the start. Re-sharding therefore
    re-sends some events, never skips one.
    """

    def __init__(self, db: Database, name: str, topic: str | None = None,
                 shard: tuple[int, int] | None = None) -> None:
        self.db = db
        self.name = name
        self.topic = topic or name
        self.shard = shard
        db.ddl(
            f"CREATE TABLE IF NOT EXISTS {TRACKING_TABLE} ("
            " name TEXT PRIMARY KEY, position BIGINT NOT NULL, published BIGINT NOT NULL DEFAULT 0,"
            " updated_at TEXT NOT NULL)"
        )

    def load(self) -> tuple[int, int]:
        """(position, events published) of this relay."""
        row = self.db.one(f"SELECT position, published FROM {TRACKING_TABLE} WHERE name = ?", (self.name,))
        if row:
            return int(row[0]), int(row[1])
        prefix = self.topic + "#"
        others: dict[tuple[int, int], int] = {}
        for name, position in self.db.query(
                f"SELECT name, position FROM {TRACKING_TABLE} WHERE name = ? OR substr(name, 1, ?) = ?",
                (self.topic, len(prefix), prefix)):
            shard = (0, 1) if name == self.topic else _shard_of(name[len(prefix):])
            if shard is not None:
                others[shard] = int(position)
        return covered_position(others, self.shard or (0, 1)), 0

    def save(self, position: int, published: int) -> None:
        now = datetime.now(UTC).isoformat()
        with self.db.transaction() as tx:
            tx.execute(
                f"INSERT INTO {TRACKING_TABLE} (name, position, published, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
                "published = excluded.published, updated_at = excluded.updated_at "
                f"WHERE excluded.position >= {TRACKING_TABLE}.position",
                (self.name, position, published, now),
            )


def _shard_of(text: str) -> tuple[int, int] | None:
    try:
        return parse_shard(text)
    except RelayConfigError:
        return None


def covered_position(rows: dict[tuple[int, int], int], shard: tuple[int, int]) -> int:
    """The furthest position up to which every partition of ``shard`` is known published by ``rows``
    ((index, count) → position; the unsharded relay is (0, 1)).

    A complete set of shards i/N (i = 0 … N-1) covers every partition up to its lowest position; a
    single shard i/N covers shard j/M's partitions when N divides M and j % N == i.
    """
    index, count = shard
    candidates = [0]
    by_count: dict[int, dict[int, int]] = {}
    for (i, n), position in rows.items():
        by_count.setdefault(n, {})[i] = position
        if count % n == 0 and index % n == i:
            candidates.append(position)
    candidates += [min(family.values()) for n, family in by_count.items() if len(family) == n]
    return max(candidates)
