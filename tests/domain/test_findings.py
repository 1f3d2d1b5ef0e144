"""Facts, decisions and findings: a fact is accepted and flags the decision it shows wrong."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import RuleViolation
from domain.findings import findings_view, first_disturbance, ledger
from domain.fold import state_as_of, timeline
from domain.kinds import Kind, kind_of
from domain.vocab import Status

from .builders import (
    History,
    approved,
    at,
    corrected,
    exit_confirmed,
    exit_proposed,
    income,
    proposed,
    removed,
    retracted,
    returned,
    revisited,
)


def worked_example() -> History:
    """The household of the domain's worked example: exited in 2016 on 3300, back in 2017."""
    h = History()
    h.record(proposed("2014-05-02"), when="2014-05-02")
    h.record(approved("2014-05-20"), when="2014-05-21")
    h.record(income("2016-10-20", 3300, 2016))
    h.record(exit_proposed("2016-11-01"))
    h.record(exit_confirmed("2016-11-15"), when="2016-12-20")
    h.record(returned("2017-08-03"), when="2017-09-01")
    return h


def false_exit() -> History:
    """Exited in 2016 on an assessed income of 3300, nothing after."""
    h = History()
    h.record(proposed("2014-05-02"))
    h.record(approved("2014-05-20"))
    h.record(income("2016-10-20", 3300, 2016))
    h.record(exit_proposed("2016-11-01"))
    h.record(exit_confirmed("2016-11-15"))
    return h


def test_every_event_type_has_a_kind() -> None:
    from domain.events import EVENT_TYPES

    assert kind_of("IncomeAssessed") is Kind.FACT
    assert kind_of("MembersChanged") is Kind.FACT
    assert kind_of("ExitConfirmed") is Kind.DECISION
    assert kind_of("EventRetracted") is Kind.CHANGE
    assert kind_of("SomethingNew") is Kind.DECISION, "an unlisted type is judged strictly"
    assert {kind_of(t) for t in EVENT_TYPES} == set(Kind)


def test_the_worked_example_correction_is_accepted_and_flags_the_exit() -> None:
    h = worked_example()
    income_event, proposal = h.events[2], h.events[3]
    before = timeline(h.events)
    fix = h.record(corrected("2018-03-01", income_event, income_per_capita=2500), when="2018-03-01")
    assert timeline(h.events) == before, "a fact never moves the status"
    (found,) = findings_view(h.events, h.policies)
    assert found["rule"] == "exit_income_below_line"
    assert found["decision_event_id"] == proposal.event_id
    assert found["decision_type"] == "ExitProposed"
    assert found["shown_by"] == [income_event.event_id, fix.event_id]
    assert found["known_since"] == fix.recorded_at.isoformat(timespec="microseconds")
    assert (found["state"], found["resolved_by"]) == ("open", None)
    # Views known before the correction never change; as of before the decision, nothing.
    assert findings_view(h.events, h.policies, known_at=at("2018-02-28")) == []
    assert findings_view(h.events, h.policies, as_of=date(2016, 10, 31)) == []
    assert findings_view(h.events, h.policies, as_of=date(2016, 11, 1))[0]["rule"] == "exit_income_below_line"
    # The bitemporal answers of the example hold as before.
    assert state_as_of(h.events, date(2016, 12, 1), at("2016-12-10")).status == Status.EXIT_PENDING
    assert state_as_of(h.events, date(2016, 12, 1)).status == Status.EXITED
    assert state_as_of(h.events, date(2017, 8, 15), at("2017-08-20")).status == Status.EXITED
    assert state_as_of(h.events, date(2017, 8, 15)).status == Status.RETURNED


def test_retracting_the_confirmation_under_a_return_breaks_the_state_machine() -> None:
    h = worked_example()
    with pytest.raises(RuleViolation) as err:
        h.record(retracted("2018-03-01", h.events[4]), when="2018-03-01")
    assert err.value.rule == "illegal_transition"


def test_a_late_income_below_the_line_is_accepted_as_a_fact() -> None:
    h = false_exit()
    late = h.record(income("2016-10-25", 2400, 2016), when="2018-03-01")
    (found,) = ledger(h.events, h.policies).values()
    assert found.shown_by == (late.event_id,)
    assert state_as_of(h.events, date(2018, 3, 1)).status == Status.EXITED


def test_revisited_wrongly_exited_resolves_the_finding_and_readmits() -> None:
    h = false_exit()
    h.record(corrected("2018-03-01", h.events[2], income_per_capita=2500), when="2018-03-01")
    back = h.record(revisited("2018-04-10", "wrongly_exited"), when="2018-04-11")
    (found,) = findings_view(h.events, h.policies)
    assert (found["state"], found["resolved_by"]) == ("resolved", back.event_id)
    # As of a day before the revisit, it was still open.
    (then,) = findings_view(h.events, h.policies, as_of=date(2018, 4, 9))
    assert then["state"] == "open"
    assert findings_view(h.events, h.policies, state="open") == []
    assert state_as_of(h.events, date(2018, 4, 10)).status == Status.RETURNED


def test_the_truth_recorded_after_the_readmission_is_born_resolved() -> None:
    h = false_exit()
    back = h.record(revisited("2018-04-10", "wrongly_exited"), when="2018-04-11")
    h.record(corrected("2018-05-01", h.events[2], income_per_capita=2500), when="2018-05-01")
    (found,) = findings_view(h.events, h.policies)
    assert (found["state"], found["resolved_by"]) == ("resolved", back.event_id)


def test_removal_resolves_every_finding_before_it() -> None:
    h = false_exit()
    h.record(corrected("2018-03-01", h.events[2], income_per_capita=2500), when="2018-03-01")
    gone = h.record(removed("2018-06-01"), when="2018-06-02")
    (found,) = findings_view(h.events, h.policies)
    assert (found["state"], found["resolved_by"]) == ("resolved", gone.event_id)


def test_a_correction_that_makes_the_decision_compliant_resolves_its_finding() -> None:
    h = false_exit()
    wrong = h.record(corrected("2018-03-01", h.events[2], income_per_capita=2500), when="2018-03-01")
    right = h.record(retracted("2018-03-05", wrong), when="2018-03-05")
    (found,) = findings_view(h.events, h.policies)
    assert (found["state"], found["resolved_by"]) == ("resolved", right.event_id)
    # Between the two, it was open; before the first, there was nothing.
    assert findings_view(h.events, h.policies, known_at=at("2018-03-02"))[0]["state"] == "open"
    assert findings_view(h.events, h.policies, known_at=at("2018-02-01")) == []


def test_a_history_recorded_in_order_has_no_finding_to_look_for() -> None:
    h = false_exit()
    assert first_disturbance(h.events) is None
    assert ledger(h.events, h.policies) == {}
