"""The registry's SQLite persistence module (``PERSISTENCE_MODULE=persistence.sqlite``).

The library's SQLite factory, with an application recorder that adds the reads
the registry needs beyond the library's recorder interface (the events of many
aggregates in one query, the notification log as plain tuples). Inserts are the
library's: on SQLite they cost little next to the checks.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing import sqlite
from eventsourcing.persistence import StoredEvent

from persistence.recorders import NotificationRow


class RegistryRecorder(sqlite.SQLiteApplicationRecorder):
    """The library's application recorder, with the registry's reads."""

    def select_stored_events(self, ids: Sequence[str]) -> list[StoredEvent]:
        """The stored events of several aggregates, by id and version, in one query."""
        statement = (
            f"SELECT originator_id, originator_version, topic, state FROM {self.events_table_name} "
            f"WHERE originator_id IN ({','.join('?' * len(ids))}) ORDER BY originator_id, originator_version"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, list(ids))
            return [
                StoredEvent(
                    originator_id=r["originator_id"],
                    originator_version=r["originator_version"],
                    topic=r["topic"],
                    state=bytes(r["state"]),
                )
                for r in c.fetchall()
            ]

    def notification_rows(self, after: int, limit: int) -> list[NotificationRow]:
        """Up to ``limit`` rows of the notification log after position ``after``, as plain
        tuples ``(position, originator_id, originator_version, topic, state)``."""
        statement = (
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {self.events_table_name} "
            "WHERE rowid > ? ORDER BY rowid LIMIT ?"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, (after, limit))
            return [tuple(r) for r in c.fetchall()]  # type: ignore[misc]


class Factory(sqlite.SQLiteFactory):
    """The library's SQLite factory, constructing :class:`RegistryRecorder`."""

    application_recorder_class = RegistryRecorder
