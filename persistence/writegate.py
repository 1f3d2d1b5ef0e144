"""Serialise writers and stamp recording moments in commit order.

The eventsourcing library stamps an event when the event object is created, in
Python, before the database lock. Two writers could then commit in one order with
timestamps in the other, and a view "as known at K" that was answered before the
later commit would change after it. The gate closes that gap: every write to the
store happens inside it, and inside it the recording moment is
``max(clock(), last recorded moment + 1 µs)``, so recording moments strictly
increase in notification order, across threads and processes.

Across processes the gate is an exclusive ``flock`` beside the SQLite file, or a
PostgreSQL session advisory lock. Writers serialise on the store's table lock
anyway, so the gate costs little throughput.
"""

from __future__ import annotations

import fcntl
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import IO, Any

ONE_MICROSECOND = timedelta(microseconds=1)
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class WriteGate:
    def __init__(
        self,
        last_recorded: Callable[[], datetime | None],
        clock: Clock = system_clock,
        sqlite_path: str | None = None,
        postgres_connect: Callable[[], Any] | None = None,
        lock_name: str = "povreg-writer",
    ) -> None:
        self._last_recorded = last_recorded
        self.clock = clock
        self._thread_lock = threading.RLock()
        self._sqlite_path = sqlite_path
        #: opens the session that holds the advisory lock (:func:`persistence.db.connect`)
        self._pg_connect = postgres_connect
        self._pg_key = zlib.crc32(lock_name.encode())
        self._pg_conn: Any = None
        self._lockfile: IO[bytes] | None = None

    @contextmanager
    def open(self) -> Iterator[Callable[[], datetime]]:
        """Hold the gate; yields ``stamp()``, which returns the next recording moment."""
        with self._thread_lock, self._process_lock():
            last = self._last_recorded() or datetime.min.replace(tzinfo=UTC)

            def stamp() -> datetime:
                nonlocal last
                now = self.clock()
                if now.tzinfo is None:
                    raise ValueError("the clock must return timezone-aware datetimes")
                last = max(now.astimezone(UTC), last + ONE_MICROSECOND)
                return last

            yield stamp

    @contextmanager
    def _process_lock(self) -> Iterator[None]:
        if self._sqlite_path and not self._sqlite_path.startswith((":memory:", "file::memory:")):
            if self._lockfile is None:
                self._lockfile = open(self._sqlite_path + ".lock", "ab")  # noqa: SIM115
            fcntl.flock(self._lockfile, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lockfile, fcntl.LOCK_UN)
        elif self._pg_connect is not None:
            conn = self._pg_connection()
            conn.execute("SELECT pg_advisory_lock(%s)", (self._pg_key,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (self._pg_key,))
        else:
            yield

    def _pg_connection(self) -> Any:
        if self._pg_conn is None or self._pg_conn.closed:
            assert self._pg_connect is not None
            self._pg_conn = self._pg_connect()
        return self._pg_conn

    def close(self) -> None:
        if self._pg_conn is not None:
            self._pg_conn.close()
            self._pg_conn = None
        if self._lockfile is not None:
            self._lockfile.close()
            self._lockfile = None
