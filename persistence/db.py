"""The one database-access layer beside the event store: read models, relay, subscribers.

Everything that is not the eventsourcing library's own recorder reaches the
database through here: the read models (``proj_*`` tables), the relay's and the
subscribers' tables, and the two session locks (the write gate, the schema
lock). Same database as the events: the SQLite file through :mod:`sqlite3` in
WAL mode (readers never block the writer), or PostgreSQL through psycopg 3 with
the URL's ``?schema=`` as ``search_path``.

SQL is written once with ``?`` placeholders; :class:`Tx` turns them into ``%s``
for psycopg.

Connections, on PostgreSQL. One process opens:

- the event store's pool (the library's, ``POSTGRES_POOL_SIZE=1`` and
  ``POSTGRES_MAX_OVERFLOW``): one or two connections at first (psycopg_pool
  adds one when a request comes while the first is being opened), at most
  ``POVREG_DB_POOL_SIZE``;
- this layer's pool (:class:`Database`, one per part that builds one: the read
  models; a relay; a subscriber): the same, at most ``POVREG_DB_POOL_SIZE``;
- one session for the write gate's advisory lock, once the process writes;
- short-lived sessions while the registry starts (the schema lock, the key check).

So an API process holds at most ``2 × POVREG_DB_POOL_SIZE + 1`` connections (9
with the default 4). Measured: a registry 2, with its read models 4, after a
write 5; the API under 16 concurrent readers 7. (It was 5 + 10 for the event
store and 8 for the read models before.) On SQLite every thread that uses a
:class:`Database` has its own connection.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from bootstrap.settings import Settings

#: the advisory lock key of povreg's schema changes on PostgreSQL
DDL_LOCK = 0x706F7672


def connect(settings: Settings, **kwargs: Any) -> Any:
    """A session of its own on PostgreSQL (autocommit, the store's schema as search path):
    for the session-level advisory locks, which a pooled connection must not hold."""
    import psycopg

    return psycopg.connect(settings.postgres_conninfo(), autocommit=True, **_search_path(settings), **kwargs)


def _search_path(settings: Settings) -> dict[str, Any]:
    schema = settings.postgres_params().get("schema")
    return {"options": f"-c search_path={schema}"} if schema else {}


class Tx:
    """One transaction (or autocommit statements): ``execute``/``query``/``one`` with ``?``
    placeholders on either backend.

    ``sealer`` is whatever the database's owner attached to seal and open personal
    fields (the read models' :class:`~projections.sealing.Sealer`), ``None`` otherwise."""

    def __init__(self, conn: Any, backend: str, sealer: Any = None) -> None:
        self.conn = conn
        self.backend = backend
        self.sealer = sealer
        self._pg = backend == "postgres"

    @property
    def dialect(self) -> str:
        """The backend (``sqlite`` or ``postgres``), by the read models' name for it."""
        return self.backend

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._pg else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        if self._pg:
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)
        else:
            self.conn.executemany(sql, rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.conn.execute(self._sql(sql), params).fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row = self.conn.execute(self._sql(sql), params).fetchone()
        return tuple(row) if row is not None else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return row[0] if row else None

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
               binary_types: Sequence[str]) -> None:
        """Bulk insert: binary COPY on PostgreSQL (``binary_types``: one PostgreSQL type name
        per column; no escaping of the JSON text on either side, no parsing of numbers — a
        quarter less of the server's CPU and a third less of ours per row of a rebuild than
        text COPY), executemany on SQLite."""
        if not rows:
            return
        cols = ", ".join(columns)
        if self._pg:
            with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(binary_types)
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            self.conn.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)

    def insert_many(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                    suffix: str = "") -> None:
        """Insert rows in as few statements as possible (multi-row VALUES on PostgreSQL).

        ``suffix`` is appended to each statement (e.g. ``ON CONFLICT DO NOTHING``).
        """
        if not rows:
            return
        cols = ", ".join(columns)
        one = "(" + ", ".join("?" * len(columns)) + ")"
        if not self._pg:
            self.conn.executemany(f"INSERT INTO {table} ({cols}) VALUES {one} {suffix}", rows)
            return
        per = max(1, 4000 // len(columns))
        for start in range(0, len(rows), per):
            part = rows[start:start + per]
            values = ", ".join([one] * len(part))
            self.execute(f"INSERT INTO {table} ({cols}) VALUES {values} {suffix}",
                         [v for row in part for v in row])

    def update_known_to(self, table: str, rows: Sequence[tuple[int, str, int, str]]) -> None:
        """Close rows: ``(known_to, household_id, known_from, valid_from)`` by primary key.

        On PostgreSQL a batch is one ``UPDATE … FROM unnest(arrays)`` (one statement,
        not one round trip per row; the planner takes the arrays as a few rows and
        probes the primary key for each).
        """
        if not rows:
            return
        if not self._pg:
            self.executemany(
                f"UPDATE {table} SET known_to = ? WHERE household_id = ? AND known_from = ? AND valid_from = ?", rows
            )
            return
        columns = list(zip(*rows, strict=True))
        self.conn.execute(
            f"UPDATE {table} AS t SET known_to = c.known_to "
            "FROM unnest(%b::bigint[], %b::text[], %b::bigint[], %b::text[]) "
            "AS c(known_to, household_id, known_from, valid_from) "
            "WHERE t.household_id = c.household_id AND t.known_from = c.known_from AND t.valid_from = c.valid_from",
            [list(c) for c in columns],
        )

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

    def columns(self, name: str) -> list[str]:
        """The table's column names in order (empty when there is no such table)."""
        if self._pg:
            return [r[0] for r in self.query(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = ? ORDER BY ordinal_position", (name,))]
        return [r[1] for r in self.query(f"PRAGMA table_info({name})")]

    def index_names(self, name: str) -> list[str]:
        """The names of the table's indexes."""
        if self._pg:
            return [r[0] for r in self.query(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?", (name,))]
        return [r[0] for r in self.query(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (name,))]

    def has_primary_key(self, name: str) -> bool:
        """Whether the PostgreSQL table has its primary key (a rebuild may add it last)."""
        return bool(self.scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = to_regclass(?) AND indisprimary)", (name,)))

    def table_exists(self, name: str) -> bool:
        if self._pg:
            return bool(self.scalar("SELECT to_regclass(?) IS NOT NULL", (name,)))
        return self.one("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)) is not None


class Database:
    """Connections to the settings' database: a pool on PostgreSQL (one connection at first,
    at most ``settings.db_pool_size``), one connection per thread on SQLite.

    ``sealer`` is handed to every :class:`Tx` (see there)."""

    def __init__(self, settings: Settings | str, *, sealer: Any = None) -> None:
        self.settings = Settings(database_url=settings) if isinstance(settings, str) else settings
        self.backend = self.settings.backend
        self.sealer = sealer
        self._local = threading.local()
        self._sqlite_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool: Any = None
        if self.backend == "postgres":
            self._open_pool()

    def _open_pool(self) -> Any:
        """The PostgreSQL pool, opened again if it was closed (a closed Database is usable again)."""
        if self._pool is None:
            from psycopg_pool import ConnectionPool

            self._pool = ConnectionPool(
                self.settings.postgres_conninfo(), min_size=1, max_size=max(1, self.settings.db_pool_size),
                kwargs={"autocommit": True, **_search_path(self.settings)}, open=True,
            )
        return self._pool

    @property
    def dialect(self) -> str:
        """The backend (``sqlite`` or ``postgres``), by the read models' name for it."""
        return self.backend

    @property
    def schema(self) -> str | None:
        """The PostgreSQL schema of the URL's ``?schema=`` (``None``: the default one, or SQLite)."""
        if self.backend == "postgres":
            return self.settings.postgres_params().get("schema")
        return None

    def _sqlite(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.settings.sqlite_path, timeout=60, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
            self._local.conn = conn
            with self._lock:
                self._sqlite_conns.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction: COMMIT, or ROLLBACK if the block raises. On SQLite it takes the
        database's write lock at once (``BEGIN IMMEDIATE``), so writers serialise across
        threads and processes."""
        if self.backend == "postgres":
            with self._open_pool().connection() as pg:
                yield from self._transaction(pg, "BEGIN")
            return
        yield from self._transaction(self._sqlite(), "BEGIN IMMEDIATE")

    #: the read models' name for :meth:`transaction`
    write = transaction

    def _transaction(self, conn: Any, begin: str) -> Iterator[Tx]:
        conn.execute(begin)
        try:
            yield Tx(conn, self.backend, self.sealer)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read-only transaction that sees one snapshot for all its queries."""
        if self.backend == "postgres":
            with self._open_pool().connection() as pg:
                pg.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try:
                    yield Tx(pg, "postgres", self.sealer)
                finally:
                    pg.execute("ROLLBACK")
            return
        conn = self._sqlite()
        conn.execute("BEGIN")
        try:
            yield Tx(conn, "sqlite", self.sealer)
        finally:
            conn.execute("ROLLBACK")

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """One statement, outside an explicit transaction: a statement sees one snapshot
        anyway, and a point lookup then costs one round trip instead of three."""
        if self.backend == "postgres":
            with self._open_pool().connection() as pg:
                return Tx(pg, "postgres").one(sql, params)
        return Tx(self._sqlite(), "sqlite").one(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement's rows, outside an explicit transaction."""
        if self.backend == "postgres":
            with self._open_pool().connection() as pg:
                return Tx(pg, "postgres").query(sql, params)
        return Tx(self._sqlite(), "sqlite").query(sql, params)

    def ddl(self, *statements: str) -> None:
        """Create tables/indexes (``IF NOT EXISTS``) in one transaction, one process at a time."""
        with self.transaction() as tx:
            ddl_lock(tx)
            for statement in statements:
                tx.execute(statement)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        with self._lock:
            for conn in self._sqlite_conns:
                conn.close()
            self._sqlite_conns.clear()
        self._local = threading.local()


def ddl_lock(tx: Tx) -> None:
    """PostgreSQL: one schema change at a time (two processes starting together would otherwise race
    on ``CREATE TABLE IF NOT EXISTS`` and one of them fail on the catalog's unique index)."""
    if tx.backend == "postgres":
        tx.execute("SELECT pg_advisory_xact_lock(?)", (DDL_LOCK,))


def transient_db_errors() -> tuple[type[BaseException], ...]:
    """Database errors worth retrying (locks, lost connections)."""
    import psycopg

    return (sqlite3.OperationalError, psycopg.OperationalError, psycopg.errors.SerializationFailure,
            psycopg.errors.DeadlockDetected)
