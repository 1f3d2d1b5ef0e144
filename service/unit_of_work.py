"""The unit of work the command handlers run inside.

A unit of work is opened inside the write gate (:func:`unit_of_work`): it reads
aggregates through the store's cache, remembers what it loaded and what it
added, and ends with :meth:`UnitOfWork.commit` (save every changed aggregate in
one transaction) or :meth:`UnitOfWork.rollback` (discard its changes: whatever it
touched is evicted from the cache, so the cache only ever holds saved state).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from eventsourcing.domain import BaseAggregate

from persistence.writegate import WriteGate
from service.store import AggregateStore


class UnitOfWork:
    """Aggregates loaded and changed while handling commands inside the write gate.

    ``stamp()`` returns the next recording moment (strictly after every moment recorded)."""

    def __init__(self, store: AggregateStore, stamp: Callable[[], datetime]) -> None:
        self.store = store
        self.stamp = stamp
        self.loaded: dict[str, BaseAggregate[str] | None] = {}

    def get(self, aggregate_id: str) -> Any:
        """The aggregate (as this unit of work changed it), or ``None`` if there is none."""
        if aggregate_id not in self.loaded:
            self.loaded[aggregate_id] = self.store.get(aggregate_id)
        return self.loaded[aggregate_id]

    def prefetch(self, keys: Iterable[str]) -> None:
        """Read the aggregates of ``keys`` that are not cached, with one query per 500."""
        self.store.prefetch(keys, loaded=self.loaded)

    def add(self, aggregate: BaseAggregate[str]) -> None:
        """A new aggregate, saved on :meth:`commit`."""
        self.loaded[aggregate.id] = aggregate
        self.store.cache.put(aggregate.id, aggregate)

    def changed(self) -> list[BaseAggregate[str]]:
        """The aggregates with pending events, in the order they were first read or added."""
        return [a for a in self.loaded.values() if a is not None and a.pending_events]

    def commit(self) -> None:
        """Save every changed aggregate in one transaction; on failure roll back and raise."""
        changed = self.changed()
        if not changed:
            return
        try:
            self.store.save(*changed)
        except BaseException:
            self.rollback()
            raise

    def rollback(self) -> None:
        """Forget everything this unit of work touched (its changes are not saved)."""
        for key in self.loaded:
            self.store.cache.evict(key)


@contextmanager
def unit_of_work(store: AggregateStore, gate: WriteGate) -> Iterator[UnitOfWork]:
    """Hold the write gate and yield a unit of work current with the log.

    The caller commits; an exception rolls the unit of work back (and is raised)."""
    with gate.open() as stamp:
        store.sync()
        uow = UnitOfWork(store, stamp)
        try:
            yield uow
        except BaseException:
            uow.rollback()
            raise
