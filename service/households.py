"""Household commands: check each against the pure domain and record it with what it touches.

A batch of commands runs in one unit of work inside the write gate: each command
is checked in order, seeing the ones accepted before it (its household, the
village it names, the person index of every ID number it moves, the quota ledger
of an approval, its idempotency record), and the batch's changes are saved in
one transaction. A refused command changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, tzinfo

from eventsourcing.persistence import IntegrityError

from domain import access
from domain.commands import Command, Receipt
from domain.errors import DomainError, InvalidInput, NotFound, VersionConflict
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
from domain.fold import Step, decide, replay
from domain.history import Actor, EffectiveEvent, RecordedEvent, effective_events
from domain.household import Household, person_key
from domain.policy import PolicyBook
from domain.reference import POLICY_KEY, division_key
from domain.rules import check_rules
from domain.state import transition
from persistence.writegate import WriteGate
from service import idempotency
from service.divisions import require_village
from service.ids import new_event_id
from service.indexes import check_people, count_quota, same_active_ids
from service.policies import PolicyCommands
from service.store import AggregateStore
from service.unit_of_work import UnitOfWork, unit_of_work

#: A command with its validated body, or the error that refuses it before any check.
Parsed = tuple[Command, EventBody] | DomainError


class HouseholdCommands:
    def __init__(
        self, store: AggregateStore, gate: WriteGate, policies: PolicyCommands, tz: tzinfo, secret: bytes
    ) -> None:
        self.store = store
        self.gate = gate
        self.policies = policies
        self.tz = tz
        #: the key of the person index's keyed hash of ID numbers
        self.secret = secret

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
        parsed = parse(commands)
        for attempt in range(3):
            try:
                return self._record_batch(parsed)
            except IntegrityError:
                # Another writer outside this gate won a race: re-read and re-check.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _record_batch(self, parsed: Sequence[Parsed]) -> list[Receipt | DomainError]:
        with unit_of_work(self.store, self.gate) as uow:
            results = self.check_batch(uow, parsed)
            try:
                uow.commit()
            except IntegrityError:
                replayed = self._saved_concurrently(parsed, UnitOfWork(self.store, uow.stamp))
                if replayed is None:
                    raise
                return replayed
        return results

    def check_batch(self, uow: UnitOfWork, parsed: Sequence[Parsed]) -> list[Receipt | DomainError]:
        """Handle each command in order in ``uow`` (inside the gate); an answer for each."""
        results: list[Receipt | DomainError] = []
        uow.prefetch(self._prefetch_keys(parsed))
        policies = self.policies.book_of(uow.get(POLICY_KEY))
        for item in parsed:
            if isinstance(item, DomainError):
                results.append(item)
                continue
            command, body = item
            try:
                results.append(self._handle(uow, command, body, policies))
            except DomainError as exc:
                results.append(exc)
        return results

    def _saved_concurrently(self, parsed: Sequence[Parsed], uow: UnitOfWork) -> list[Receipt | DomainError] | None:
        """A lone command whose idempotency key was saved concurrently: answer as the first did."""
        if len(parsed) != 1 or isinstance(parsed[0], DomainError):
            return None
        command = parsed[0][0]
        if not command.idempotency_key:
            return None
        first = idempotency.first_answer(command, uow)
        return [first] if first else None

    def _prefetch_keys(self, parsed: Sequence[Parsed]) -> list[str]:
        """What a batch will read: its households, villages, ID numbers, idempotency records."""
        keys = [POLICY_KEY]
        for item in parsed:
            if isinstance(item, DomainError):
                continue
            command, body = item
            if command.household_id:
                keys.append(command.household_id)
            if command.idempotency_key:
                keys.append(idempotency.record_key(command))
            division_code = division_code_of(body)
            if division_code:
                keys.append(division_key(division_code))
            if isinstance(body, IdentificationProposed):
                keys += [person_key(m.id_number, self.secret) for m in body.members]
            elif isinstance(body, MembersChanged):
                keys += [person_key(m.id_number, self.secret) for m in body.joined]
        return keys

    def steps_of(self, household: Household) -> list[Step]:
        """The household's fold over everything recorded (cached per version)."""
        steps_cache = self.store.cache.steps
        cached = steps_cache.get(household.id)
        if cached is not None and cached[0] == household.version:
            return cached[1]
        steps = replay(effective_events(household.history), household.id)
        steps_cache[household.id] = (household.version, steps)
        return steps

    def _handle(self, uow: UnitOfWork, command: Command, body: EventBody, policies: PolicyBook) -> Receipt:
        actor = command.actor
        household_id = command.household_id
        household: Household | None = None
        if household_id is not None:
            household = uow.get(household_id)
        if household is None:
            if not isinstance(body, IdentificationProposed):
                if household_id is None:
                    raise InvalidInput(
                        f"{body.type} 需要户编号(household_id)", detail_en=f"{body.type} needs a household_id",
                        rule="household_id_required",
                    )
                raise NotFound(f"贫困户 {household_id} 未登记", detail_en=f"household {household_id} is not registered",
                               rule="unknown_household")
            household_id = household_id or new_household_id(body.division_code)
            check_household_id(household_id)
        assert household_id is not None
        history = household.history if household else []
        version = household.version if household else 0
        # Authorisation is by the household's current division, and by every division
        # the command moves it into (checked below, once the new fold is known).
        old_steps = self.steps_of(household) if household else []
        current_division = old_steps[-1].state.division_code if old_steps else None
        for division in {d for d in (current_division, division_code_of(body)) if d}:
            access.may_record(actor, body.type, division)
            if division != current_division:
                require_village(uow, division)
        if isinstance(body, EventCorrected | EventRetracted):
            _may_change(actor, history, old_steps, body.target_event_id)
        # After authorisation: an out-of-scope caller learns nothing about versions, nor
        # about the answers recorded under an idempotency key.
        if command.idempotency_key:
            first = idempotency.first_answer(command, uow)
            if first is not None:
                return first
        if command.expected_version is not None and command.expected_version != version:
            raise VersionConflict(
                f"期望版本为 {command.expected_version},但贫困户 {household_id} 当前为版本 {version}",
                detail_en=f"expected version {command.expected_version} but household {household_id} "
                f"is at version {version}",
                rule="expected_version_mismatch",
                expected_version=command.expected_version,
                current_version=version,
            )

        recorded_at = uow.stamp()
        candidate = RecordedEvent(
            event_id=new_event_id(),
            household_id=household_id,
            version=version + 1,
            recorded_at=recorded_at,
            recorded_by=actor,
            body=body,
        )
        today = recorded_at.astimezone(self.tz).date()
        new_steps, appended = decide_appending(history, old_steps, candidate, policies, today)
        # A correction can move the household too (e.g. a corrected division_code).
        if appended and new_steps[-1].state.division_code == old_steps[-1].state.division_code:
            moved_into: set[str] = set()  # one step appended, in the division it was in
        else:
            moved_into = {st.state.division_code for st in new_steps} - {st.state.division_code for st in old_steps}
        for division in moved_into:
            access.may_record(actor, body.type, division)
            require_village(uow, division)
        # Check everything before changing anything: a refused command leaves the
        # unit of work exactly as it found it. One step appended that keeps the
        # active members as they were changes no one's membership spans.
        same_people = appended and same_active_ids(old_steps[-1].state, new_steps[-1].state)
        effects = [
            *(
                []
                if same_people
                else check_people(
                    uow, household_id, old_steps, new_steps, recorded_at, self.secret, self.steps_of, actor.division
                )
            ),
            # One step appended that is no approval leaves the approval where it was.
            *(
                []
                if appended and body.type != "IdentificationApproved"
                else count_quota(uow, household_id, old_steps, new_steps, policies, recorded_at)
            ),
        ]
        for effect in effects:
            effect()
        if household is None:
            household = Household.start(candidate)
            uow.add(household)
        else:
            household.append(candidate)
        self.store.cache.steps[household_id] = (household.version, new_steps)
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
            idempotency.remember(command, receipt, uow, recorded_at)
        return receipt


