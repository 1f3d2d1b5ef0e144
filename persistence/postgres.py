"""The registry's PostgreSQL persistence module (``PERSISTENCE_MODULE=persistence.postgres``).

The eventsourcing library finds the one infrastructure factory in the module
named by ``PERSISTENCE_MODULE`` (``InfrastructureFactory.construct``); this
module's :class:`Factory` is the library's PostgreSQL factory with the
application recorder below, which adds what the registry asks of the store
beyond the library's recorder interface: a batched insert, the events of many
aggregates in one query, and the notification log as plain tuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing import postgres
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from persistence.recorders import NotificationRow


class RegistryRecorder(postgres.PostgresApplicationRecorder):
    """The library's application recorder, with the registry's batched insert and reads."""

    def __init__(self, datastore: postgres.PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        table = SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        self.insert_arrays_statement = SQL(
            "INSERT INTO {} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::text[], %b::bigint[], %b::text[], %b::bytea[]) RETURNING notification_id"
        ).format(table)
        self.notify_statement = SQL("NOTIFY {}").format(Identifier(self.channel_name))
        self.select_many_statement = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(table)
        self.notification_rows_statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
            "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(table)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The library's insert (table lock, ``NOTIFY``, one transaction, the notification ids
        returned), with the events passed as four binary arrays.

        The library passes one array of a composite type, which psycopg dumps in Python
        (~80 µs an event on the benchmark machine, most of a batched save); four arrays
        of ``text``, ``bigint``, ``text`` and ``bytea`` in binary cost a sixth of that.
        Anything but a plain insert of events (none, tracking records, the library's
        database functions) goes the library's way."""
        if not stored_events or kwargs or self.datastore.enable_db_functions:
            return super().insert_events(stored_events, **kwargs)  # type: ignore[no-any-return]
        exc: Exception | None = None
        notification_ids: list[int] = []
        with self.datastore.get_connection() as conn:
            with conn.pipeline() as pipeline, conn.transaction(), conn.cursor() as curs:
                try:
                    for statement in self.lock_table_statements:
                        curs.execute(statement, prepare=True)
                    curs.execute(self.notify_statement)
                    curs.execute(
                        self.insert_arrays_statement,
                        (
                            [e.originator_id for e in stored_events],
                            [e.originator_version for e in stored_events],
                            [e.topic for e in stored_events],
                            [e.state for e in stored_events],
                        ),
                        binary=True,
                    )
                    # Sync now, so that a uniqueness violation raises here (as the library's).
                    pipeline.sync()
                    notification_ids = [row["notification_id"] for row in curs.fetchall()]
                except Exception as e:  # raised once the pipeline is closed, as the library does
                    exc = e
            if exc:
                raise exc
        return notification_ids

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_stored_events(self, ids: Sequence[str]) -> list[StoredEvent]:
        """The stored events of several aggregates, by id and version (the library reads one
        aggregate per query; a batch of commands would pay one round trip per household)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_many_statement, (list(ids),))
            return [
                StoredEvent(
                    originator_id=r["originator_id"],
                    originator_version=r["originator_version"],
                    topic=r["topic"],
                    state=bytes(r["state"]),
                )
                for r in curs.fetchall()
            ]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def notification_rows(self, after: int, limit: int) -> list[NotificationRow]:
        """Up to ``limit`` rows of the notification log after position ``after``, as plain
        tuples ``(position, originator_id, originator_version, topic, state)``.

        The library's ``select_notifications`` reads rows as dictionaries and wraps each
        in a ``Notification``; a rebuild reads the whole log in each of its processes, and
        reading it that way was 8 % of its audit lane (py-spy). Same rows, same order."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self.notification_rows_statement, (after, limit), prepare=True, binary=True)
            return curs.fetchall()  # type: ignore[return-value]


class Factory(postgres.PostgresFactory):
    """The library's PostgreSQL factory, constructing :class:`RegistryRecorder`."""

    application_recorder_class = RegistryRecorder
