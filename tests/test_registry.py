"""The application service on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bootstrap.settings import Settings
from domain.access import Forbidden
from domain.commands import Command
from domain.errors import (
    DomainError,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    RuleViolation,
    VersionConflict,
)
from domain.policy import PolicySettings, PolicyVersion
from domain.policy_data import LOCAL_POLICIES
from domain.vocab import Status
from service.registry import Registry
from tests.conftest import APPROVER, RECORDER
from tests.support import GUARANTEED, Clock, member, proposal


def record(registry: Registry, hid: str | None, payload: dict, actor=RECORDER, **kw) -> object:
    return registry.record(Command(payload, actor, household_id=hid, **kw))


def n_events(registry: Registry) -> int:
    return registry.recorder.max_notification_id() or 0


def worked_example(registry: Registry, clock: Clock) -> None:
    """The worked example of docs/domain.md, recorded at the moments it gives."""
    clock.set("2014-05-02T10:00:00+00:00")
    record(registry, "H-1", proposal())
    clock.set("2014-05-21T10:00:00+00:00")
    record(registry, "H-1", {"type": "IdentificationApproved", "effective_date": "2014-05-20"}, APPROVER)
    clock.set("2016-10-20T10:00:00+00:00")
    record(registry, "H-1", {"type": "IncomeAssessed", "effective_date": "2016-10-15", "year": 2016,
                              "income_per_capita": 3600})
    clock.set("2016-11-01T10:00:00+00:00")
    record(registry, "H-1", {"type": "ExitProposed", "effective_date": "2016-11-01", "pathway": "industry",
                              "guarantees": GUARANTEED})
    clock.set("2016-12-20T08:01:02.123456+00:00")
    record(registry, "H-1", {"type": "ExitConfirmed", "effective_date": "2016-11-15",
                              "household_acknowledged": True}, APPROVER)
    clock.set("2017-09-01T10:00:00+00:00")
    record(registry, "H-1", {"type": "ReturnedToPoverty", "effective_date": "2017-08-03", "cause": "illness"})


def test_worked_example(county: Registry, clock: Clock) -> None:
    worked_example(county, clock)
    clock.set("2018-03-01T00:00:00+00:00")
    known = lambda s: datetime.fromisoformat(s)  # noqa: E731
    assert county.state_as_of("H-1", date(2016, 12, 1), known("2016-12-10T00:00:00+00:00")).status == "exit_pending"
    assert county.state_as_of("H-1", date(2016, 12, 1)).status == Status.EXITED
    assert county.state_as_of("H-1", date(2017, 8, 15), known("2017-08-20T00:00:00+00:00")).status == "exited"
    assert county.state_as_of("H-1", date(2017, 8, 15)).status == Status.RETURNED
    with pytest.raises(NotFound):
        county.state_as_of("H-1", date(2014, 5, 1))
    with pytest.raises(NotFound):
        county.state_as_of("H-1", date(2015, 1, 1), known("2014-05-01T00:00:00+00:00"))

    confirm = county.history("H-1")[4]
    assert confirm.type == "ExitConfirmed"
    before = n_events(county)
    # Retracting an approver's decision is itself the approver's decision.
    with pytest.raises(Forbidden) as forbidden:
        record(county, "H-1", {"type": "EventRetracted", "effective_date": "2018-03-01",
                                "target_event_id": confirm.event_id, "reason": "data-entry error"})
    assert forbidden.value.rule == "correction_needs_role"
    with pytest.raises(RuleViolation) as refused:
        record(county, "H-1", {"type": "EventRetracted", "effective_date": "2018-03-01",
                                "target_event_id": confirm.event_id, "reason": "data-entry error"}, APPROVER)
    assert refused.value.rule == "illegal_transition"
    assert "ReturnedToPoverty" in refused.value.detail
    assert n_events(county) == before

    back = county.history("H-1")[5]
    record(county, "H-1", {"type": "EventRetracted", "effective_date": "2018-03-01",
                            "target_event_id": back.event_id, "reason": "depends on a wrong exit"})
    record(county, "H-1", {"type": "EventRetracted", "effective_date": "2018-03-01",
                            "target_event_id": confirm.event_id, "reason": "data-entry error"}, APPROVER)
    assert county.state_as_of("H-1", date(2017, 8, 15)).status == Status.EXIT_PENDING
    # The view as known before the retractions never changes.
    assert county.state_as_of("H-1", date(2017, 8, 15), known("2018-02-01T00:00:00+00:00")).status == "returned"
    assert [i.status for i in county.timeline("H-1")] == ["proposed", "poor", "exit_pending"]


def test_receipt_and_recording_moments(county: Registry, clock: Clock) -> None:
    clock.set("2014-05-02T10:00:00+00:00")
    first = record(county, None, proposal())
    assert first.household_id.startswith("H-620422100201-")
    assert first.version == 1 and first.status == "proposed"
    # The clock stands still: recording moments still increase strictly.
    second = record(county, first.household_id, {"type": "IdentificationRejected", "effective_date": "2014-05-02",
                                                  "reason": "objection upheld"}, APPROVER)
    assert second.version == 2 and second.status == "rejected"
    assert second.recorded_at > first.recorded_at


@pytest.mark.parametrize(
    ("payload", "error", "rule"),
    [
        (proposal(members=[{**member(1), "id_number": "620422198501010016"}]), InvalidInput, "invalid_fields"),
        (proposal(village="620422100299"), InvalidInput, "unknown_division"),
        (proposal(effective_date="2031-01-01"), InvalidInput, "future_effective_date"),
        ({"type": "Teleported", "effective_date": "2014-05-02"}, InvalidInput, "unknown_event_type"),
        ({"type": "IdentificationProposed", "effective_date": "2014-05-02"}, InvalidInput, "invalid_fields"),
    ],
)
def test_bad_input_records_nothing(county: Registry, clock: Clock, payload, error, rule) -> None:
    clock.set("2014-05-02T10:00:00+00:00")
    before = n_events(county)
    with pytest.raises(error) as refused:
        record(county, "H-9", payload)
    assert refused.value.rule == rule
    assert n_events(county) == before


def _registered(
    registry: Registry, clock: Clock, hid: str = "H-1", seq: int = 1, village: str = "620422100201"
) -> None:
    clock.set("2014-05-02T10:00:00+00:00")
    record(registry, hid, proposal(village=village, seq=seq))
    clock.set("2014-05-21T10:00:00+00:00")
    record(registry, hid, {"type": "IdentificationApproved", "effective_date": "2014-05-20"}, APPROVER)


def test_rules_refuse_and_record_nothing(county: Registry, clock: Clock) -> None:
    clock.set("2014-05-02T10:00:00+00:00")
    record(county, "H-1", proposal())
    clock.set("2014-05-06T10:00:00+00:00")
    with pytest.raises(RuleViolation) as early:
        record(county, "H-1", {"type": "IdentificationApproved", "effective_date": "2014-05-05"}, APPROVER)
    assert early.value.rule == "identification_notice_period"
    clock.set("2014-05-21T10:00:00+00:00")
    record(county, "H-1", {"type": "IdentificationApproved", "effective_date": "2014-05-20"}, APPROVER)
    clock.set("2015-06-01T10:00:00+00:00")
    record(county, "H-1", {"type": "IncomeAssessed", "effective_date": "2015-01-10", "year": 2014,
                            "income_per_capita": 2700})
    before = n_events(county)
    with pytest.raises(RuleViolation) as poor:
        record(county, "H-1", {"type": "ExitProposed", "effective_date": "2015-06-01", "pathway": "industry",
                                "guarantees": GUARANTEED})
    assert poor.value.rule == "exit_income_below_line"
    assert "2800" in poor.value.detail
    with pytest.raises(RuleViolation) as same_person:
        record(county, "H-2", proposal(effective_date="2015-06-01"))
    assert same_person.value.rule == "person_in_another_household"
    assert n_events(county) == before


def test_recorder_cannot_approve(county: Registry, clock: Clock) -> None:
    clock.set("2014-05-02T10:00:00+00:00")
    record(county, "H-1", proposal())
    clock.set("2014-05-21T10:00:00+00:00")
    with pytest.raises(DomainError) as refused:
        record(county, "H-1", {"type": "IdentificationApproved", "effective_date": "2014-05-20"}, RECORDER)
    assert isinstance(refused.value, Forbidden)


def test_quota_is_enforced_per_county_and_year(county: Registry, clock: Clock) -> None:
    county.record_policy(PolicyVersion(jurisdiction="620422", effective_date=date(2014, 1, 1),
                                       settings=PolicySettings(identification_quota=1)))
    _registered(county, clock, "H-1", seq=1)
    clock.set("2014-05-02T10:00:00+00:00")
    record(county, "H-2", proposal(seq=2))
    clock.set("2014-05-22T10:00:00+00:00")
    before = n_events(county)
    with pytest.raises(RuleViolation) as over:
        record(county, "H-2", {"type": "IdentificationApproved", "effective_date": "2014-05-20"}, APPROVER)
    assert over.value.rule == "identification_quota_exceeded"
    assert n_events(county) == before
    # A retracted approval frees its place.
    approval = county.history("H-1")[1]
    record(county, "H-1", {"type": "EventRetracted", "effective_date": "2014-05-22",
                            "target_event_id": approval.event_id, "reason": "approved in error"}, APPROVER)
    record(county, "H-2", {"type": "IdentificationApproved", "effective_date": "2014-05-20"}, APPROVER)


def test_quota_counts_the_approvals_recorded_before_it(county: Registry, clock: Clock) -> None:
    """A quota recorded after some approvals of its county-year counts them too."""
    for n in (1, 2):
        _registered(county, clock, f"H-{n}", seq=n)
    county.record_policy(PolicyVersion(jurisdiction="620422", effective_date=date(2014, 1, 1),
                                       settings=PolicySettings(identification_quota=3)))
    for n in (3, 4):
        clock.set("2014-05-02T10:00:00+00:00")
        record(county, f"H-{n}", proposal(seq=n))
    clock.set("2014-05-22T10:00:00+00:00")
    record(county, "H-3", {"type": "IdentificationApproved", "effective_date": "2014-05-20"}, APPROVER)
    with pytest.raises(RuleViolation) as over:
        record(county, "H-4", {"type": "IdentificationApproved", "effective_date": "2014-05-20"}, APPROVER)
    assert over.value.rule == "identification_quota_exceeded"
    assert over.value.context["approved"] == 3
    assert "已审定 3 户" in over.value.detail


def test_jurisdiction_poverty_line(county: Registry, clock: Clock) -> None:
    county.record_policy(LOCAL_POLICIES["taizhou-2016"].model_copy(update={"jurisdiction": "620422100"}))
    _registered(county, clock)
    clock.set("2017-03-01T10:00:00+00:00")
    record(county, "H-1", {"type": "IncomeAssessed", "effective_date": "2017-01-10", "year": 2016,
                            "income_per_capita": 5000})
    with pytest.raises(RuleViolation) as refused:
        record(county, "H-1", {"type": "ExitProposed", "effective_date": "2017-03-01", "pathway": "employment",
                                "guarantees": GUARANTEED})
    assert "7000" in refused.value.detail


def test_expected_version_and_idempotency(county: Registry, clock: Clock) -> None:
    _registered(county, clock)
    clock.set("2014-06-01T10:00:00+00:00")
    measure = {"type": "AssistanceMeasureAssigned", "effective_date": "2014-06-01", "category": "industry"}
    with pytest.raises(VersionConflict):
        record(county, "H-1", measure, expected_version=1)
    first = record(county, "H-1", measure, expected_version=2, idempotency_key="k-1")
    before = n_events(county)
    again = record(county, "H-1", measure, expected_version=2, idempotency_key="k-1")
    assert again.event_id == first.event_id and again.replayed
    assert n_events(county) == before
    with pytest.raises(IdempotencyConflict):
        record(county, "H-1", {**measure, "category": "housing"}, idempotency_key="k-1")
    with pytest.raises(NotFound):
        record(county, "H-404", measure)


def test_racing_writers_never_both_win(settings: Settings, county: Registry, clock: Clock) -> None:
    """Two registries (as two processes would) race on one household with the same expected version."""
    _registered(county, clock)
    clock.set("2014-06-01T10:00:00+00:00")
    other = Registry(settings, clock=clock)
    results: list[object] = []
    barrier = threading.Barrier(8)

    def write(reg: Registry, n: int) -> None:
        barrier.wait()
        try:
            results.append(record(reg, "H-1", {"type": "HelperAssigned", "effective_date": "2014-06-01",
                                               "helper_name": f"干部{n}"}, expected_version=2))
        except VersionConflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=write, args=(county if n % 2 else other, n)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    wins = [r for r in results if not isinstance(r, VersionConflict)]
    assert len(wins) == 1 and len(results) == 8
    history = county.history("H-1")
    assert len(history) == 3
    moments = [e.recorded_at for e in history]
    assert moments == sorted(moments) and len(set(moments)) == 3


def test_recording_moments_follow_commit_order_across_registries(settings: Settings, county: Registry) -> None:
    """Two writers whose clocks disagree still stamp moments in notification order."""
    behind = Registry(settings, clock=lambda: datetime(2014, 1, 1, tzinfo=UTC))
    ahead_clock = Clock(datetime(2014, 6, 1, tzinfo=UTC))
    ahead = Registry(settings, clock=ahead_clock)
    r1 = ahead.record(Command(proposal(seq=1), RECORDER, household_id="H-a"))
    r2 = behind.record(Command(proposal(seq=3, effective_date="2013-12-01"), RECORDER, household_id="H-b"))
    assert r2.recorded_at > r1.recorded_at
    behind.close()
    ahead.close()


def test_cipher_keeps_personal_information_encrypted(tmp_path, clock: Clock) -> None:
    from eventsourcing.cipher import AESCipher

    key = AESCipher.create_key(32)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'enc.db'}", cipher_key=key)
    reg = Registry(settings, clock=clock)
    clock.set("2014-01-02T00:00:00+00:00")
    reg.put_division("620422", "会宁县", 1, date(2014, 1, 1))
    reg.put_division("620422100", "会师镇", 1, date(2014, 1, 1))
    reg.put_division("620422100201", "南关村", 1, date(2014, 1, 1))
    clock.set("2014-05-02T10:00:00+00:00")
    reg.record(Command(proposal(), RECORDER, household_id="H-1"))
    assert reg.state_as_of("H-1", date(2014, 6, 1)).members[0].name == "成员1"
    reg.close()
    raw = (tmp_path / "enc.db").read_bytes()
    assert "成员1".encode() not in raw and member(1)["id_number"].encode() not in raw


def test_corrections_are_checked_like_the_events_they_change(county: Registry, clock: Clock) -> None:
    _registered(county, clock)
    proposed = county.history("H-1")[0]
    clock.set("2014-07-01T10:00:00+00:00")
    fix = {"type": "EventCorrected", "effective_date": "2014-07-01", "target_event_id": proposed.event_id,
           "reason": "wrong village typed"}
    with pytest.raises(InvalidInput) as unknown:
        record(county, "H-1", {**fix, "changes": {"division_code": "620422100299"}})
    assert unknown.value.rule == "unknown_division"
    with pytest.raises(InvalidInput) as bad_field:
        record(county, "H-1", {**fix, "changes": {"colour": "red"}})
    assert bad_field.value.rule == "correction_fields"
    from domain.history import Actor

    village_clerk = Actor("clerk", "recorder", "620422100201")
    with pytest.raises(Forbidden):
        record(county, "H-1", {**fix, "changes": {"division_code": "620422100202"}}, village_clerk)
    record(county, "H-1", {**fix, "changes": {"division_code": "620422100202", "effective_date": "2014-05-01"}})
    state = county.state_as_of("H-1", date(2014, 6, 1))
    assert state.division_code == "620422100202" and state.proposed_on == date(2014, 5, 1)
    # As known before the correction, the original stands.
    original = county.state_as_of("H-1", date(2014, 6, 1), datetime(2014, 6, 30, tzinfo=UTC))
    assert original.division_code == "620422100201"


APPROVE = {"type": "IdentificationApproved", "effective_date": "2014-05-20"}


def _bulk_batches(prefix: str, seq: int) -> list[list[Command]]:
    """Batches whose checks depend on the batches before them (versions, people, the state)."""
    a, b, c = f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"
    helper = {"type": "HelperAssigned", "effective_date": "2014-05-25", "helper_name": "干部"}
    return [
        [
            Command(proposal(seq=seq), RECORDER, household_id=a),
            Command(proposal(seq=seq + 1), RECORDER, household_id=b),
            Command({**APPROVE, "effective_date": "2014-05-03"}, APPROVER, household_id=a),  # notice period
            Command(helper, RECORDER, household_id=f"{prefix}-404"),  # no such household
        ],
        [
            Command(APPROVE, APPROVER, household_id=a, expected_version=1),
            Command(APPROVE, APPROVER, household_id=b, expected_version=2),  # version conflict
            Command(proposal(seq=seq + 2, members=[member(seq)]), RECORDER, household_id=c),  # a's head
        ],
        [
            Command(helper, RECORDER, household_id=a, expected_version=2),
            Command({"type": "IncomeAssessed", "effective_date": "2014-05-10", "year": 2014,
                     "income_per_capita": 2500}, RECORDER, household_id=a),  # late: before the approval
            Command({"type": "ExitProposed", "effective_date": "2014-05-30", "pathway": "industry",
                     "guarantees": GUARANTEED}, RECORDER, household_id=b),  # not approved yet
            Command(APPROVE, APPROVER, household_id=b),
        ],
    ]


def _outcome(results: list[object]) -> list[tuple[object, ...]]:
    return [
        ("refused", r.rule) if isinstance(r, DomainError) else (r.type, r.version, r.status)  # type: ignore[attr-defined]
        for r in results
    ]


def test_bulk_writer_answers_and_records_as_record_many(county: Registry, clock: Clock) -> None:
    """Each batch checked while the one before is saved: the same answers, histories and
    recording moments in notification order."""
    clock.set("2014-06-01T10:00:00+00:00")
    one_by_one = [_outcome(county.record_many(batch)) for batch in _bulk_batches("H-r", 1)]
    with county.bulk_writer() as writer:
        bulk = [_outcome(writer.record_many(batch)) for batch in _bulk_batches("H-w", 101)]
    assert bulk == one_by_one
    assert ("refused", "identification_notice_period") in bulk[0] and ("refused", "unknown_household") in bulk[0]
    assert ("refused", "person_in_another_household") in bulk[1]
    for suffix in ("a", "b"):
        want = [(e.version, e.type, e.body.effective_date) for e in county.history(f"H-r-{suffix}")]
        assert [(e.version, e.type, e.body.effective_date) for e in county.history(f"H-w-{suffix}")] == want
    # (an index event carries the moment of the household event it goes with)
    stored = [(n.originator_id, county.mapper.to_domain_event(n).timestamp)  # type: ignore[attr-defined]
              for n in county.recorder.select_notifications(start=1, limit=1000)]
    assert [at for _, at in stored] == sorted(at for _, at in stored)
    household_moments = [at for key, at in stored if str(key).startswith("H-")]
    assert len(set(household_moments)) == len(household_moments)


def test_bulk_writer_failed_save_records_nothing_of_it(county: Registry, clock: Clock,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A save that fails in flight is raised; neither it nor the batch checked after it is
    recorded, and the registry goes on from what was saved."""
    clock.set("2014-06-01T10:00:00+00:00")
    real, saves = county.events.put, []

    def second_save_fails(events: Any, **kwargs: Any) -> Any:
        saves.append(events)
        if len(saves) == 2:
            raise RuntimeError("the disk is full")
        return real(events, **kwargs)

    monkeypatch.setattr(county.events, "put", second_save_fails)
    helper = {"type": "HelperAssigned", "effective_date": "2014-05-25", "helper_name": "干部"}
    with pytest.raises(RuntimeError, match="disk is full"), county.bulk_writer() as writer:
        writer.record_many([Command(proposal(), RECORDER, household_id="H-1")])
        writer.record_many([Command(APPROVE, APPROVER, household_id="H-1")])
        writer.record_many([Command(helper, RECORDER, household_id="H-1")])
    monkeypatch.undo()
    assert [e.type for e in county.history("H-1")] == ["IdentificationProposed"]
    receipt = record(county, "H-1", APPROVE, APPROVER, expected_version=1)
    assert receipt.version == 2  # type: ignore[attr-defined]