def decide_appending(
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
        check_rules(before, body, policies)
        return [*old_steps, step], True
    return decide(history, candidate, policies, today, old_steps), False


def parse(commands: Sequence[Command]) -> list[Parsed]:
    """Each command with its validated body, or the InvalidInput that refuses it."""
    parsed: list[Parsed] = []
    for command in commands:
        try:
            parsed.append((command, parse_new_event(command.payload)))
        except DomainError as exc:
            parsed.append(exc)
    return parsed


def new_household_id(division_code: str) -> str:
    """A fresh registry number: ``H-`` + the village code + a random suffix."""
    return f"H-{division_code}-{secrets.token_hex(4).upper()}"


def check_household_id(household_id: str) -> None:
    """Refuse a household id that is not 1–64 letters, digits, '-', '_' or '.'."""
    # No ':' (the other aggregates' keys have one) and not the policy register's key.
    if (
        not household_id
        or len(household_id) > 64
        or household_id == POLICY_KEY
        or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in household_id)
    ):
        raise InvalidInput(
            "户编号须为 1–64 位字母、数字或 '-'、'_'、'.'",
            detail_en="household_id is 1–64 letters, digits, '-', '_' or '.'",
            rule="household_id_format",
            errors=[{"loc": ["household_id"], "msg": "1–64 letters, digits, '-', '_' or '.'"}],
        )


#: The event models that have a ``division_code``.
_WITH_DIVISION = frozenset(cls for cls in EVENT_TYPES.values() if "division_code" in cls.model_fields)


def division_code_of(body: EventBody) -> str | None:
    """``getattr(body, "division_code", None)``, without pydantic's slow AttributeError
    for the events that have no such field (event models forbid extra fields)."""
    return body.division_code if type(body) in _WITH_DIVISION else None  # type: ignore[attr-defined]


def _status_on(steps: Sequence[Step], today: date) -> str | None:
    state = None
    for step in steps:
        if step.event.effective_date > today:
            break
        state = step.state
    return state.status.value if state else None


def _may_change(actor: Actor, history: Sequence[RecordedEvent], steps: Sequence[Step], target_id: str) -> None:
    """A correction or retraction is judged as its target's type would be (who may record it,
    where); an unknown target is left to the domain's own refusal."""
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
