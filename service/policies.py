"""Policy commands: record a policy version; the policy book the rules are checked against."""

from __future__ import annotations

import bisect
from datetime import date

from eventsourcing.application import AggregateNotFoundError

from domain import access
from domain.history import SYSTEM, Actor
from domain.policy import PolicyBook, PolicyVersion, RecordedPolicy, ResolvedPolicy
from domain.policy_data import STATUTORY
from domain.reference import POLICY_KEY, PolicyRegister
from persistence.writegate import WriteGate
from service.store import AggregateStore
from service.unit_of_work import unit_of_work


class MemoPolicyBook(PolicyBook):
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


class PolicyCommands:
    """The policy register: statutory figures plus every recorded policy version."""

    def __init__(self, store: AggregateStore, gate: WriteGate) -> None:
        self.store = store
        self.gate = gate
        self._book: tuple[int, PolicyBook] | None = None

    def book(self) -> PolicyBook:
        """Statutory figures plus every recorded policy version (filter with ``known_at``)."""
        try:
            register: PolicyRegister | None = self.store.app.repository.get(POLICY_KEY)
        except AggregateNotFoundError:
            register = None
        return self.book_of(register)

    def book_of(self, register: PolicyRegister | None) -> PolicyBook:
        """The book of ``register`` (built once per version of the register)."""
        version = register.version if register else 0
        if self._book is None or self._book[0] != version:
            recorded = [RecordedPolicy(v, None) for v in STATUTORY]
            if register is not None:
                recorded += register.recorded
            self._book = (version, MemoPolicyBook(recorded))
        return self._book[1]

    def record(self, version: PolicyVersion, actor: Actor = SYSTEM) -> RecordedPolicy:
        access.require_role(actor, access.Role.ADMIN)
        access.require_scope(actor, version.jurisdiction)
        with unit_of_work(self.store, self.gate) as uow:
            at = uow.stamp()
            register: PolicyRegister | None = uow.get(POLICY_KEY)
            if register is None:
                uow.add(PolicyRegister.open(version, at))
            else:
                register.record(version, at)
            uow.commit()
        return RecordedPolicy(version, at)
