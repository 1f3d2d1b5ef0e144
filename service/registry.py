"""The application service: every command goes through :class:`Registry`.

It loads aggregates, asks the pure domain whether a command is legal, and saves
the household together with the index aggregates the command touched, in one
transaction of the eventsourcing library's recorder. Entry points (CLI, HTTP,
importers) stay thin: they parse input, call the registry, and render results.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic
from pydantic_core import to_json

from bootstrap import keys
from bootstrap.settings import Settings
from domain import access, divisions
from domain.errors import (
    DomainError,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    VersionConflict,
)
from domain.events import (
    EVENT_TYPES,
    META_EVENTS,
    EventBody,
    EventCorrected,
    EventRetracted,
    IdentificationProposed,
    MembersChanged,
    parse_new_event,
)
from domain.fold import Interval, Step, decide, intervals, replay
from domain.history import SYSTEM, Actor, EffectiveEvent, RecordedEvent, effective_events
from domain.household import (
    POLICY_KEY,
    STORED_TOPIC_MODULE,
    Division,
    DivisionVersion,
    Household,
    IdempotencyRecord,
    PersonIndex,
    PolicyRegister,
    QuotaLedger,
    division_key,
    person_key,
    quota_key,
)
from domain.policy import PolicyBook, PolicyVersion, RecordedPolicy, ResolvedPolicy
from domain.policy_data import STATUTORY
from domain.registry import (
    approval_of,
    changed_memberships,
    check_person_conflicts,
    check_quota,
)
from domain.rules import check_rules
from domain.state import HouseholdState, transition
from domain.vocab import ACTIVE
from persistence.ddl import schema_lock
from persistence.writegate import Clock, WriteGate, system_clock
from service import tokens

if TYPE_CHECKING:
    from service.groupcommit import GroupCommitter

HOUSEHOLD_TOPIC_PREFIX = f"{STORED_TOPIC_MODULE}:Household."


@dataclass(frozen=True)
class Command:
    """A request to record one household event."""

    payload: dict[str, Any]
    actor: Actor
    household_id: str | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Receipt:
    """The answer to an accepted command (API.md, "Answer 201")."""

    household_id: str
    event_id: str
    type: str
    version: int
    effective_date: date
    recorded_at: datetime
    status: str | None
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "household_id": self.household_id,
            "event_id": self.event_id,
            "type": self.type,
            "version": self.version,
            "effective_date": self.effective_date.isoformat(),
            "recorded_at": self.recorded_at.isoformat(timespec="microseconds"),
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], replayed: bool = False) -> Receipt:
        return cls(
            household_id=data["household_id"],
            event_id=data["event_id"],
            type=data["type"],
            version=data["version"],
            effective_date=date.fromisoformat(data["effective_date"]),
            recorded_at=datetime.fromisoformat(data["recorded_at"]),
            status=data["status"],
            replayed=replayed,
        )


def _project(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its per-event ``isinstance`` check
    against a runtime ``typing.Protocol`` (which cost ~100 µs per event replayed)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class _AggregateCache:
    """Aggregates as this registry last loaded or saved them, kept current with the log.

    Only the write path uses it, inside the write gate. ``position`` is the
    notification id up to which the cache is known to be current: when the gate
    opens and the log has moved on, what others wrote since is evicted
    (:meth:`Registry._sync_cache`). ``None`` marks an aggregate known not to exist.
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


class _MemoPolicyBook(PolicyBook):
    """A PolicyBook that remembers what it resolved (a book never changes once built).

    ``resolve(code, on)`` reads exactly the versions whose jurisdiction prefixes
    ``code`` and whose effective date is on or before ``on``; so its answer (which
    names neither) is the same for every code with the same matching jurisdictions
    and every date with the same versions in force. That is the memo's key.
    """

    def __init__(self, recorded: list[RecordedPolicy]) -> None:
        super().__init__(recorded)
        self._jurisdictions = sorted({r.version.jurisdiction for r in recorded})
        self._dates = sorted({r.version.effective_date for r in recorded})
        self._resolved: dict[tuple[tuple[str, ...], int], ResolvedPolicy] = {}
        self._matching: dict[str, tuple[str, ...]] = {}

    def resolve(self, division_code: str, on: date) -> ResolvedPolicy:
        matching = self._matching.get(division_code)
        if matching is None:
            matching = tuple(j for j in self._jurisdictions if division_code.startswith(j))
            if len(self._matching) < 100_000:
                self._matching[division_code] = matching
        key = (matching, bisect.bisect_right(self._dates, on))
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = super().resolve(division_code, on)
        return found


