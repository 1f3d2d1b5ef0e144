"""The bulk writer: ``record_many`` for bulk loads, checking a batch while the previous one is written."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from eventsourcing.domain import BaseAggregate

from domain.commands import Command, Receipt
from domain.errors import DomainError
from persistence.writegate import WriteGate
from service.households import HouseholdCommands, parse
from service.store import AggregateStore
from service.unit_of_work import UnitOfWork


class BulkWriter:
    """``record_many`` for bulk loads: a batch is checked while the previous one is written.

    ``record_many`` answers once its batch is checked and hands the batch's save to a
    writer thread; the next call checks its batch (the cache already holds the
    previous batch's aggregates, as a save would leave them) while PostgreSQL
    inserts and commits the previous one, then waits for that commit before
    starting its own. At most one save is in flight, and saves commit in the order
    the batches were checked, each in one transaction, as ``record_many`` would.

    The write gate stays held from a batch's check to its commit, so recording
    moments still increase in notification order; it is released, after the save
    in flight has committed, once it has been held ``max_hold`` seconds, and on
    :meth:`close`, so other writers wait no longer than about that. Nothing of a
    batch is visible before it commits, and a kill at any point leaves whole
    batches only, as with ``record_many``.

    Answers are given before their batch commits: if a save fails, the error is
    raised by the next call or by :meth:`close`; the failed batch and the one
    checked after it are not recorded, and the cache is emptied. (Under the gate
    no other writer can make a save conflict; ``record_many``'s re-check after a
    conflict is not repeated here.) With ``pipelined`` false (SQLite, or callbacks
    after each save: the embedded mode's projections), it is ``record_many``.
    """

    def __init__(
        self, households: HouseholdCommands, store: AggregateStore, gate: WriteGate, pipelined: bool,
        max_hold: float = 1.0,
    ) -> None:
        self.households = households
        self.store = store
        self.gate = gate
        self.max_hold = max_hold
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="povreg-save") if pipelined else None
        self._gate: AbstractContextManager[Callable[[], datetime]] | None = None
        self._stamp: Callable[[], datetime] | None = None
        self._opened = 0.0
        self._in_flight: tuple[Future[list[Any]], list[BaseAggregate[str]]] | None = None

    def __enter__(self) -> BulkWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record_many(self, commands: Sequence[Command]) -> list[Receipt | DomainError]:
        """Check a batch and start saving it; each refused command records nothing."""
        if self._pool is None:
            return self.households.record_many(commands)
        parsed = parse(commands)
        if self._stamp is not None and time.monotonic() - self._opened > self.max_hold:
            self._release()
        uow = UnitOfWork(self.store, self._hold())
        try:
            results = self.households.check_batch(uow, parsed)
        except BaseException:
            uow.rollback()
            self._release()
            raise
        self._finish()
        changed = uow.changed()
        if changed:
            future = self._pool.submit(self.store.put, self.store.collect(changed))
            self._in_flight = (future, changed)
        return results

    def close(self) -> None:
        """Wait for the save in flight and release the gate; raises if that save failed."""
        try:
            self._release()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None

    def _hold(self) -> Callable[[], datetime]:
        if self._stamp is None:
            self._gate = self.gate.open()
            self._stamp = self._gate.__enter__()
            self._opened = time.monotonic()
            self.store.sync()
        return self._stamp

    def _finish(self) -> None:
        """Wait for the save in flight; on failure empty the cache, release the gate, raise."""
        if self._in_flight is None:
            return
        future, aggregates = self._in_flight
        self._in_flight = None
        try:
            recordings = future.result()
        except BaseException:
            # The batch checked since was checked against this one's state.
            self.store.cache.clear()
            self._release()
            raise
        self.store.recorded(aggregates, recordings)

    def _release(self) -> None:
        try:
            self._finish()
        finally:
            if self._gate is not None:
                gate, self._gate, self._stamp = self._gate, None, None
                gate.__exit__(None, None, None)
