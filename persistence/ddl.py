"""Schema changes on PostgreSQL, one process at a time.

The eventsourcing library creates its tables when an application is
constructed; two processes doing it at once (an API and a relay starting
together, relay shards, rebuild workers) race on PostgreSQL's catalog and one
fails ("tuple concurrently updated"). Every povreg schema change therefore
takes the advisory lock :data:`DDL_LOCK` first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bootstrap.settings import Settings
from persistence.db import DDL_LOCK, connect


@contextmanager
def schema_lock(settings: Settings) -> Iterator[None]:
    """PostgreSQL: hold the schema lock while the caller creates tables, and create the configured
    schema (``?schema=…``) first if it is missing. Nothing to do on SQLite, where writers serialise.

    The lock is a session lock on a connection of its own: do not nest it (a second connection
    of the same process would wait for the first forever)."""
    if settings.backend != "postgres":
        yield
        return
    from psycopg import sql

    with connect(settings) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (DDL_LOCK,))
        try:
            schema = settings.postgres_params().get("schema")
            if schema:
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (DDL_LOCK,))
