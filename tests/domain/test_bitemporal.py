"""Valid time and transaction time (docs/domain.md "Two time axes"): the worked example, late
events, future dates, ties, corrections, retractions and timelines.

One concept, the two axes, case by case (~570 lines): each case builds on the same small
histories above, so the cases stay together where they can be read against each other."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.errors import InvalidInput, RuleViolation
from domain.events import EventBody
from domain.fold import Interval, state_as_of, timeline
from domain.history import effective_events
from domain.vocab import Status

from .builders import (
    OTHER_VILLAGE,
    History,
    approved,
    at,
    closed,
    corrected,
    day,
    exit_confirmed,
    exit_proposed,
    exit_withdrawn,
    helper,
    income,
    measure,
    measure_done,
    proposed,
    registered_poor,
    removed,
    retracted,
    returned,
    revisited,
    transferred,
)

S = Status


def status(h: History, as_of: str, known_at: str | None = None) -> Status | None:
    state = state_as_of(h.events, day(as_of), at(known_at) if known_at else None)
    return state.status if state else None


def spans(h: History, known_at: str | None = None) -> list[tuple[str, str, str | None]]:
    return [
        (i.status.value, i.start.isoformat(), i.end.isoformat() if i.end else None)
        for i in timeline(h.events, at(known_at) if known_at else None)
    ]


def refuse(h: History, body: EventBody, rule: str, when: str | None = None) -> RuleViolation:
    before = list(h.events)
    with pytest.raises(RuleViolation) as err:
        h.record(body, when)
    assert err.value.rule == rule, err.value.detail
    assert h.events == before
    return err.value


# --- the worked example of docs/domain.md -----------------------------------------------------------


def worked_example() -> History:
    """Household H of the worked example. The example leaves the exit's income implicit: an
    assessment above the 2016 line (2952 yuan) lets the ExitProposed pass its rule."""
    h = History("H")
    h.record(proposed("2014-05-02"), at("2014-05-02"))
    h.record(approved("2014-05-20"), at("2014-05-21"))
    h.record(income("2016-10-20", 4200), at("2016-10-20"))
    h.record(exit_proposed("2016-11-01"), at("2016-11-01"))
    h.record(exit_confirmed("2016-11-15"), at("2016-12-20"))  # late
    h.record(returned("2017-08-03", "illness"), at("2017-09-01"))
    return h


def test_worked_example_confirmation_not_yet_recorded() -> None:
    assert status(worked_example(), "2016-12-01", "2016-12-10") == S.EXIT_PENDING


def test_worked_example_confirmation_known_now() -> None:
    assert status(worked_example(), "2016-12-01") == S.EXITED


def test_worked_example_return_not_yet_recorded() -> None:
    assert status(worked_example(), "2017-08-15", "2017-08-20") == S.EXITED


def test_worked_example_return_known_now() -> None:
    h = worked_example()
    assert status(h, "2017-08-15") == S.RETURNED
    state = state_as_of(h.events, date(2017, 8, 15))
    assert state is not None
    assert state.return_cause == "illness"


def test_worked_example_timeline() -> None:
    h = worked_example()
    assert spans(h) == [
        ("proposed", "2014-05-02", "2014-05-20"),
        ("poor", "2014-05-20", "2016-11-01"),
        ("exit_pending", "2016-11-01", "2016-11-15"),
        ("exited", "2016-11-15", "2017-08-03"),
        ("returned", "2017-08-03", None),
    ]
    assert spans(h, "2016-12-10") == [
        ("proposed", "2014-05-02", "2014-05-20"),
        ("poor", "2014-05-20", "2016-11-01"),
        ("exit_pending", "2016-11-01", None),
    ]


def test_worked_example_retracting_the_confirmation_is_refused_while_the_return_needs_it() -> None:
    h = worked_example()
    confirmation = h.events[4]
    err = refuse(h, retracted("2018-03-01", confirmation), "illegal_transition", "2018-03-01")
    assert err.context["event_type"] == "ReturnedToPoverty"
    assert err.context["state"] == "exit_pending"


def test_worked_example_retraction_accepted_after_the_return_is_retracted_first() -> None:
    h = worked_example()
    confirmation, the_return = h.events[4], h.events[5]
    h.record(retracted("2018-03-01", the_return), at("2018-03-01", 9))
    h.record(retracted("2018-03-01", confirmation), at("2018-03-01", 10))
    assert [e.version for e in h.events] == [1, 2, 3, 4, 5, 6, 7, 8]

    # From that recording time on, H is exit_pending from 2016-11-01.
    assert status(h, "2016-12-01") == S.EXIT_PENDING
    assert status(h, "2017-08-15") == S.EXIT_PENDING
    assert spans(h) == [
        ("proposed", "2014-05-02", "2014-05-20"),
        ("poor", "2014-05-20", "2016-11-01"),
        ("exit_pending", "2016-11-01", None),
    ]
    # Between the two retractions: the return is gone, the exit still stands.
    assert status(h, "2017-08-15", None) == S.EXIT_PENDING
    between = state_as_of(h.events, date(2017, 8, 15), at("2018-03-01", 9, 30))
    assert between is not None and between.status == S.EXITED
    # Views with an earlier known_at never change.
    assert status(h, "2016-12-01", "2016-12-10") == S.EXIT_PENDING
    assert status(h, "2016-12-01", "2018-02-28") == S.EXITED
    assert status(h, "2017-08-15", "2017-08-20") == S.EXITED
    assert status(h, "2017-08-15", "2018-02-28") == S.RETURNED
    assert spans(h, "2018-02-28") == spans(worked_example())


# --- query boundaries ----------------------------------------------------------------------


def test_not_on_the_register_before_the_first_effective_date_or_first_recording() -> None:
    h = worked_example()
    assert status(h, "2014-05-01") is None
    assert state_as_of(h.events, date(2014, 5, 2), at("2014-05-02", 11, 59)) is None
    assert timeline(h.events, at("2014-05-01")) == []
    assert state_as_of([], date(2020, 1, 1)) is None
    assert timeline([]) == []


def test_as_of_and_known_at_are_inclusive() -> None:
    h = worked_example()
    assert status(h, "2014-05-02", None) == S.PROPOSED
    assert status(h, "2014-05-20") == S.POOR
    assert status(h, "2014-05-19") == S.PROPOSED
    approval_recorded = h.events[1].recorded_at
    assert state_as_of(h.events, date(2014, 6, 1), approval_recorded).status == S.POOR  # type: ignore[union-attr]
    just_before = approval_recorded - timedelta(microseconds=1)
    assert state_as_of(h.events, date(2014, 6, 1), just_before).status == S.PROPOSED  # type: ignore[union-attr]


def test_state_as_of_carries_the_household_data() -> None:
    h = worked_example()
    state = state_as_of(h.events, date(2016, 12, 1))
    assert state is not None
    assert state.household_id == "H"
    assert state.income.per_capita == 4200
    assert state.exited_on == date(2016, 11, 15)
    assert state.as_of == date(2016, 11, 15)  # the date of the latest event applied
    assert state_as_of(h.events, date(2016, 12, 1), household_id="other").household_id == "other"  # type: ignore[union-attr]


# --- late events ---------------------------------------------------------------------------


def test_a_late_event_is_inserted_in_valid_time_order() -> None:
    h = worked_example()
    h.record(helper("2015-03-01", "王五"), at("2018-01-05"))
    assert [e.body.type for e in effective_events(h.events)][:3] == [
        "IdentificationProposed", "IdentificationApproved", "HelperAssigned",
    ]
    now = state_as_of(h.events, date(2015, 6, 1))
    then = state_as_of(h.events, date(2015, 6, 1), at("2018-01-01"))
    assert now is not None and then is not None
    assert [x.name for x in now.helpers] == ["王五"]
    assert then.helpers == ()
    assert h.last_steps[-1].state.status == S.RETURNED  # decide returns the whole new fold


def test_a_late_event_that_breaks_a_later_event_is_refused() -> None:
    h = worked_example()
    # withdrawing the exit on 2016-11-10 leaves the 2016-11-15 confirmation without a pending exit
    err = refuse(h, exit_withdrawn("2016-11-10"), "illegal_transition", "2018-01-05")
    assert err.context["event_type"] == "ExitConfirmed"
    assert err.context["state"] == "poor"


def test_a_late_event_illegal_where_it_lands_is_refused() -> None:
    h = worked_example()
    err = refuse(h, returned("2016-11-05"), "illegal_transition", "2018-01-05")
    assert err.context["event_type"] == "ReturnedToPoverty"
    assert err.context["state"] == "exit_pending"


def test_a_late_removal_before_later_activity_is_refused() -> None:
    h = worked_example()
    err = refuse(h, removed("2015-06-01"), "illegal_transition", "2018-01-05")
    assert err.context["event_type"] == "IncomeAssessed"
    assert err.context["state"] == "removed"


def test_a_late_terminal_event_after_everything_is_accepted() -> None:
    h = worked_example()
    h.record(closed("2017-12-01"), at("2018-01-05"))
    assert status(h, "2018-01-01") == S.CLOSED
    assert status(h, "2018-01-01", "2018-01-04") == S.RETURNED


def test_the_first_event_must_be_an_identification() -> None:
    h = History()
    refuse(h, approved("2014-05-20"), "not_identified")


def test_a_household_is_identified_once() -> None:
    h = registered_poor()
    refuse(h, proposed("2015-01-01"), "already_identified")


# --- future effective dates --------------------------------------------------------------


def test_a_future_effective_date_is_refused() -> None:
    h = registered_poor()
    with pytest.raises(InvalidInput) as err:
        h.record(helper("2015-03-02"), at("2015-03-01", 23, 59))
    assert err.value.rule == "future_effective_date"
    assert isinstance(err.value, InvalidInput)
    assert len(h.events) == 2
    h.record(helper("2015-03-01"), at("2015-03-01", 23, 59))  # today itself is fine


def test_a_future_first_event_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        History().record(proposed("2014-05-03"), at("2014-05-02"))
    assert err.value.rule == "future_effective_date"


def test_a_correction_into_the_future_is_refused() -> None:
    h = registered_poor()
    target = h.record(helper("2015-03-01"))
    with pytest.raises(InvalidInput) as err:
        h.record(corrected("2015-03-10", target, effective_date="2015-03-11"), at("2015-03-10"))
    assert err.value.rule == "future_effective_date"


def test_a_retraction_dated_in_the_future_is_refused() -> None:
    h = registered_poor()
    target = h.record(helper("2015-03-01"))
    with pytest.raises(InvalidInput) as err:
        h.record(retracted("2015-03-11", target), at("2015-03-10"))
    assert err.value.rule == "future_effective_date"


# --- ties on the same effective date --------------------------------------------------------


def test_same_day_events_apply_in_recording_order() -> None:
    h = registered_poor()
    h.record(income("2016-10-01", 5000))
    h.record(exit_proposed("2016-11-01"))
    h.record(exit_withdrawn("2016-11-01"))
    assert status(h, "2016-11-01") == S.POOR
    assert ("exit_pending", "2016-11-01", None) not in spans(h)
    assert spans(h)[-1] == ("poor", "2014-05-20", None)


def test_same_day_order_decides_legality() -> None:
    h = registered_poor()
    h.record(removed("2016-01-10"))
    h.record(closed("2016-01-10"))
    assert status(h, "2016-01-10") == S.CLOSED

    other = registered_poor()
    other.record(closed("2016-01-10"))
    err = refuse(other, removed("2016-01-10"), "illegal_transition")
    assert err.context["state"] == "closed"


def test_a_late_event_on_an_existing_date_goes_after_it() -> None:
    h = registered_poor()
    h.record(income("2016-10-01", 5000))
    h.record(exit_proposed("2016-11-01"))
    late = h.record(income("2016-11-01", 6000), at("2017-02-01"))
    order = [e.event_id for e in effective_events(h.events)]
    assert order[-2:] == [h.events[3].event_id, late.event_id]
    state = state_as_of(h.events, date(2016, 11, 1))
    assert state is not None and state.income.per_capita == 6000


def test_a_corrected_date_keeps_its_original_recording_order_for_ties() -> None:
    h = registered_poor()
    h.record(income("2016-10-01", 5000))
    ep = h.record(exit_proposed("2016-11-01"))
    ew = h.record(exit_withdrawn("2016-11-20"))
    # moved onto the withdrawal's date, the proposal (v4) still comes before it (v5)
    h.record(corrected("2016-12-01", ep, effective_date="2016-11-20"))
    assert [e.event_id for e in effective_events(h.events)][-2:] == [ep.event_id, ew.event_id]
    assert status(h, "2016-11-19") == S.POOR
    assert status(h, "2016-11-20") == S.POOR
    assert spans(h)[-1] == ("poor", "2014-05-20", None)
    # one day earlier, the withdrawal would come first
    err = refuse(h, corrected("2016-12-02", ew, effective_date="2016-11-19"), "illegal_transition")
    assert err.context["event_type"] == "ExitWithdrawn"


# --- corrections ------------------------------------------------------------------------------


def test_a_correction_replaces_fields_from_its_recording_time_on() -> None:
    h = registered_poor()
    first = h.events[0]
    fix = h.record(corrected("2015-01-10", first, income_per_capita=1800, attribute="dibao"), at("2015-01-10"))
    now = state_as_of(h.events, date(2014, 6, 1))
    as_submitted = state_as_of(h.events, date(2014, 6, 1), at("2015-01-09"))
    assert now is not None and as_submitted is not None
    assert (now.income.per_capita, now.attribute) == (1800, "dibao")
    assert (as_submitted.income.per_capita, as_submitted.attribute) == (2100, "general")
    (ev, *_) = effective_events(h.events)
    assert ev.corrected_by == (fix.event_id,)
    assert ev.original.body.income_per_capita == 2100  # type: ignore[attr-defined]
    assert h.events[0].body == first.body  # nothing is ever updated


def test_a_correction_of_the_effective_date_moves_the_event() -> None:
    h = worked_example()
    approval = h.events[1]
    h.record(corrected("2018-01-05", approval, effective_date="2014-06-01"), at("2018-01-05"))
    assert spans(h)[:2] == [("proposed", "2014-05-02", "2014-06-01"), ("poor", "2014-06-01", "2016-11-01")]
    assert spans(h, "2018-01-04")[:2] == [("proposed", "2014-05-02", "2014-05-20"),
                                          ("poor", "2014-05-20", "2016-11-01")]
    assert status(h, "2014-05-25") == S.PROPOSED
    assert status(h, "2014-05-25", "2018-01-04") == S.POOR


def test_a_correction_that_breaks_the_path_is_refused() -> None:
    h = worked_example()
    confirmation = h.events[4]
    err = refuse(h, corrected("2018-01-05", confirmation, effective_date="2017-09-01"),
                 "illegal_transition", "2018-01-05")
    assert err.context["event_type"] == "ReturnedToPoverty"


def test_a_correction_moving_the_identification_after_its_approval_is_refused() -> None:
    h = registered_poor()
    refuse(h, corrected("2015-01-01", h.events[0], effective_date="2014-06-01"), "not_identified")


def test_a_corrected_finding_changes_the_status() -> None:
    h = worked_example()
    h.record(retracted("2017-10-01", h.events[5]), at("2017-10-01"))  # no return after all
    visit = h.record(revisited("2017-10-05", "stable"), at("2017-10-05"))
    h.record(corrected("2017-10-20", visit, finding="wrongly_exited"), at("2017-10-20"))
    assert status(h, "2017-11-01") == S.RETURNED
    assert status(h, "2017-11-01", "2017-10-10") == S.EXITED


def test_a_corrected_division_moves_the_household() -> None:
    h = registered_poor()
    move = h.record(transferred("2016-01-01", OTHER_VILLAGE))
    h.record(corrected("2016-02-01", move, division_code="620422200301"))
    state = state_as_of(h.events, date(2016, 3, 1))
    assert state is not None and state.division_code == "620422200301"


def test_corrections_compose_in_recording_order() -> None:
    h = registered_poor()
    assessed = h.record(income("2016-10-01", 3000))
    h.record(corrected("2016-10-05", assessed, income_per_capita=3100))
    h.record(corrected("2016-10-06", assessed, effective_date="2016-09-20"))
    h.record(corrected("2016-10-07", assessed, income_per_capita=3200))
    (ev,) = [e for e in effective_events(h.events) if e.event_id == assessed.event_id]
    assert ev.body.effective_date == date(2016, 9, 20)
    assert ev.body.income_per_capita == 3200  # type: ignore[attr-defined]
    assert len(ev.corrected_by) == 3
    mid = [e for e in effective_events(h.events, at("2016-10-06")) if e.event_id == assessed.event_id]
    assert mid[0].body.income_per_capita == 3100  # type: ignore[attr-defined]
    assert mid[0].body.effective_date == date(2016, 9, 20)


@pytest.mark.parametrize("changes", [{"bogus": 1}, {"cause": "illness"}, {"household_id": "H-2"}])
def test_correcting_unknown_fields_is_invalid_input(changes: dict[str, object]) -> None:
    h = registered_poor()
    with pytest.raises(InvalidInput) as err:
        h.record(corrected("2015-01-01", h.events[1], **changes))
    assert err.value.rule == "correction_fields"
    assert err.value.errors == [{"loc": ["changes", next(iter(changes))], "msg": "not a correctable field"}]
    assert len(h.events) == 2


def test_a_correction_to_an_invalid_value_is_invalid_input() -> None:
    h = registered_poor()
    with pytest.raises(InvalidInput) as err:
        h.record(corrected("2015-01-01", h.events[0], attribute="rich"))
    assert err.value.rule == "invalid_fields"
    with pytest.raises(InvalidInput):
        h.record(corrected("2015-01-01", h.events[0], members=[]))


def test_a_correction_of_an_unknown_event_is_invalid_input() -> None:
    h = registered_poor()
    with pytest.raises(InvalidInput) as err:
        h.record(corrected("2015-01-01", "no-such-event", income_per_capita=1))
    assert err.value.rule == "unknown_target_event"


def test_a_correction_cannot_target_a_correction_or_a_retraction() -> None:
    h = registered_poor()
    a_helper = h.record(helper("2015-01-01"))
    fix = h.record(corrected("2015-01-02", a_helper, helper_name="赵六"))
    refuse(h, corrected("2015-01-03", fix, reason="x"), "target_is_correction")
    gone = h.record(helper("2015-02-01"))
    retraction = h.record(retracted("2015-02-02", gone))
    refuse(h, corrected("2015-02-03", retraction, reason="x"), "target_is_retraction")
    refuse(h, retracted("2015-02-03", retraction), "target_is_retraction")
    refuse(h, corrected("2015-02-03", gone, helper_name="x"), "target_retracted")
    refuse(h, retracted("2015-02-03", gone), "target_retracted")


# --- retractions -------------------------------------------------------------------------------


def test_a_retraction_cancels_an_event_from_its_recording_time_on() -> None:
    h = registered_poor()
    a_helper = h.record(helper("2015-01-01", "王五"))
    h.record(retracted("2015-06-01", a_helper))
    now = state_as_of(h.events, date(2015, 3, 1))
    then = state_as_of(h.events, date(2015, 3, 1), at("2015-05-31"))
    assert now is not None and then is not None
    assert now.helpers == ()
    assert [x.name for x in then.helpers] == ["王五"]
    assert a_helper.event_id not in [e.event_id for e in effective_events(h.events)]


def test_retracting_a_correction_restores_the_original() -> None:
    h = registered_poor()
    approval = h.events[1]
    fix = h.record(corrected("2015-01-10", approval, effective_date="2014-06-01"))
    h.record(retracted("2015-02-10", fix))
    assert spans(h)[0] == ("proposed", "2014-05-02", "2014-05-20")
    assert spans(h, "2015-02-01")[0] == ("proposed", "2014-05-02", "2014-06-01")
    (_, ev) = effective_events(h.events)
    assert ev.corrected_by == ()
    assert ev.body == approval.body


def test_retracting_one_of_two_corrections_keeps_the_other() -> None:
    h = registered_poor()
    first = h.events[0]
    income_fix = h.record(corrected("2015-01-10", first, income_per_capita=1500))
    h.record(corrected("2015-01-11", first, attribute="tekun"))
    h.record(retracted("2015-01-12", income_fix))
    state = state_as_of(h.events, date(2015, 2, 1))
    assert state is not None
    assert (state.income.per_capita, state.attribute) == (2100, "tekun")


def test_retracting_a_correction_is_refused_when_the_original_no_longer_fits() -> None:
    h = worked_example()
    the_return = h.events[5]
    fix = h.record(corrected("2018-01-05", the_return, effective_date="2017-08-10"), at("2018-01-05"))
    h.record(revisited("2017-08-05", "at_risk"), at("2018-01-06"))  # fits only before the return
    err = refuse(h, retracted("2018-01-07", fix), "illegal_transition", "2018-01-07")
    assert err.context["event_type"] == "Revisited"


def test_retracting_the_identification_of_a_household_with_history_is_refused() -> None:
    h = registered_poor()
    refuse(h, retracted("2015-01-01", h.events[0]), "not_identified")


def test_retracting_a_lone_identification_takes_the_household_off_the_register() -> None:
    h = History()
    h.record(proposed("2014-05-02"))
    h.record(retracted("2014-05-03", h.events[0]))
    assert status(h, "2014-06-01") is None
    assert timeline(h.events) == []
    assert status(h, "2014-06-01", "2014-05-02") == S.PROPOSED


def test_retracting_a_withdrawal_restores_the_pending_exit() -> None:
    h = registered_poor()
    h.record(income("2016-10-01", 5000))
    h.record(exit_proposed("2016-11-01"))
    ew = h.record(exit_withdrawn("2016-11-05"))
    h.record(retracted("2016-11-20", ew))
    assert status(h, "2016-11-10") == S.EXIT_PENDING
    h.record(exit_confirmed("2017-01-05"))
    assert status(h, "2017-01-05") == S.EXITED


def test_completing_a_measure_needs_its_assignment_in_effect() -> None:
    h = registered_poor()
    assigned = h.record(measure("2015-03-01"))
    refuse(h, measure_done("2015-02-01", assigned.event_id), "unknown_measure", "2015-04-01")
    done = h.record(measure_done("2015-06-01", assigned.event_id))
    refuse(h, retracted("2015-07-01", assigned), "unknown_measure")
    refuse(h, corrected("2015-07-01", assigned, effective_date="2015-06-02"), "unknown_measure")
    h.record(corrected("2015-07-01", done, effective_date="2015-03-01"))
    state = state_as_of(h.events, date(2015, 3, 1))
    assert state is not None and state.measures[0].completed_on == date(2015, 3, 1)


# --- timeline intervals ----------------------------------------------------------------------------


def test_events_that_keep_the_status_do_not_split_intervals() -> None:
    h = registered_poor()
    h.record(helper("2014-06-01"))
    h.record(income("2015-10-01", 2500))
    h.record(transferred("2016-01-01"))
    assert timeline(h.events) == [
        Interval(S.PROPOSED, date(2014, 5, 2), date(2014, 5, 20)),
        Interval(S.POOR, date(2014, 5, 20), None),
    ]


def test_several_events_on_one_day_count_as_the_days_last_status() -> None:
    h = History()
    h.record(proposed("2014-05-02"))
    h.record(removed("2014-05-02"))
    assert spans(h) == [("removed", "2014-05-02", None)]
    assert status(h, "2014-05-02") == S.REMOVED


def test_timeline_through_removal_and_re_identification() -> None:
    h = registered_poor()
    h.record(removed("2015-01-10"))
    h.record(proposed("2016-03-01"))
    h.record(approved("2016-03-08"))
    h.record(closed("2019-01-01"))
    assert spans(h) == [
        ("proposed", "2014-05-02", "2014-05-20"),
        ("poor", "2014-05-20", "2015-01-10"),
        ("removed", "2015-01-10", "2016-03-01"),
        ("proposed", "2016-03-01", "2016-03-08"),
        ("poor", "2016-03-08", "2019-01-01"),
        ("closed", "2019-01-01", None),
    ]


def test_returned_and_exit_pending_again_after_a_return() -> None:
    h = worked_example()
    h.record(income("2018-05-20", 3500, 2017), at("2018-05-20"))
    h.record(exit_proposed("2018-06-01"), at("2018-06-01"))
    h.record(exit_withdrawn("2018-06-05"), at("2018-06-05"))
    assert spans(h)[-3:] == [
        ("returned", "2017-08-03", "2018-06-01"),
        ("exit_pending", "2018-06-01", "2018-06-05"),
        ("returned", "2018-06-05", None),
    ]