def test_bulk_writer_lets_other_writers_in(settings: Settings, county: Registry, clock: Clock) -> None:
    """The gate is released between batches once held ``max_hold``: another writer gets in,
    and the next batch is checked against what it wrote."""
    clock.set("2014-06-01T10:00:00+00:00")
    other = Registry(settings, clock=clock)
    if other.settings.backend == "postgres":
        other.gate._pg_connection()  # its session now, so that the test can watch it wait
    helper = {"type": "HelperAssigned", "effective_date": "2014-05-25", "helper_name": "干部"}
    try:
        with county.bulk_writer(max_hold=0) as writer:
            writer.record_many([Command(proposal(), RECORDER, household_id="H-1")])
            approving = threading.Thread(target=record, args=(other, "H-1", APPROVE, APPROVER))
            approving.start()
            _wait_until_blocked_or_done(other, approving)
            (answer,) = writer.record_many([Command(helper, RECORDER, household_id="H-1")])
        approving.join()
    finally:
        other.close()
    history = county.history("H-1")
    assert not isinstance(answer, DomainError), answer
    assert [e.version for e in history] == [1, 2, 3]
    assert {e.type for e in history} == {"IdentificationProposed", "IdentificationApproved", "HelperAssigned"}
    assert [e.recorded_at for e in history] == sorted({e.recorded_at for e in history})


