"""Restatements: a recording that changes the status of days already past, one per change."""

from __future__ import annotations

from datetime import UTC, date, timedelta, timezone

from domain.restate import restatements
from domain.vocab import Status

from .builders import (
    History,
    at,
    corrected,
    exit_confirmed,
    exit_proposed,
    income,
    proposed,
    registered_poor,
    retracted,
)


def of(h: History, tz: timezone = UTC) -> list[tuple[str, str, Status | None, Status | None]]:
    last = h.events[-1]
    return [(r.valid_from.isoformat(), r.valid_to.isoformat(), r.status_before, r.status_after)
            for r in restatements(h.events[:-1], last, tz)]


def test_an_event_recorded_the_day_it_takes_effect_restates_nothing() -> None:
    h = registered_poor()
    assert of(h) == []
    h.record(income("2016-10-10", 3100))
    h.record(exit_proposed("2016-11-01"))
    assert of(h) == []


def test_a_late_exit_restates_the_days_from_its_date_to_its_recording() -> None:
    h = registered_poor()
    h.record(income("2016-10-10", 3100))
    h.record(exit_proposed("2016-11-01"))
    h.record(exit_confirmed("2016-11-20"), "2016-12-30")
    [r] = restatements(h.events[:-1], h.events[-1], UTC)
    assert (r.valid_from, r.valid_to) == (date(2016, 11, 20), date(2016, 12, 30))
    assert (r.status_before, r.status_after) == (Status.EXIT_PENDING, Status.EXITED)
    assert r.event_id == h.events[-1].event_id and r.event_type == "ExitConfirmed"
    assert r.division_code == "620422100201" and r.household_id == "H-1"
    assert r.as_dict()["valid_to"] == "2016-12-30" and r.as_dict()["status_after"] == "exited"


def test_the_recording_day_is_the_registry_s_day() -> None:
    h = registered_poor()
    h.record(income("2016-10-10", 3100))
    h.record(exit_proposed("2016-11-01"))
    late = at("2016-12-29", 20)  # 20:00 UTC is the 30th in Beijing
    h.record(exit_confirmed("2016-11-20"), late)
    assert of(h)[0][1] == "2016-12-29"
    assert of(h, timezone(timedelta(hours=8)))[0][1] == "2016-12-30"


def test_a_correction_and_a_retraction_each_restate_what_they_changed() -> None:
    h = registered_poor()
    h.record(income("2016-10-10", 3100))
    h.record(exit_proposed("2016-11-01"))
    exit_event = h.record(exit_confirmed("2016-11-20"))
    h.record(corrected("2017-01-05", exit_event, effective_date="2016-11-15"))
    assert of(h) == [("2016-11-15", "2016-11-20", Status.EXIT_PENDING, Status.EXITED)]
    h.record(retracted("2017-02-01", exit_event))
    assert of(h) == [("2016-11-15", "2017-02-01", Status.EXITED, Status.EXIT_PENDING)]


def test_a_correction_of_a_fact_that_leaves_the_status_restates_nothing() -> None:
    h = registered_poor()
    wrong = h.record(income("2016-10-10", 31000))
    h.record(corrected("2016-12-09", wrong, income_per_capita=3100))
    assert of(h) == []


def test_a_late_proposal_restates_the_days_it_was_not_yet_on_the_register() -> None:
    h = History()
    h.record(proposed("2014-05-02"), "2014-06-01")
    assert of(h) == [("2014-05-02", "2014-06-01", None, Status.PROPOSED)]


def test_a_correction_that_shows_a_false_exit_restates_its_finding_over_the_past() -> None:
    from domain.policy_data import statutory_book
    from domain.restate import finding_restatements

    h = registered_poor()
    wrong = h.record(income("2016-10-10", 3100))
    proposal = h.record(exit_proposed("2016-11-01"))
    h.record(exit_confirmed("2016-11-20"))
    fix = h.record(corrected("2018-03-01", wrong, income_per_capita=2500))
    found = finding_restatements(h.events[:-1], fix, statutory_book(), UTC)
    assert [(r.valid_from.isoformat(), r.valid_to.isoformat(), r.status_before, r.status_after) for r in found] == [
        ("2016-11-01", "2016-11-20", Status.EXIT_PENDING, Status.EXIT_PENDING),
        ("2016-11-20", "2018-03-01", Status.EXITED, Status.EXITED),
    ]
    assert {(r.finding or {}).get("rule") for r in found} == {"exit_income_below_line"}
    assert {(r.finding or {}).get("change") for r in found} == {"opened"}
    assert restatements(h.events[:-1], fix, UTC) == []  # no status changed
    assert found[0].event_id == fix.event_id and proposal.event_id  # the exit proposal carries it
    # correcting the income back withdraws it
    undo = h.record(corrected("2018-04-01", wrong, income_per_capita=3100))
    back = finding_restatements(h.events[:-1], undo, statutory_book(), UTC)
    assert {(r.finding or {}).get("change") for r in back} == {"withdrawn"}
