"""The application service on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime

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
from tests.support import APPROVER, GUARANTEED, RECORDER, Clock, member, proposal, record, registered


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
    registered(county, clock, "H-1", seq=1)
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
        registered(county, clock, f"H-{n}", seq=n)
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
    registered(county, clock)
    clock.set("2017-03-01T10:00:00+00:00")
    record(county, "H-1", {"type": "IncomeAssessed", "effective_date": "2017-01-10", "year": 2016,
                            "income_per_capita": 5000})
    with pytest.raises(RuleViolation) as refused:
        record(county, "H-1", {"type": "ExitProposed", "effective_date": "2017-03-01", "pathway": "employment",
                                "guarantees": GUARANTEED})
    assert "7000" in refused.value.detail


def test_expected_version_and_idempotency(county: Registry, clock: Clock) -> None:
    registered(county, clock)
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
    registered(county, clock)
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
