"""The write path's view of the event store: aggregates loaded, cached and saved.

:class:`AggregateStore` wraps the eventsourcing application's repository and
recorder for the command handlers: it loads many aggregates with one query,
keeps the aggregates last loaded or saved in memory (current with the log: what
other writers recorded since is evicted when the write gate opens), and saves a
batch of aggregates in one transaction of the library's recorder, in the order
their events were stamped.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import Recording

from domain.fold import Step
from persistence.recorders import RegistryRecorder


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its per-event ``isinstance`` check
    against a runtime ``typing.Protocol`` (which cost ~100 µs per event replayed)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class AggregateCache:
    """Aggregates as the registry last loaded or saved them, kept current with the log.

    Only the write path uses it, inside the write gate. ``position`` is the
    notification id up to which the cache is known to be current: when the gate
    opens and the log has moved on, what others wrote since is evicted
    (:meth:`AggregateStore.sync`). ``None`` marks an aggregate known not to exist.
    ``steps`` holds a cached household's fold (valid time, everything known) at a
    version, so that the next command does not replay the history again.
    """

    def __init__(self, maxsize: int | None) -> None:
        self.maxsize = maxsize
        self.items: OrderedDict[str, BaseAggregate[str] | None] = OrderedDict()
        self.steps: dict[str, tuple[int, list[Step]]] = {}
        self.position: int | None = None

    def lookup(self, key: str) -> tuple[bool, Any]:
        try:
            value = self.items[key]
        except KeyError:
            return False, None
        if self.maxsize:
            self.items.move_to_end(key)
        return True, value

    def put(self, key: str, value: BaseAggregate[str] | None) -> None:
        self.items[key] = value
        if self.maxsize:
            self.items.move_to_end(key)
            while len(self.items) > self.maxsize:
                old, _ = self.items.popitem(last=False)
                self.steps.pop(old, None)

    def evict(self, key: str) -> None:
        self.items.pop(key, None)
        self.steps.pop(key, None)

    def clear(self) -> None:
        self.items.clear()
        self.steps.clear()


class AggregateStore:
    """Loading, caching and saving aggregates for the command handlers.

    ``after_save`` callbacks run after every successful save (the embedded mode's
    projections catch up there).
    """

    def __init__(self, app: Application[str], cache_size: int | None) -> None:
        self.app = app
        self.cache = AggregateCache(cache_size)
        self.after_save: list[Callable[[], None]] = []
        #: The log's last notification id when the gate last opened.
        self.log_head: int | None = None
        self._last_seen: tuple[int, datetime] | None = None

    # ------------------------------------------------------------------ time

    def last_recorded_at(self) -> datetime | None:
        """The moment of the log's last event (the write gate stamps after it)."""
        recorder: Any = self.app.recorder
        max_id = recorder.max_notification_id()
        self.log_head = max_id
        if max_id is None:
            return None
        if self._last_seen and self._last_seen[0] == max_id:
            return self._last_seen[1]
        (notification,) = recorder.select_notifications(start=max_id, limit=1)
        ts: datetime = self.app.mapper.to_domain_event(notification).timestamp  # type: ignore[attr-defined]
        self._last_seen = (max_id, ts)
        return ts

    # -------------------------------------------------------------- reading

    def get(self, key: str) -> Any:
        """The aggregate ``key`` (cached or read), or ``None`` if there is none."""
        found, value = self.cache.lookup(key)
        if not found:
            try:
                value = self.app.repository.get(key, projector_func=project)
            except AggregateNotFoundError:
                value = None
            self.cache.put(key, value)
        return value

    def prefetch(self, keys: Iterable[str], loaded: Iterable[str] = ()) -> None:
        """Cache the aggregates of ``keys`` that are neither cached nor in ``loaded``,
        read with one query per 500."""
        skip = set(loaded)
        missing = sorted({k for k in keys if k not in skip and k not in self.cache.items})
        if missing:
            for key, value in self.load_many(missing).items():
                self.cache.put(key, value)

    def load_many(self, keys: Sequence[str]) -> dict[str, BaseAggregate[str] | None]:
        """Aggregates by id, read with one query per 500 ids (None where there is none)."""
        found: dict[str, BaseAggregate[str] | None] = dict.fromkeys(keys)
        mapper = self.app.mapper
        recorder: RegistryRecorder = self.app.recorder  # type: ignore[assignment]
        for i in range(0, len(keys), 500):
            events: dict[str, list[Any]] = {}
            for stored in recorder.select_stored_events(keys[i : i + 500]):
                events.setdefault(str(stored.originator_id), []).append(mapper.to_domain_event(stored))
            for key, evs in events.items():
                found[key] = project(None, evs)
        return found

    def sync(self) -> None:
        """Evict what others wrote since the cache was last current (inside the gate)."""
        cache = self.cache
        head = self.log_head or 0
        if cache.position == head:
            return
        if cache.position is None or head < cache.position or head - cache.position > 10_000:
            cache.clear()
        else:
            start = cache.position + 1
            while start <= head:
                page = self.app.recorder.select_notifications(start=start, limit=1000, stop=head)
                if not page:
                    break
                for notification in page:
                    cache.evict(str(notification.originator_id))
                start = page[-1].id + 1
        cache.position = head

    # --------------------------------------------------------------- saving

    def save(self, *aggregates: BaseAggregate[str]) -> None:
        """Store the aggregates' pending events in one transaction (inside the gate)."""
        try:
            events = self.collect(aggregates)
            recordings = self.put(events)
        except BaseException:
            for aggregate in aggregates:
                self.cache.evict(aggregate.id)
            raise
        self.recorded(aggregates, recordings)

    def put(self, events: list[Any]) -> list[Recording[str]]:
        """The events stored in one transaction, through the library's public event store
        (the registry takes no snapshots and has no ``_notify`` hook: ``Application.save``
        would add only its per-object protocol checks)."""
        return self.app.events.put(events)

    @staticmethod
    def collect(aggregates: Sequence[BaseAggregate[str]]) -> list[Any]:
        """The aggregates' pending events, in the order they are to be stored."""
        events: list[Any] = []
        for aggregate in aggregates:
            events.extend(aggregate.collect_events())
        # A batch stamps moments in command order across aggregates, but events
        # are collected aggregate by aggregate: store them in moment order, so
        # that notification order and recording moments agree (the sort is
        # stable, so each aggregate's own order is kept).
        events.sort(key=lambda e: e.timestamp)
        return events

    def recorded(self, aggregates: Sequence[BaseAggregate[str]], recordings: list[Recording[str]]) -> None:
        """What follows a successful save: the cache and the callbacks."""
        cache = self.cache
        if recordings:
            first, last = recordings[0], recordings[-1]
            self._last_seen = (last.notification.id, last.domain_event.timestamp)  # type: ignore[attr-defined]
            # Inside the gate nobody else writes: if our notifications follow the
            # cache's position, the cache stays current (else the next sync evicts).
            if cache.position is not None and first.notification.id == cache.position + 1:
                cache.position = last.notification.id
        for aggregate in aggregates:
            cache.put(aggregate.id, aggregate)
        for callback in self.after_save:
            callback()
