"""The read models' own connection to the event store's database.

Projections live in the same database as the events, in tables of their own
(``proj_*``). On SQLite that is the same file, opened with the stdlib
:mod:`sqlite3` in WAL mode (readers never block the writer); on PostgreSQL it
is psycopg 3 with the registry's conninfo and ``search_path`` set to the
configured schema.

All SQL in this package is written once, with ``?`` placeholders, and runs on
both backends: :class:`Tx` converts placeholders for psycopg. Dates are stored
as ISO text (``YYYY-MM-DD``, which sorts correctly) and moments as integer
microseconds since the Unix epoch (exact, index-friendly, no time zone to get
wrong); :func:`to_us` and :func:`from_us` convert.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from bootstrap.settings import Settings
from projections.sealing import PLAIN, Sealer

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
#: ``valid_to`` of an interval that is still open (valid time).
OPEN_DATE = "9999-12-31"
#: ``known_to`` of a row still believed (transaction time).
OPEN_US = 2**62


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact integer arithmetic)."""
    if moment.tzinfo is None:
        raise ValueError("moments must be timezone-aware")
    return (moment - EPOCH) // ONE_US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


#: Values bound in one ``IN (…)`` list at the most.
IN_LIST = 500


def chunks(items: Sequence[Any], size: int = IN_LIST) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most ``size``: one query each, ``… IN (?, ?, …)``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def known_us(known_at: datetime | None) -> int:
    """The transaction-time bound of a query: ``known_from <= K < known_to``."""
    return OPEN_US - 1 if known_at is None else to_us(known_at)


class Tx:
    """One transaction: ``execute``/``query`` with ``?`` placeholders on either backend."""

    def __init__(self, conn: Any, dialect: str, sealer: Sealer = PLAIN) -> None:
        self.conn = conn
        self.dialect = dialect
        #: seals and opens the personal fields of the rows (:mod:`projections.sealing`)
        self.sealer = sealer
        self._pg = dialect == "postgres"

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
    """Connections for the read models: thread-local on SQLite, a pool on PostgreSQL."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dialect = settings.backend
        self.sealer = Sealer.of(settings)
        self._local = threading.local()
        self._sqlite_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool: Any = None
        if self.dialect == "postgres":
            from psycopg_pool import ConnectionPool

            params = settings.postgres_params()
            kwargs: dict[str, Any] = {"autocommit": True}
            if params.get("schema"):
                kwargs["options"] = f"-c search_path={params['schema']}"
            self.schema = params.get("schema") or "public"
            self._pool = ConnectionPool(
                settings.postgres_conninfo(), min_size=1, max_size=8, kwargs=kwargs, open=True
            )
        else:
            self.schema = "main"

    # ---------------------------------------------------------------- sqlite

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

    # ----------------------------------------------------------- transactions

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A write transaction. On SQLite it takes the database's write lock at once
        (``BEGIN IMMEDIATE``), so writers serialise across threads and processes."""
        if self._pool is not None:
            with self._pool.connection() as pg:
                yield from self._transaction(pg, "BEGIN", "postgres")
            return
        yield from self._transaction(self._sqlite(), "BEGIN IMMEDIATE", "sqlite")

    def _transaction(self, conn: Any, begin: str, dialect: str) -> Iterator[Tx]:
        conn.execute(begin)
        try:
            yield Tx(conn, dialect, self.sealer)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """One statement, outside an explicit transaction: a statement sees one snapshot
        anyway, and a point lookup then costs one round trip instead of three."""
        if self._pool is not None:
            with self._pool.connection() as pg:
                row = pg.execute(sql.replace("?", "%s"), params).fetchone()
        else:
            row = self._sqlite().execute(sql, params).fetchone()
        return tuple(row) if row is not None else None

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read-only transaction that sees one snapshot for all its queries."""
        if self._pool is not None:
            with self._pool.connection() as pg:
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

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        with self._lock:
            for conn in self._sqlite_conns:
                conn.close()
            self._sqlite_conns.clear()
        self._local = threading.local()