@dataclass
class _UnitOfWork:
    """Aggregates loaded and changed while handling a batch of commands.

    Reads go through the registry's cache; whatever a failed batch touched is
    evicted from it (:meth:`discard`), so the cache only ever holds saved state.
    """

    registry: Registry
    stamp: Callable[[], datetime]
    loaded: dict[str, BaseAggregate[str] | None] = field(default_factory=dict)

    def get(self, aggregate_id: str) -> Any:
        if aggregate_id not in self.loaded:
            cache = self.registry._cache
            found, value = cache.lookup(aggregate_id)
            if not found:
                try:
                    value = self.registry.repository.get(aggregate_id, projector_func=_project)
                except AggregateNotFoundError:
                    value = None
                cache.put(aggregate_id, value)
            self.loaded[aggregate_id] = value
        return self.loaded[aggregate_id]

    def prefetch(self, keys: Iterable[str]) -> None:
        """Load the aggregates of ``keys`` that are not cached, with one query per 500."""
        cache = self.registry._cache
        missing = sorted({k for k in keys if k not in self.loaded and k not in cache.items})
        if missing:
            for key, value in self.registry._load_many(missing).items():
                cache.put(key, value)

    def add(self, aggregate: BaseAggregate[str]) -> None:
        self.loaded[aggregate.id] = aggregate
        self.registry._cache.put(aggregate.id, aggregate)

    def changed(self) -> list[BaseAggregate[str]]:
        return [a for a in self.loaded.values() if a is not None and a.pending_events]

    def discard(self) -> None:
        """Forget everything this unit of work touched (its changes were not saved)."""
        for key in self.loaded:
            self.registry._cache.evict(key)