def test_writers_of_other_postgres_schemas_do_not_wait_for_each_other() -> None:
    """Each schema is a store with its own write gate; writers of one store still take turns.
    (A SQLite store is a file, with its own lock file.)"""
    from tests.support import postgres_schema

    with postgres_schema() as url, postgres_schema() as other_url:
        first, same, other = (Registry(Settings(database_url=u)) for u in (url, url, other_url))
        entered: list[Registry] = []

        def enter(registry: Registry) -> None:
            with registry.gate.open():
                entered.append(registry)

        try:
            same.gate._pg_connection()  # its session now, so that the test can watch it wait
            with first.gate.open():
                elsewhere = threading.Thread(target=enter, args=(other,))
                elsewhere.start()
                elsewhere.join(30)
                assert entered == [other]
                here = threading.Thread(target=enter, args=(same,))
                here.start()
                _wait_until_blocked_or_done(same, here)
                assert entered == [other]  # waiting for the first writer
            here.join(30)
            assert entered == [other, same]
        finally:
            for registry in (first, same, other):
                registry.close()


def _wait_until_blocked_or_done(writer: Registry, thread: threading.Thread) -> None:
    """Until ``thread``, writing through ``writer``, waits for the gate the bulk writer holds
    (PostgreSQL), or has written (elsewhere the bulk writer holds the gate only inside a call)."""
    if writer.settings.backend != "postgres":
        thread.join()
        return
    import psycopg

    pid = writer.gate._pg_connection().info.backend_pid
    with psycopg.connect(writer.settings.postgres_conninfo(), autocommit=True) as conn:
        for _ in range(3000):
            row = conn.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", (pid,)).fetchone()
            if (row and row[0]) or not thread.is_alive():
                return
            threading.Event().wait(0.01)
    raise AssertionError("the other writer never reached the gate")


