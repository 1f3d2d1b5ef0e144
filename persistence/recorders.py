"""What the registry asks of the store beyond the library's recorder interface.

A batch of commands reads several aggregates at once, a rebuild reads the notification
log as plain tuples, and a batched save inserts its events as four binary arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent

NotificationRow = tuple[int, str, int, str, bytes]


def _is_postgres(recorder: Any) -> bool:
    return hasattr(recorder.datastore, "schema") and hasattr(recorder.datastore, "pool")


def select_stored_events(recorder: Any, ids: list[str]) -> list[StoredEvent]:
    """The stored events of several aggregates, by id and version (the library reads one
    aggregate per query; a batch of commands would pay one round trip per household)."""
    if _is_postgres(recorder):
        from psycopg.sql import SQL, Identifier

        pg_select = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {}.{} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(pg_select, (ids,))
            rows = curs.fetchall()
    else:
        sqlite_select = (
            f"SELECT originator_id, originator_version, topic, state FROM {recorder.events_table_name} "
            f"WHERE originator_id IN ({','.join('?' * len(ids))}) ORDER BY originator_id, originator_version"
        )
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(sqlite_select, ids)
            rows = c.fetchall()
    return [
        StoredEvent(
            originator_id=r["originator_id"],
            originator_version=r["originator_version"],
            topic=r["topic"],
            state=bytes(r["state"]),
        )
        for r in rows
    ]


def notification_rows(recorder: Any, after: int, limit: int) -> list[NotificationRow]:
    """Up to ``limit`` rows of the notification log after position ``after``, as plain
    tuples ``(position, originator_id, originator_version, topic, state)``.

    The library's ``select_notifications`` reads rows as dictionaries and wraps each
    in a ``Notification``; a rebuild reads the whole log in each of its processes, and
    reading it that way was 8 % of its audit lane (py-spy). Same rows, same order."""
    if _is_postgres(recorder):
        from psycopg.rows import tuple_row
        from psycopg.sql import SQL, Identifier

        pg_select = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{} "
            "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
        with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(pg_select, (after, limit), prepare=True, binary=True)
            return curs.fetchall()  # type: ignore[no-any-return]
    sqlite_select = (
        f"SELECT rowid, originator_id, originator_version, topic, state FROM {recorder.events_table_name} "
        "WHERE rowid > ? ORDER BY rowid LIMIT ?"
    )
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(sqlite_select, (after, limit))
        return [tuple(r) for r in c.fetchall()]


def fast_insert(recorder: Any) -> Any:
    """The library's PostgreSQL recorder, inserting stored events as four binary arrays.

    ``PostgresApplicationRecorder`` passes one array of a composite type, which
    psycopg dumps in Python (~80 µs an event on the benchmark machine, most of a
    batched save); four arrays of ``text``, ``bigint``, ``text`` and ``bytea`` in
    binary cost a sixth of that. Locking, notification, the returned
    notification ids and everything else stay the library's.
    """
    if type(recorder).__name__ != "PostgresApplicationRecorder":
        return recorder
    from psycopg.sql import SQL, Identifier

    base = type(recorder)

    class FastInsertRecorder(base):  # type: ignore[valid-type,misc]
        def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **_: Any) -> None:
            self._lock_table(curs)
            self._notify_channel(curs)
            curs.execute(
                self.povreg_insert,
                (
                    [e.originator_id for e in stored_events],
                    [e.originator_version for e in stored_events],
                    [e.topic for e in stored_events],
                    [e.state for e in stored_events],
                ),
                binary=True,
            )

    recorder.__class__ = FastInsertRecorder
    recorder.povreg_insert = SQL(
        "INSERT INTO {}.{} (originator_id, originator_version, topic, state) "
        "SELECT * FROM unnest(%b::text[], %b::bigint[], %b::text[], %b::bytea[]) RETURNING notification_id"
    ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
    return recorder
