"""The application facade: every command and every read of the event store goes through :class:`Registry`.

``Registry(settings, clock=...)`` builds the eventsourcing application (its
recorder and mapper), the write gate, the aggregate store and the command
handlers, and offers them under one set of names. Entry points (CLI, HTTP,
importers) stay thin: they parse input, call the registry, and render results.

Where things are done:

- :mod:`service.households` — household commands (and :mod:`service.indexes`,
  :mod:`service.idempotency`, the cross-household checks they run);
- :mod:`service.divisions`, :mod:`service.policies`, :mod:`service.tokens` — the
  other command families; :mod:`service.groupcommit` shares transactions among concurrent writers;
- :mod:`service.unit_of_work` and :mod:`service.store` — what a command runs in,
  and how aggregates are loaded, cached and saved;
- :mod:`service.bulk` — the pipelined writer for bulk loads;
- :mod:`service.reads` and :mod:`service.feed` — reading households and the log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import partial
from typing import Any

from eventsourcing.application import Application
from eventsourcing.utils import Environment, EnvType

from bootstrap import keys
from bootstrap.settings import Settings
from domain.commands import Command, Receipt
from domain.errors import DomainError
from domain.fold import Interval
from domain.history import SYSTEM, Actor, RecordedEvent
from domain.household import Household
from domain.policy import PolicyBook, PolicyVersion, RecordedPolicy
from domain.reference import Division, DivisionDecision, DivisionVersion
from domain.state import HouseholdState
from persistence.db import connect
from persistence.ddl import schema_lock
from persistence.recorders import NotificationRow
from persistence.writegate import Clock, WriteGate, system_clock
from service import feed as _feed
from service import reads, tokens
from service.bulk import BulkWriter
from service.divisions import DivisionCommands, population_on
from service.groupcommit import GroupCommitter
from service.households import HouseholdCommands
from service.policies import PolicyCommands
from service.store import AggregateStore

#: The facade's own types, importable from here with it.
__all__ = ["Command", "Receipt", "Registry"]


class Registry(Application[str]):
    """The registry of households, divisions, policies and tokens."""

    name = "povreg"

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """The library's settings come from :class:`Settings` alone. The library would also read
        ``<NAME>_<KEY>`` from the process environment, and with the name "povreg" it would take
        ``POVREG_CIPHER_KEY=none`` (the plaintext opt-out) for a key: drop those."""
        environment = super().construct_env(name, env)
        prefix = f"{name.upper()}_"
        for key in [k for k in environment if k.startswith(prefix) and k not in (env or {})]:
            del environment[key]
        return environment

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
        self.store = AggregateStore(self, cache_size)
        self.gate = WriteGate(
            last_recorded=self.store.last_recorded_at,
            clock=clock,
            sqlite_path=self.settings.sqlite_path if self.settings.backend == "sqlite" else None,
            postgres_connect=partial(connect, self.settings) if self.settings.backend == "postgres" else None,
            lock_name=_gate_name(self.settings),
        )
        tz = self.settings.tz
        self.policies = PolicyCommands(self.store, self.gate)
        self.divisions = DivisionCommands(self.store, self.gate, tz)
        #: keys the ID-number index (a keyed hash): the store's own key, so the index
        #: reveals nothing without it (a plaintext store has no secret to key it with).
        secret = ((self.settings.cipher_key if self.settings.encrypted else None) or "povreg").encode()
        self.households = HouseholdCommands(self.store, self.gate, self.policies, tz, secret)
        self._committer: GroupCommitter | None = None
        self._committer_lock = threading.Lock()

    @property
    def after_save(self) -> list[Callable[[], None]]:
        """Called after every successful save (the embedded mode's projections)."""
        return self.store.after_save

    def today(self) -> date:
        return self.gate.clock().astimezone(self.settings.tz).date()

    # -------------------------------------------------------------- households

    def record(self, command: Command) -> Receipt:
        """Record one household event, or raise the DomainError that refuses it."""
        return self.households.record(command)

    def record_many(self, commands: Sequence[Command]) -> list[Receipt | DomainError]:
        """Record a batch in one transaction; each refused command records nothing."""
        return self.households.record_many(commands)

    def record_shared(self, command: Command) -> Receipt:
        """``record``, sharing a transaction with concurrent callers' commands (group commit,
        unless ``settings.group_commit`` is off): for servers answering many writers at once."""
        if not self.settings.group_commit:
            return self.record(command)
        if self._committer is None:
            with self._committer_lock:
                if self._committer is None:
                    self._committer = GroupCommitter(self, wait=self.settings.group_commit_wait_ms / 1000)
        return self._committer.record(command)

    def bulk_writer(self, max_hold: float = 1.0) -> BulkWriter:
        """A writer for bulk loads that checks each batch while the previous one is written
        (pipelined on PostgreSQL without after-save callbacks; else ``record_many``)."""
        pipelined = self.settings.backend == "postgres" and not self.after_save
        return BulkWriter(self.households, self.store, self.gate, pipelined, max_hold)

    def household(self, household_id: str) -> Household:
        return reads.household(self.store, household_id)

    def history(self, household_id: str) -> list[RecordedEvent]:
        return reads.history(self.store, household_id)

    def state_as_of(
        self, household_id: str, as_of: date | None = None, known_at: datetime | None = None
    ) -> HouseholdState:
        """The household's state by replaying its events (the projections answer faster)."""
        return reads.state_as_of(self.store, household_id, as_of or self.today(), known_at)

    def timeline(self, household_id: str, known_at: datetime | None = None) -> list[Interval]:
        return reads.timeline(self.store, household_id, known_at)

    # --------------------------------------------------------------- divisions

    def put_division(
        self, code: str, name: str, rural_population: int, effective_date: date, actor: Actor = SYSTEM
    ) -> tuple[Division, bool]:
        """Register or update a division; returns it and whether it was new."""
        return self.divisions.put(code, name, rural_population, effective_date, actor)

    def division(self, code: str) -> Division:
        return self.divisions.get(code)

    def record_division_decision(
        self, code: str, kind: str, effective_date: date, measured: tuple[int, int | None],
        actor: Actor = SYSTEM, reason: str | None = None, evidence: Sequence[str] = (),
    ) -> DivisionDecision:
        """贫困村出列 / 贫困县摘帽, judged against ``measured`` (poor persons, population) then."""
        return self.divisions.decide(code, kind, effective_date, measured, self.policies.book(), actor, reason,
                                     evidence)

    def division_decisions(self, code: str) -> list[DivisionDecision]:
        return self.divisions.decisions(code)

    @staticmethod
    def population_on(division: Division, on: date, known_at: datetime | None = None) -> DivisionVersion | None:
        """The division's version in force on ``on`` as known at ``known_at``."""
        return population_on(division, on, known_at)

    # ---------------------------------------------------------------- policies

    def policy_book(self) -> PolicyBook:
        """Statutory figures plus every recorded policy version (filter with ``known_at``)."""
        return self.policies.book()

    def record_policy(self, version: PolicyVersion, actor: Actor = SYSTEM) -> RecordedPolicy:
        return self.policies.record(version, actor)

    # ------------------------------------------------------------------ tokens

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

    # ------------------------------------------------------------------ the log

    def feed(self, after: int = 0, limit: int = 100) -> list[tuple[int, RecordedEvent]]:
        """Household events in recording order after notification ``after``."""
        return _feed.feed(self, after, limit)

    def notification_rows(self, after: int, limit: int) -> list[NotificationRow]:
        """Up to ``limit`` rows of the notification log after ``after``, as plain tuples
        ``(position, originator_id, originator_version, topic, state)``."""
        return self.recorder.notification_rows(after, limit)  # type: ignore[attr-defined,no-any-return]

    def close(self) -> None:
        if self._committer is not None:
            self._committer.close()
        self.gate.close()
        super().close()


def _gate_name(settings: Settings) -> str:
    """The write gate's name: one per store. On PostgreSQL a store is a schema, and
    registries of other schemas in the same database need not wait for each other."""
    schema = settings.postgres_params().get("schema") if settings.backend == "postgres" else None
    return f"povreg-writer:{schema}" if schema else "povreg-writer"