class Registry(Application[str]):
    """The registry of households, divisions, policies and tokens."""

    name = "povreg"

    def __init__(
        self, settings: Settings | None = None, clock: Clock = system_clock, cache_size: int | None = 20_000,
        token_clock: Clock = system_clock,
    ) -> None:
        """``cache_size``: aggregates the write path keeps in memory between batches
        (least recently used first out; ``None`` or 0: unbounded, for bulk loads).
        ``token_clock``: the wall clock tokens expire by."""
        # The key resolved first: given, kept beside the store, new, or "none" (plaintext).
        self.settings = keys.resolve_key(settings or Settings.from_env())
        self.token_clock = token_clock
        with schema_lock(self.settings):  # the library creates its tables here
            super().__init__(env=self.settings.eventsourcing_env())
        keys.check_key(self.settings, self.recorder, self.mapper)
        #: keys the ID-number index (a keyed hash): the store's own key, so the index
        #: reveals nothing without it (a plaintext store has no secret to key it with).
        self._secret = (self.settings.cipher_key if self.settings.encrypted else "povreg").encode()
        self.gate = WriteGate(
            last_recorded=self._last_recorded_at,
            clock=clock,
            sqlite_path=self.settings.sqlite_path if self.settings.backend == "sqlite" else None,
            postgres_conninfo=self.settings.postgres_conninfo() if self.settings.backend == "postgres" else None,
            lock_name=_gate_name(self.settings),
        )
        self._last_seen: tuple[int, datetime] | None = None
        self._policy_cache: tuple[int, PolicyBook] | None = None
        self._cache = _AggregateCache(cache_size)
        #: The log's last notification id when the gate last opened.
        self._log_head: int | None = None
        #: Called after every successful save (the embedded mode's projections).
        self.after_save: list[Callable[[], None]] = []
        self._committer: GroupCommitter | None = None
        self._committer_lock = threading.Lock()

    def construct_recorder(self) -> Any:
        return _fast_insert(super().construct_recorder())

    def construct_mapper(self) -> Mapper[str]:
        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=_JsonDataMapper)

    # ------------------------------------------------------------------ time

    def _last_recorded_at(self) -> datetime | None:
        max_id = self.recorder.max_notification_id()
        self._log_head = max_id
        if max_id is None:
            return None
        if self._last_seen and self._last_seen[0] == max_id:
            return self._last_seen[1]
        (notification,) = self.recorder.select_notifications(start=max_id, limit=1)
        ts: datetime = self.mapper.to_domain_event(notification).timestamp  # type: ignore[attr-defined]
        self._last_seen = (max_id, ts)
        return ts

    def today(self) -> date:
        return self.gate.clock().astimezone(self.settings.tz).date()

    def _save(self, *aggregates: BaseAggregate[str]) -> None:
        try:
            processing_event = self._collect(aggregates)
            recordings = self._record(processing_event)
        except BaseException:
            for aggregate in aggregates:
                self._cache.evict(aggregate.id)
            raise
        self._recorded(aggregates, processing_event, recordings)

    @staticmethod
    def _collect(aggregates: Sequence[BaseAggregate[str]]) -> ProcessingEvent[str]:
        """The aggregates' pending events, in the order they are to be stored."""
        # Application.save, less its per-aggregate isinstance checks against
        # runtime Protocols (~0.1 ms each): these are all aggregates.
        processing_event: ProcessingEvent[str] = ProcessingEvent()
        for aggregate in aggregates:
            processing_event.events.extend(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        # A batch stamps moments in command order across aggregates, but events
        # are collected aggregate by aggregate: store them in moment order, so
        # that notification order and recording moments agree (the sort is
        # stable, so each aggregate's own order is kept).
        processing_event.events.sort(key=lambda e: e.timestamp)  # type: ignore[attr-defined]
        return processing_event

    def _recorded(
        self, aggregates: Sequence[BaseAggregate[str]], processing_event: ProcessingEvent[str], recordings: list[Any]
    ) -> None:
        """What follows a successful save: the library's hooks, the cache, the callbacks."""
        cache = self._cache
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # type: ignore[arg-type]
        if recordings:
            first, last = recordings[0], recordings[-1]
            self._last_seen = (last.notification.id, last.domain_event.timestamp)
            # Inside the gate nobody else writes: if our notifications follow the
            # cache's position, the cache stays current (else the next sync evicts).
            if cache.position is not None and first.notification.id == cache.position + 1:
                cache.position = last.notification.id
        for aggregate in aggregates:
            cache.put(aggregate.id, aggregate)
        for callback in self.after_save:
            callback()

    # ------------------------------------------------- the write path's cache

    def _sync_cache(self) -> None:
        """Evict what others wrote since the cache was last current (inside the gate)."""
        cache = self._cache
        head = self._log_head or 0
        if cache.position == head:
            return
        if cache.position is None or head < cache.position or head - cache.position > 10_000:
            cache.clear()
        else:
            start = cache.position + 1
            while start <= head:
                page = self.recorder.select_notifications(start=start, limit=1000, stop=head)
                if not page:
                    break
                for notification in page:
                    cache.evict(str(notification.originator_id))
                start = page[-1].id + 1
        cache.position = head

    def _load_many(self, keys: Sequence[str]) -> dict[str, BaseAggregate[str] | None]:
        """Aggregates by id, read with one query per 500 ids (None where there is none)."""
        found: dict[str, BaseAggregate[str] | None] = dict.fromkeys(keys)
        for i in range(0, len(keys), 500):
            events: dict[str, list[Any]] = {}
            for stored in self._select_stored_events(list(keys[i : i + 500])):
                events.setdefault(str(stored.originator_id), []).append(self.mapper.to_domain_event(stored))
            for key, evs in events.items():
                found[key] = _project(None, evs)
        return found

    def _select_stored_events(self, ids: list[str]) -> list[StoredEvent]:
        """The stored events of several aggregates, by id and version (the library reads one
        aggregate per query; a batch of commands would pay one round trip per household)."""
        recorder: Any = self.recorder
        if self.settings.backend == "postgres":
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

    def notification_rows(self, after: int, limit: int) -> list[tuple[int, str, int, str, bytes]]:
        """Up to ``limit`` rows of the notification log after position ``after``, as plain
        tuples ``(position, originator_id, originator_version, topic, state)``.

        The library's ``select_notifications`` reads rows as dictionaries and wraps each
        in a ``Notification``; a rebuild reads the whole log in each of its processes, and
        reading it that way was 8 % of its audit lane (py-spy). Same rows, same order."""
        recorder: Any = self.recorder
        if self.settings.backend == "postgres":
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

    def _prefetch_keys(self, parsed: Sequence[tuple[Command, EventBody] | DomainError]) -> list[str]:
        """What a batch will read: its households, villages, ID numbers, idempotency records."""
        keys = [POLICY_KEY]
        for item in parsed:
            if isinstance(item, DomainError):
                continue
            command, body = item
            if command.household_id:
                keys.append(command.household_id)
            if command.idempotency_key:
                keys.append(self._idempotency_id(command))
            division_code = _division_code_of(body)
            if division_code:
                keys.append(division_key(division_code))
            if isinstance(body, IdentificationProposed):
                keys += [person_key(m.id_number, self._secret) for m in body.members]
            elif isinstance(body, MembersChanged):
                keys += [person_key(m.id_number, self._secret) for m in body.joined]
        return keys

    def _steps_of(self, household: Household) -> list[Step]:
        """The household's fold over everything recorded (cached per version)."""
        cached = self._cache.steps.get(household.id)
        if cached is not None and cached[0] == household.version:
            return cached[1]
        steps = replay(effective_events(household.history), household.id)
        self._cache.steps[household.id] = (household.version, steps)
        return steps

    @staticmethod
    def _decide(
        history: Sequence[RecordedEvent],
        old_steps: list[Step],
        candidate: RecordedEvent,
        policies: PolicyBook,
        today: date,
    ) -> tuple[list[Step], bool]:
        """:func:`decide`, without the full replay where none is needed.

        A plain event effective on or after the household's last effective date
        folds in last (valid-time order, ties by version) after a prefix that is
        unchanged and was legal when recorded (the state machine depends neither on
        time nor on policy): the new fold is the old one plus one transition, and
        the policy rules are checked for it with the state just before — what
        :func:`decide` computes and checks, in the same order. Anything else (a
        first event, a late event that lands before others, a correction, a
        retraction, a future date) goes to :func:`decide`. Returns the new fold and
        whether it is the old one plus one step.
        """
        body = candidate.body
        if (
            old_steps
            and history
            and body.type not in META_EVENTS
            and old_steps[-1].event.body.effective_date <= body.effective_date <= today
        ):
            before = old_steps[-1].state
            event = EffectiveEvent(candidate, body)
            step = Step(event, transition(before, event, candidate.household_id))
            check_rules(before, body, policies.resolve(before.division_code, body.effective_date))
            return [*old_steps, step], True
        return decide(history, candidate, policies, today, old_steps), False

    # -------------------------------------------------------------- commands

    def record(self, command: Command) -> Receipt:
        """Record one household event, or raise the DomainError that refuses it."""
        (result,) = self.record_many([command])
        if isinstance(result, DomainError):
            raise result
        return result

    def record_many(self, commands: Sequence[Command]) -> list[Receipt | DomainError]:
        """Record a batch in one transaction; each refused command records nothing.

        Commands are checked in order, each seeing the ones accepted before it.
        """
        parsed = _parse(commands)
        for attempt in range(3):
            try:
                return self._record_batch(parsed)
            except IntegrityError:
                # Another writer outside this gate won a race: re-read and re-check.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _record_batch(
        self, parsed: Sequence[tuple[Command, EventBody] | DomainError]
    ) -> list[Receipt | DomainError]:
        with self.gate.open() as stamp:
            self._sync_cache()
            uow = _UnitOfWork(self, stamp)
            results, changed = self._check_batch(uow, parsed)
            if changed:
                try:
                    self._save(*changed)
                except IntegrityError:
                    uow.discard()
                    idem = self._idempotent_replays(parsed, results)
                    if idem is not None:
                        return idem
                    raise
                except BaseException:
                    uow.discard()
                    raise
        return results

    def _check_batch(
        self, uow: _UnitOfWork, parsed: Sequence[tuple[Command, EventBody] | DomainError]
    ) -> tuple[list[Receipt | DomainError], list[BaseAggregate[str]]]:
        """Handle each command in order (inside the gate); the results and the changed aggregates."""
        results: list[Receipt | DomainError] = []
        try:
            uow.prefetch(self._prefetch_keys(parsed))
            policies = self._policy_book_of(uow.get(POLICY_KEY))
            for item in parsed:
                if isinstance(item, DomainError):
                    results.append(item)
                    continue
                command, body = item
                try:
                    results.append(self._handle(uow, command, body, policies))
                except DomainError as exc:
                    results.append(exc)
            return results, uow.changed()
        except BaseException:
            uow.discard()
            raise

    def record_shared(self, command: Command) -> Receipt:
        """``record``, sharing a transaction with concurrent callers' commands (group commit,
        unless ``settings.group_commit`` is off): for servers answering many writers at once."""
        if not self.settings.group_commit:
            return self.record(command)
        if self._committer is None:
            with self._committer_lock:
                if self._committer is None:
                    from service.groupcommit import GroupCommitter

                    self._committer = GroupCommitter(self, wait=self.settings.group_commit_wait_ms / 1000)
        return self._committer.record(command)

    def bulk_writer(self, max_hold: float = 1.0) -> BulkWriter:
        """A writer for bulk loads that checks each batch while the previous one is written."""
        return BulkWriter(self, max_hold)

    def _idempotent_replays(
        self,
        parsed: Sequence[tuple[Command, EventBody] | DomainError],
        results: list[Receipt | DomainError],
    ) -> list[Receipt | DomainError] | None:
        """A lone command whose idempotency key was saved concurrently: answer as the first did."""
        if len(parsed) != 1 or isinstance(parsed[0], DomainError):
            return None
        command = parsed[0][0]
        if not command.idempotency_key:
            return None
        replay_ = self._check_idempotency(command)
        return [replay_] if replay_ else None

    def _idempotency_id(self, command: Command) -> str:
        """The record of a key is the token's that used it (by the token's id: two tokens
        may share a name); an actor without a token (the CLI) owns its keys by name."""
        actor = command.actor
        owner = f"\x01{actor.token_id}" if actor.token_id else actor.name
        digest = hashlib.sha256(f"{owner}\0{command.idempotency_key}".encode()).hexdigest()
        return f"idem:{digest}"

    @staticmethod
    def _request_hash(command: Command) -> str:
        canonical = json.dumps(
            [command.household_id, command.payload, command.expected_version],
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    def _check_idempotency(self, command: Command, uow: _UnitOfWork | None = None) -> Receipt | None:
        key = self._idempotency_id(command)
        record: IdempotencyRecord | None
        if uow is not None:
            record = uow.get(key)
        else:
            try:
                record = self.repository.get(key)
            except AggregateNotFoundError:
                record = None
        if record is None:
            return None
        if record.request_hash != self._request_hash(command):
            raise IdempotencyConflict(
                "this Idempotency-Key was already used with a different request",
                rule="idempotency_key_reused",
            )
        return Receipt.from_dict(record.response, replayed=True)

    def _handle(
        self, uow: _UnitOfWork, command: Command, body: EventBody, policies: PolicyBook
    ) -> Receipt:
        actor = command.actor
        household_id = command.household_id
        household: Household | None = None
        if household_id is not None:
            household = uow.get(household_id)
        if household is None:
            if not isinstance(body, IdentificationProposed):
                if household_id is None:
                    raise InvalidInput(
                        f"{body.type} needs a household_id", rule="household_id_required"
                    )
                raise NotFound(f"household {household_id} is not registered", rule="unknown_household")
            household_id = household_id or self.new_household_id(body.division_code)
            _check_household_id(household_id)
        assert household_id is not None
        history = household.history if household else []
        version = household.version if household else 0
        # Authorisation is by the household's current division, and by every division
        # the command moves it into (checked below, once the new fold is known).
        old_steps = self._steps_of(household) if household else []
        current_division = old_steps[-1].state.division_code if old_steps else None
        for division in {d for d in (current_division, _division_code_of(body)) if d}:
            access.may_record(actor, body.type, division)
            if division != current_division:
                self._require_village(uow, division)
        if isinstance(body, EventCorrected | EventRetracted):
            self._may_change(actor, history, old_steps, body.target_event_id)
        # After authorisation: an out-of-scope caller learns nothing about versions, nor
        # about the answers recorded under an idempotency key.
        if command.idempotency_key:
            first = self._check_idempotency(command, uow)
            if first is not None:
                return first
        if command.expected_version is not None and command.expected_version != version:
            raise VersionConflict(
                f"expected version {command.expected_version} but household {household_id} "
                f"is at version {version}",
                rule="expected_version_mismatch",
                expected_version=command.expected_version,
                current_version=version,
            )

        recorded_at = uow.stamp()
        candidate = RecordedEvent(
            event_id=_new_event_id(),
            household_id=household_id,
            version=version + 1,
            recorded_at=recorded_at,
            recorded_by=actor,
            body=body,
        )
        today = recorded_at.astimezone(self.settings.tz).date()
        new_steps, appended = self._decide(history, old_steps, candidate, policies, today)
        # A correction can move the household too (e.g. a corrected division_code).
        if appended and new_steps[-1].state.division_code == old_steps[-1].state.division_code:
            moved_into: set[str] = set()  # one step appended, in the division it was in
        else:
            moved_into = {st.state.division_code for st in new_steps} - {st.state.division_code for st in old_steps}
        for division in moved_into:
            access.may_record(actor, body.type, division)
            self._require_village(uow, division)
        # Check everything before changing anything: a refused command leaves the
        # unit of work exactly as it found it. One step appended that keeps the
        # active members as they were changes no one's membership spans.
        same_people = appended and _same_active_ids(old_steps[-1].state, new_steps[-1].state)
        effects = [
            *(
                []
                if same_people
                else self._check_people(uow, household_id, old_steps, new_steps, recorded_at, actor.division)
            ),
            # One step appended that is no approval leaves the approval where it was.
            *(
                []
                if appended and body.type != "IdentificationApproved"
                else self._count_quota(uow, household_id, old_steps, new_steps, policies, recorded_at)
            ),
        ]
        for effect in effects:
            effect()
        if household is None:
            household = Household.start(candidate)
            uow.add(household)
        else:
            household.append(candidate)
        self._cache.steps[household_id] = (household.version, new_steps)
        receipt = Receipt(
            household_id=household_id,
            event_id=candidate.event_id,
            type=body.type,
            version=candidate.version,
            effective_date=body.effective_date,
            recorded_at=recorded_at,
            # One step appended, effective today at the latest: it is the state today.
            status=new_steps[-1].state.status.value if appended else _status_on(new_steps, today),
        )
        if command.idempotency_key:
            uow.add(
                IdempotencyRecord.store(
                    self._idempotency_id(command), self._request_hash(command), receipt.as_dict(), recorded_at
                )
            )
        return receipt

    @staticmethod
    def _may_change(actor: Actor, history: Sequence[RecordedEvent], steps: Sequence[Step], target_id: str) -> None:
        """A correction or retraction is judged as its target's type would be (who may
        record it, where); an unknown target is left to the domain's own refusal."""
        target = access.change_target(history, target_id)
        if target is None:
            return
        divisions: set[str] = set()
        for i, step in enumerate(steps):
            if step.event.event_id == target.event_id:
                divisions.add(step.state.division_code)
                if i:
                    divisions.add(steps[i - 1].state.division_code)
        access.may_change(actor, target.type, divisions)

    def new_household_id(self, division_code: str) -> str:
        """A fresh registry number: ``H-`` + the village code + a random suffix."""
        return f"H-{division_code}-{secrets.token_hex(4).upper()}"

    def _require_village(self, uow: _UnitOfWork, code: str) -> None:
        if uow.get(division_key(code)) is None:
            raise InvalidInput(
                f"division {code} is not a registered village",
                rule="unknown_division",
                errors=[{"loc": ["division_code"], "msg": "not a registered village"}],
            )

    def _check_people(
        self,
        uow: _UnitOfWork,
        household_id: str,
        old_steps: list[Step],
        new_steps: list[Step],
        at: datetime,
        scope: str = "",
    ) -> list[Callable[[], None]]:
        effects: list[Callable[[], None]] = []
        for id_number, spans in changed_memberships(old_steps, new_steps).items():
            key = person_key(id_number, self._secret)
            index: PersonIndex | None = uow.get(key)
            if index is not None:
                others = {}
                for other_id in index.households:
                    if other_id == household_id:
                        continue
                    other: Household | None = uow.get(other_id)
                    if other is not None:
                        others[other_id] = self._steps_of(other)
                check_person_conflicts(household_id, id_number, spans, others, scope)
                effects.append(partial(index.list_household, household_id, at))
            else:
                effects.append(partial(uow.add, PersonIndex.open(key, household_id, at)))
        return effects

    def _count_quota(
        self,
        uow: _UnitOfWork,
        household_id: str,
        old_steps: list[Step],
        new_steps: list[Step],
        policies: PolicyBook,
        at: datetime,
    ) -> list[Callable[[], None]]:
        before, after = approval_of(old_steps), approval_of(new_steps)
        if before == after:
            return []
        effects: list[Callable[[], None]] = []
        old_ledger = new_ledger = None
        if before is not None:
            old_ledger = self._quota_ledger_key(before.division_code, before.on, policies)
        if after is not None:
            new_ledger = self._quota_ledger_key(after.division_code, after.on, policies)
        if old_ledger and old_ledger != new_ledger:
            ledger: QuotaLedger | None = uow.get(old_ledger[0])
            if ledger is not None:
                effects.append(partial(ledger.release, household_id, at))
        if new_ledger:
            key, jurisdiction, year, quota = new_ledger
            ledger = uow.get(key)
            check_quota(jurisdiction, year, quota, ledger.households if ledger else set(), household_id)
            if ledger is None:
                effects.append(partial(uow.add, QuotaLedger.open(key, household_id, at)))
            else:
                effects.append(partial(ledger.count, household_id, at))
        return effects

    @staticmethod
    def _quota_ledger_key(
        division_code: str, on: date, policies: PolicyBook
    ) -> tuple[str, str, int, int] | None:
        policy = policies.resolve(division_code, on)
        if policy.identification_quota is None:
            return None
        jurisdiction = policy.provenance["identification_quota"][0]
        return quota_key(jurisdiction, on.year), jurisdiction, on.year, policy.identification_quota

    # ------------------------------------------------------------- reading

    def household(self, household_id: str) -> Household:
        # One query and a plain replay (``_load_many``): the repository's replay checks every
        # event against a runtime Protocol, which doubled the cost of a scoped card read.
        found = self._load_many([household_id])[household_id]
        if not isinstance(found, Household):
            raise NotFound(f"household {household_id} is not registered", rule="unknown_household")
        return found

    def history(self, household_id: str) -> list[RecordedEvent]:
        return list(self.household(household_id).history)

    def state_as_of(
        self, household_id: str, as_of: date | None = None, known_at: datetime | None = None
    ) -> HouseholdState:
        """The household's state by replaying its events (the projections answer faster)."""
        as_of = as_of or self.today()
        history = self.history(household_id)
        state = None
        for step in replay(effective_events(history, known_at), household_id):
            if step.event.effective_date > as_of:
                break
            state = step.state
        if state is None:
            raise NotFound(
                f"household {household_id} is not on the register as of {as_of}"
                + (f" as known at {known_at.isoformat()}" if known_at else ""),
                rule="not_on_register",
            )
        return state

    def timeline(self, household_id: str, known_at: datetime | None = None) -> list[Interval]:
        history = self.history(household_id)
        return intervals(replay(effective_events(history, known_at), household_id))

    # ------------------------------------------------------------ divisions

    def put_division(
        self, code: str, name: str, rural_population: int, effective_date: date, actor: Actor = SYSTEM
    ) -> tuple[Division, bool]:
        """Register or update a division; returns it and whether it was new."""
        access.require_role(actor, access.Role.ADMIN)
        if not divisions.is_registrable(code):
            raise InvalidInput(
                "区划代码须为 6 位（县）、9 位（乡镇）或 12 位（村）ASCII 数字",
                detail_en="a division code is 6 (county), 9 (township) or 12 (village) ASCII digits",
                rule="division_code_format",
                errors=[{"loc": ["code"], "msg": "6, 9 or 12 ASCII digits"}],
            )
        access.require_scope(actor, code)
        if not name.strip() or len(name) > 100:
            raise InvalidInput("a division needs a name of 1–100 characters", rule="division_name")
        if rural_population < 0:
            raise InvalidInput("rural_population cannot be negative", rule="division_population")
        with self.gate.open() as stamp:
            uow = _UnitOfWork(self, stamp)
            for parent in divisions.parents(code):
                if uow.get(division_key(parent)) is None:
                    level = divisions.level(parent)
                    raise InvalidInput(
                        f"the {level} {parent} of division {code} is not registered",
                        rule="unknown_parent_division",
                    )
            if effective_date > stamp().astimezone(self.settings.tz).date():
                raise InvalidInput("effective_date is in the future", rule="future_effective_date")
            division: Division | None = uow.get(division_key(code))
            at = stamp()
            created = division is None
            if division is None:
                division = Division.register(code, name, rural_population, effective_date, at)
            else:
                latest = division.versions[-1]
                if (latest.name, latest.rural_population, latest.effective_date) != (
                    name,
                    rural_population,
                    effective_date,
                ):
                    division.update(name, rural_population, effective_date, at)
            if division.pending_events:
                self._save(division)
        return division, created

    def division(self, code: str) -> Division:
        try:
            return self.repository.get(division_key(code))  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            raise NotFound(f"division {code} is not registered", rule="unknown_division") from None

    @staticmethod
    def population_on(division: Division, on: date, known_at: datetime | None = None) -> DivisionVersion | None:
        """The division's version in force on ``on`` as known at ``known_at``."""
        candidates = [
            v
            for v in division.versions
            if v.effective_date <= on and (known_at is None or v.recorded_at <= known_at)
        ]
        return max(candidates, key=lambda v: (v.effective_date, v.recorded_at), default=None)

    # -------------------------------------------------------------- policy

    def policy_book(self) -> PolicyBook:
        """Statutory figures plus every recorded policy version (filter with ``known_at``)."""
        try:
            register: PolicyRegister | None = self.repository.get(POLICY_KEY)
        except AggregateNotFoundError:
            register = None
        return self._policy_book_of(register)

    def _policy_book_of(self, register: PolicyRegister | None) -> PolicyBook:
        version = register.version if register else 0
        if self._policy_cache is None or self._policy_cache[0] != version:
            recorded = [RecordedPolicy(v, None) for v in STATUTORY]
            if register is not None:
                recorded += register.recorded
            self._policy_cache = (version, _MemoPolicyBook(recorded))
        return self._policy_cache[1]

    def record_policy(self, version: PolicyVersion, actor: Actor = SYSTEM) -> RecordedPolicy:
        access.require_role(actor, access.Role.ADMIN)
        access.require_scope(actor, version.jurisdiction)
        with self.gate.open() as stamp:
            at = stamp()
            try:
                register: PolicyRegister = self.repository.get(POLICY_KEY)
                register.record(version, at)
            except AggregateNotFoundError:
                register = PolicyRegister.open(version, at)
            self._save(register)
        return RecordedPolicy(version, at)

    # -------------------------------------------------------------- tokens

    def create_token(
        self, role: str, division: str = "", name: str | None = None,
        expires_in_days: int = tokens.DEFAULT_EXPIRY_DAYS,
    ) -> str:
        """Issue a token and return its secret (only its hash is stored)."""
        return self.issue_token(role, division, name, expires_in_days).token

    def issue_token(
        self, role: str, division: str = "", name: str | None = None,
        expires_in_days: int = tokens.DEFAULT_EXPIRY_DAYS, actor: Actor = SYSTEM,
    ) -> tokens.IssuedToken:
        """Issue a token: its id, secret and expiry (:mod:`service.tokens`)."""
        return tokens.issue_token(self, role, division, name, expires_in_days, actor)

    def authenticate(self, secret: str) -> Actor:
        """The token's actor, or :class:`Unauthenticated` (unknown, revoked or expired)."""
        return tokens.authenticate(self, secret)

    def list_tokens(self, actor: Actor = SYSTEM) -> list[dict[str, Any]]:
        return tokens.list_tokens(self, actor)

    def revoke_token(self, token_id: str, actor: Actor = SYSTEM) -> dict[str, Any]:
        return tokens.revoke_token(self, token_id, actor)

    # ----------------------------------------------------------- the feed

    def feed(self, after: int = 0, limit: int = 100) -> list[tuple[int, RecordedEvent]]:
        """Household events in recording order after notification ``after``."""
        items: list[tuple[int, RecordedEvent]] = []
        start = after + 1
        while len(items) < limit:
            page = self.recorder.select_notifications(start=start, limit=max(limit, 100))
            if not page:
                break
            for n in page:
                if n.topic.startswith(HOUSEHOLD_TOPIC_PREFIX):
                    ev = self.mapper.to_domain_event(n)
                    items.append((n.id, to_recorded_event(ev)))
                    if len(items) == limit:
                        break
            start = page[-1].id + 1
        return items

    def close(self) -> None:
        if self._committer is not None:
            self._committer.close()
        self.gate.close()
        super().close()


#: Event classes whose fields, but for ``timestamp``, are JSON data by construction
#: (strings, numbers, and bodies dumped with ``model_dump(mode="json")``).
_JSON_DATA_EVENTS = frozenset({
    Household.Identified, Household.Recorded, PersonIndex.Opened, PersonIndex.Listed,
    QuotaLedger.Opened, QuotaLedger.Counted, QuotaLedger.Released, IdempotencyRecord.Stored,
})


class _JsonDataMapper(Mapper[str]):
    """The library's mapper, encoding the registry's own write-path events in Rust.

    The library's transcoder runs ``json``'s encoder with a Python callback for the
    timestamp (~12 % of a batched save). For the events above the only value that
    needs a transcoding is the top-level ``timestamp``: it is wrapped as the
    library's ``datetime_iso`` transcoding would wrap it, and the rest is written by
    pydantic-core's ``to_json`` — the same JSON (keys in order, non-ASCII as UTF-8,
    ``Infinity``/``NaN`` as Python's ``json`` writes them), which the library's
    transcoder decodes to the same event; only a float's exponent may be spelled
    differently (``1e-7`` for ``1e-07``). Any other event goes the library's way.
    """

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        cls = type(domain_event)
        timestamp = getattr(domain_event, "timestamp", None)
        if (
            cls not in _JSON_DATA_EVENTS
            or type(timestamp) is not datetime
            or not isinstance(self.transcoder, JSONTranscoder)
            or self.transcoder.types.get(datetime) is None
        ):
            return super().to_stored_event(domain_event)
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        state["timestamp"] = {"_type_": self.transcoder.types[datetime].name, "_data_": timestamp.isoformat()}
        data = to_json(state, inf_nan_mode="constants")
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(originator_id=originator_id, originator_version=originator_version,
                           topic=get_topic(cls), state=data)


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
    conflict is not repeated here.) Without PostgreSQL, or with callbacks after
    each save (the embedded mode's projections), it is ``record_many``.
    """

    def __init__(self, registry: Registry, max_hold: float = 1.0) -> None:
        self.registry = registry
        self.max_hold = max_hold
        pipelined = registry.settings.backend == "postgres" and not registry.after_save
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="povreg-save") if pipelined else None
        self._gate: Any = None
        self._stamp: Callable[[], datetime] | None = None
        self._opened = 0.0
        self._in_flight: tuple[Future[list[Any]], list[BaseAggregate[str]], ProcessingEvent[str]] | None = None

    def __enter__(self) -> BulkWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record_many(self, commands: Sequence[Command]) -> list[Receipt | DomainError]:
        """Check a batch and start saving it; each refused command records nothing."""
        registry = self.registry
        if self._pool is None:
            return registry.record_many(commands)
        parsed = _parse(commands)
        if self._stamp is not None and time.monotonic() - self._opened > self.max_hold:
            self._release()
        stamp = self._hold()
        try:
            results, changed = registry._check_batch(_UnitOfWork(registry, stamp), parsed)
        except BaseException:
            self._release()
            raise
        self._finish()
        if changed:
            processing_event = registry._collect(changed)
            self._in_flight = (self._pool.submit(registry._record, processing_event), changed, processing_event)
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
            self._gate = self.registry.gate.open()
            self._stamp = self._gate.__enter__()
            self._opened = time.monotonic()
            self.registry._sync_cache()
        return self._stamp

    def _finish(self) -> None:
        """Wait for the save in flight; on failure empty the cache, release the gate, raise."""
        if self._in_flight is None:
            return
        future, aggregates, processing_event = self._in_flight
        self._in_flight = None
        try:
            recordings = future.result()
        except BaseException:
            # The batch checked since was checked against this one's state.
            self.registry._cache.clear()
            self._release()
            raise
        self.registry._recorded(aggregates, processing_event, recordings)

    def _release(self) -> None:
        try:
            self._finish()
        finally:
            if self._gate is not None:
                gate, self._gate, self._stamp = self._gate, None, None
                gate.__exit__(None, None, None)


def _gate_name(settings: Settings) -> str:
    """The write gate's name: one per store. On PostgreSQL a store is a schema, and
    registries of other schemas in the same database need not wait for each other."""
    schema = settings.postgres_params().get("schema") if settings.backend == "postgres" else None
    return f"povreg-writer:{schema}" if schema else "povreg-writer"


def _parse(commands: Sequence[Command]) -> list[tuple[Command, EventBody] | DomainError]:
    """Each command with its validated body, or the InvalidInput that refuses it."""
    parsed: list[tuple[Command, EventBody] | DomainError] = []
    for command in commands:
        try:
            parsed.append((command, parse_new_event(command.payload)))
        except DomainError as exc:
            parsed.append(exc)
    return parsed


def _fast_insert(recorder: Any) -> Any:
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


def to_recorded_event(ev: Any) -> RecordedEvent:
    """The RecordedEvent of a stored Household event (as the notification log decodes it)."""
    holder = Household.__new__(Household)
    holder.history = []
    Household.Event.apply(ev, holder)
    return holder.history[0]


#: The event models that have a ``division_code``.
_WITH_DIVISION = frozenset(cls for cls in EVENT_TYPES.values() if "division_code" in cls.model_fields)


def _division_code_of(body: EventBody) -> str | None:
    """``getattr(body, "division_code", None)``, without pydantic's slow AttributeError
    for the events that have no such field (event models forbid extra fields)."""
    return body.division_code if type(body) in _WITH_DIVISION else None  # type: ignore[attr-defined]


class _Entropy(threading.local):
    """Random bytes drawn from the OS 64 KiB at a time, per thread. ``os.urandom`` is a
    system call that releases the GIL: once per event, the thread checking a batch lost
    the GIL to the thread saving the previous one at every id (py-spy: 4 % of a load)."""

    SIZE = 16 * 4096

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.pool = b""
        self.at = 0

    def take16(self) -> bytes:
        at = self.at
        if at + 16 > len(self.pool):
            self.pool, at = os.urandom(self.SIZE), 0
        self.at = at + 16
        return self.pool[at : at + 16]


_entropy = _Entropy()
# A forked child must not hand out the ids its parent's pool would.
os.register_at_fork(after_in_child=_entropy.reset)


def _new_event_id() -> str:
    """``str(uuid.uuid4())`` at a third of its cost: 122 random bits, version 4, RFC 4122 variant."""
    h = _entropy.take16().hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _active_ids(state: HouseholdState) -> frozenset[str]:
    """The ID numbers a state keeps on the register (as ``active_memberships`` counts them)."""
    return frozenset(m.id_number for m in state.members) if state.status in ACTIVE else frozenset()


def _same_active_ids(a: HouseholdState, b: HouseholdState) -> bool:
    if a.members is b.members and (a.status in ACTIVE) == (b.status in ACTIVE):
        return True  # the fold keeps the members' tuple unless the members change
    return _active_ids(a) == _active_ids(b)


def _check_household_id(household_id: str) -> None:
    # No ':' (the other aggregates' keys have one) and not the policy register's key.
    if (
        not household_id
        or len(household_id) > 64
        or household_id == POLICY_KEY
        or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in household_id)
    ):
        raise InvalidInput(
            "household_id is 1–64 letters, digits, '-', '_' or '.'",
            rule="household_id_format",
            errors=[{"loc": ["household_id"], "msg": "1–64 letters, digits, '-', '_' or '.'"}],
        )


def _status_on(steps: Sequence[Step], today: date) -> str | None:
    state = None
    for step in steps:
        if step.event.effective_date > today:
            break
        state = step.state
    return state.status.value if state else None


def utcnow() -> datetime:
    return datetime.now(UTC)


def iter_jsonl(lines: Iterable[str]) -> Iterable[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, object or None, error or None) for each non-blank line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, f"not JSON: {exc.msg} at column {exc.colno}"
            continue
        if not isinstance(obj, dict):
            yield number, None, "each line must be a JSON object"
            continue
        yield number, obj, None