def test_processes_opening_a_new_postgres_schema_together_all_start() -> None:
    """API, relay shards and rebuild workers may start at once on a schema nobody created yet: the
    registry creates the schema and its tables under one lock, so none of them fails."""
    import subprocess
    import sys
    import uuid

    import psycopg

    from tests.support import PG_DB, PG_HOST, PG_PORT, PG_USER, postgres_schema

    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}?schema={schema}"
    code = (
        "import sys; from service.registry import Registry; from bootstrap.settings import Settings; "
        "r = Registry(Settings(database_url=sys.argv[1])); print(r.recorder.max_notification_id()); r.close()"
    )
    with postgres_schema():  # PostgreSQL answers and the test database exists
        pass
    try:
        procs = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(4)]
        results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
        assert [r[0] for r in results] == [0, 0, 0, 0], [r[2][-500:] for r in results]
        assert [r[1].strip() for r in results] == ["None"] * 4
    finally:
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DB, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_notification_rows_are_the_librarys_notifications(county: Registry, clock: Clock) -> None:
    """The projections' reader of the log returns the library's notifications, as tuples:
    same rows, same order, same bytes, across pages of any size."""
    worked_example(county, clock)
    expected = [(n.id, str(n.originator_id), n.originator_version, n.topic, bytes(n.state))
                for n in county.recorder.select_notifications(start=1, limit=10_000)]
    assert len(expected) > 10
    for limit in (1, 3, 10_000):
        rows: list[tuple[object, ...]] = []
        while page := county.notification_rows(rows[-1][0] if rows else 0, limit):  # type: ignore[arg-type]
            assert len(page) <= limit
            rows += [(p, o, v, t, bytes(s)) for p, o, v, t, s in page]
        assert rows == expected
    assert county.notification_rows(expected[-1][0], 10) == []
    assert county.notification_rows(expected[2][0], 2) == [tuple(r) for r in expected[3:5]]
