"""A small SQL connection for the relay's and the subscribers' own tables.

Same database as the store by default (SQLite file through :mod:`sqlite3`,
PostgreSQL through psycopg 3 with the URL's ``?schema=`` as search path), so a
subscriber's effect, its de-duplication record and its position commit in one
transaction. SQL is written with ``?`` placeholders; they become ``%s`` on
PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from bootstrap.settings import Settings
from persistence.ddl import DDL_LOCK


class Tx:
    """One open transaction: ``execute``/``executemany``/``query``/``one``."""

    def __init__(self, db: Database, conn: Any) -> None:
        self.db = db
        self.conn = conn
        self.backend = db.backend

    def _sql(self, sql: str) -> str:
        return sql if self.backend == "sqlite" else sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.backend == "sqlite":
            self.conn.executemany(sql, rows)
        else:
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)

    def insert_many(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                    suffix: str = "") -> None:
        """Insert rows in as few statements as possible (multi-row VALUES on PostgreSQL).

        ``suffix`` is appended to each statement (e.g. ``ON CONFLICT DO NOTHING``).
        """
        if not rows:
            return
        cols = ", ".join(columns)
        one = "(" + ", ".join("?" * len(columns)) + ")"
        if self.backend == "sqlite":
            self.conn.executemany(f"INSERT INTO {table} ({cols}) VALUES {one} {suffix}", rows)
            return
        per = max(1, 4000 // len(columns))
        for start in range(0, len(rows), per):
            part = rows[start:start + per]
            values = ", ".join([one] * len(part))
            self.execute(f"INSERT INTO {table} ({cols}) VALUES {values} {suffix}",
                         [v for row in part for v in row])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.execute(sql, params).fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.execute(sql, params).fetchone()
        return row

    @contextmanager
    def savepoint(self, name: str = "sp") -> Iterator[None]:
        """Undo only this block's writes if it raises."""
        self.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self.execute(f"RELEASE SAVEPOINT {name}")
            raise
        self.execute(f"RELEASE SAVEPOINT {name}")


class Database:
    """One connection (per thread that uses it) to the settings' database."""

    def __init__(self, settings: Settings | str) -> None:
        self.settings = Settings(database_url=settings) if isinstance(settings, str) else settings
        self.backend = self.settings.backend
        self._local = threading.local()

    @property
    def schema(self) -> str | None:
        if self.backend == "postgres":
            return self.settings.postgres_params().get("schema")
        return None

    def _connect(self) -> Any:
        if self.backend == "sqlite":
            conn = sqlite3.connect(self.settings.sqlite_path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            return conn
        import psycopg

        conninfo = self.settings.postgres_conninfo()
        if self.schema:
            return psycopg.connect(conninfo, autocommit=True, options=f"-c search_path={self.schema}")
        return psycopg.connect(conninfo, autocommit=True)

    @property
    def conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or (self.backend == "postgres" and conn.closed):
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """BEGIN (IMMEDIATE on SQLite: take the write lock at once) … COMMIT, or ROLLBACK on error."""
        conn = self.conn
        if self.backend == "sqlite":
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self, conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        else:
            with conn.transaction():
                yield Tx(self, conn)

    def read(self) -> Tx:
        """Autocommit statements outside a transaction (reads)."""
        return Tx(self, self.conn)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def ddl(self, *statements: str) -> None:
        """Create tables/indexes (``IF NOT EXISTS``) in one transaction."""
        with self.transaction() as tx:
            ddl_lock(tx)
            for statement in statements:
                tx.execute(statement)


def ddl_lock(tx: Tx) -> None:
    """PostgreSQL: one schema change at a time (two processes starting together would otherwise race
    on ``CREATE TABLE IF NOT EXISTS`` and one of them fail on the catalog's unique index)."""
    if tx.backend == "postgres":
        tx.execute("SELECT pg_advisory_xact_lock(?)", (DDL_LOCK,))


def transient_db_errors() -> tuple[type[BaseException], ...]:
    """Database errors worth retrying (locks, lost connections)."""
    errors: list[type[BaseException]] = [sqlite3.OperationalError]
    try:
        import psycopg

        errors += [psycopg.OperationalError, psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected]
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)
