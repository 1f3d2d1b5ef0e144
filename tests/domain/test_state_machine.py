"""The state machine (docs/domain.md "Statuses" and "Events"): every event type from every status.

``transition`` is called directly here; policy rules (notice periods, income, …) are
tested through ``decide`` in test_rules.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from domain.errors import RuleViolation
from domain.events import EventBody
from domain.fold import replay
from domain.state import HouseholdState, Income, Measure, transition
from domain.vocab import ACTIVE, COUNTED_POOR, MAINTAINABLE, Finding, Status

from .builders import (
    ALL_SECURE,
    OTHER_VILLAGE,
    VILLAGE,
    approved,
    closed,
    effective,
    exit_confirmed,
    exit_proposed,
    exit_withdrawn,
    helper,
    income,
    measure,
    measure_done,
    member,
    members_changed,
    proposed,
    rejected,
    removed,
    returned,
    revisited,
    transferred,
)

ON = "2017-03-01"

#: One legal-shaped body per household event type (meta events are not transitions).
BODIES: dict[str, EventBody] = {
    "IdentificationProposed": proposed(ON),
    "IdentificationApproved": approved(ON),
    "IdentificationRejected": rejected(ON),
    "AssistanceMeasureAssigned": measure(ON),
    "AssistanceMeasureCompleted": measure_done(ON, "m-1"),
    "HelperAssigned": helper(ON),
    "IncomeAssessed": income(ON, 3500),
    "MembersChanged": members_changed(ON, joined=[member(7, "child", "张小")]),
    "ExitProposed": exit_proposed(ON),
    "ExitConfirmed": exit_confirmed(ON),
    "ExitWithdrawn": exit_withdrawn(ON),
    "ReturnedToPoverty": returned(ON),
    "Revisited": revisited(ON, "stable"),
    "RemovedAsIneligible": removed(ON),
    "HouseholdTransferred": transferred(ON, OTHER_VILLAGE),
    "HouseholdClosed": closed(ON),
}

MAINTENANCE = (
    "AssistanceMeasureAssigned",
    "AssistanceMeasureCompleted",
    "HelperAssigned",
    "IncomeAssessed",
    "MembersChanged",
    "HouseholdTransferred",
)
S = Status
#: docs/domain.md's table, written out: (event type, from status) → to status. Anything absent
#: is illegal.
LEGAL: dict[tuple[str, Status | None], Status] = {
    ("IdentificationProposed", None): S.PROPOSED,
    ("IdentificationProposed", S.REMOVED): S.PROPOSED,  # "terminal unless re-identified"
    ("IdentificationApproved", S.PROPOSED): S.POOR,
    ("IdentificationRejected", S.PROPOSED): S.REJECTED,
    **{(kind, s): s for kind in MAINTENANCE for s in (S.POOR, S.RETURNED, S.EXIT_PENDING, S.EXITED)},
    ("ExitProposed", S.POOR): S.EXIT_PENDING,
    ("ExitProposed", S.RETURNED): S.EXIT_PENDING,
    ("ExitConfirmed", S.EXIT_PENDING): S.EXITED,
    ("ExitWithdrawn", S.EXIT_PENDING): S.POOR,  # exit_from is poor in the fixture state
    ("ReturnedToPoverty", S.EXITED): S.RETURNED,
    ("Revisited", S.EXITED): S.EXITED,
    **{("RemovedAsIneligible", s): S.REMOVED
       for s in (S.PROPOSED, S.POOR, S.EXIT_PENDING, S.EXITED, S.RETURNED)},
    **{("HouseholdClosed", s): S.CLOSED for s in Status if s != S.CLOSED},
}


def base_state() -> HouseholdState:
    return transition(None, effective(proposed("2014-05-02")), "H-1")


def state_in(status: Status) -> HouseholdState:
    """A household in ``status`` with the details that status implies."""
    state = replace(
        base_state(),
        status=status,
        measures=(Measure("m-1", "industry", date(2015, 1, 1), None, None, None, None),),  # type: ignore[arg-type]
    )
    if status != S.PROPOSED:
        state = replace(state, approved_on=date(2014, 5, 20))
    if status == S.EXIT_PENDING:
        state = replace(state, exit_from=S.POOR, exit_proposed_on=date(2016, 11, 1))
    if status in (S.EXITED, S.RETURNED):
        state = replace(state, exited_on=date(2016, 11, 15))
    return state


CASES = [(kind, status) for kind in BODIES for status in [None, *Status]]


@pytest.mark.parametrize(
    ("kind", "status"), CASES, ids=[f"{k}-from-{s.value if s else 'none'}" for k, s in CASES]
)
def test_every_event_from_every_status(kind: str, status: Status | None) -> None:
    before = state_in(status) if status else None
    ev = effective(BODIES[kind], event_id="ev-1")
    expected = LEGAL.get((kind, status))
    if expected is not None:
        after = transition(before, ev, "H-1")
        assert after.status == expected
        assert after.as_of == date(2017, 3, 1)
        assert after.household_id == "H-1"
        return
    with pytest.raises(RuleViolation) as err:
        transition(before, ev, "H-1")
    if status is None:
        assert err.value.rule == "not_identified"
    elif kind == "IdentificationProposed":
        assert err.value.rule == "already_identified"
    else:
        assert err.value.rule == "illegal_transition"
    assert isinstance(err.value, RuleViolation)
    assert err.value.context["event_type"] == kind
    assert err.value.context["event_id"] == "ev-1"
    assert err.value.context["state"] == (status.value if status else "not registered")
    assert err.value.context["effective_date"] == ON


def test_status_sets_match_domain_md() -> None:
    assert frozenset({S.PROPOSED, S.POOR, S.EXIT_PENDING, S.EXITED, S.RETURNED}) == ACTIVE
    assert frozenset({S.POOR, S.RETURNED, S.EXIT_PENDING, S.EXITED}) == MAINTAINABLE
    assert frozenset({S.POOR, S.RETURNED, S.EXIT_PENDING}) == COUNTED_POOR


def test_identification_sets_up_the_household_from_its_data() -> None:
    body = proposed("2014-05-02", division=VILLAGE, attribute="dibao", income=1800, income_year=2013)
    state = transition(None, effective(body), "H-9")
    assert state.status == S.PROPOSED
    assert state.household_id == "H-9"
    assert state.division_code == VILLAGE
    assert state.attribute == "dibao"
    assert state.main_cause == "illness"
    assert state.persons == 2
    assert state.income == Income(2013, 1800, date(2014, 5, 2))
    assert state.proposed_on == date(2014, 5, 2)
    assert state.guarantees.missing() == ["medical", "housing"]


def test_approval_records_its_date() -> None:
    after = transition(state_in(S.PROPOSED), effective(approved("2014-05-20")), "H-1")
    assert after.approved_on == date(2014, 5, 20)


def test_exit_proposal_remembers_where_it_came_from_pathway_and_guarantees() -> None:
    after = transition(state_in(S.RETURNED), effective(exit_proposed("2018-03-01", pathway="employment")), "H-1")
    assert after.status == S.EXIT_PENDING
    assert after.exit_from == S.RETURNED
    assert after.exit_proposed_on == date(2018, 3, 1)
    assert after.exit_pathway == "employment"
    assert after.guarantees == ALL_SECURE


@pytest.mark.parametrize("origin", [S.POOR, S.RETURNED])
def test_exit_withdrawn_goes_back_to_where_the_exit_came_from(origin: Status) -> None:
    pending = transition(state_in(origin), effective(exit_proposed("2018-03-01")), "H-1")
    after = transition(pending, effective(exit_withdrawn("2018-03-05")), "H-1")
    assert after.status == origin
    assert after.exit_from is None
    assert after.exit_proposed_on is None


def test_exit_confirmed_records_the_exit_and_clears_at_risk() -> None:
    pending = replace(state_in(S.EXIT_PENDING), at_risk=True)
    after = transition(pending, effective(exit_confirmed("2016-11-15")), "H-1")
    assert after.exited_on == date(2016, 11, 15)
    assert after.at_risk is False


def test_return_to_poverty_records_date_and_cause() -> None:
    after = transition(state_in(S.EXITED), effective(returned("2017-08-03", "disaster")), "H-1")
    assert (after.status, after.returned_on, after.return_cause) == (S.RETURNED, date(2017, 8, 3), "disaster")


@pytest.mark.parametrize(
    ("finding", "status", "at_risk"),
    [
        (Finding.STABLE, S.EXITED, False),
        (Finding.AT_RISK, S.EXITED, True),
        (Finding.WRONGLY_EXITED, S.RETURNED, False),
    ],
)
def test_revisit_findings(finding: Finding, status: Status, at_risk: bool) -> None:
    after = transition(state_in(S.EXITED), effective(revisited("2017-06-01", finding)), "H-1")
    assert after.status == status
    assert after.at_risk is at_risk
    if finding == Finding.WRONGLY_EXITED:
        assert after.returned_on == date(2017, 6, 1)


def test_a_stable_revisit_clears_an_earlier_at_risk_finding() -> None:
    risky = transition(state_in(S.EXITED), effective(revisited("2017-06-01", "at_risk")), "H-1")
    after = transition(risky, effective(revisited("2018-06-01", "stable")), "H-1")
    assert after.at_risk is False


def test_re_identification_after_removal_starts_afresh() -> None:
    gone = replace(state_in(S.REMOVED), division_code=OTHER_VILLAGE)
    body = proposed("2019-04-01", attribute="tekun", members=[member(20)])
    after = transition(gone, effective(body), "H-1")
    assert after.status == S.PROPOSED
    assert after.attribute == "tekun"
    assert after.division_code == VILLAGE
    assert after.persons == 1
    assert after.measures == ()
    assert after.approved_on is None
    assert after.proposed_on == date(2019, 4, 1)


# --- the "same" events: what they change, and their structural rules ------------------


def test_measure_assigned_then_completed() -> None:
    poor = replace(state_in(S.POOR), measures=())
    assigned = transition(poor, effective(measure("2015-03-01", "housing"), event_id="m-9"), "H-1")
    assert [(m.measure_id, m.category, m.completed_on) for m in assigned.measures] == [("m-9", "housing", None)]
    done = transition(assigned, effective(measure_done("2015-09-01", "m-9")), "H-1")
    (m,) = done.measures
    assert m.completed_on == date(2015, 9, 1)
    assert m.outcome == "done"
    assert m.amount == 3000


def test_completing_an_unknown_measure_is_refused() -> None:
    with pytest.raises(RuleViolation) as err:
        transition(state_in(S.POOR), effective(measure_done(ON, "m-404")), "H-1")
    assert err.value.rule == "unknown_measure"


def test_completing_a_measure_twice_is_refused() -> None:
    once = transition(state_in(S.POOR), effective(measure_done(ON, "m-1")), "H-1")
    with pytest.raises(RuleViolation) as err:
        transition(once, effective(measure_done("2017-04-01", "m-1")), "H-1")
    assert err.value.rule == "measure_completed"


def test_helpers_accumulate() -> None:
    one = transition(state_in(S.POOR), effective(helper("2015-01-01", "王五")), "H-1")
    two = transition(one, effective(helper("2016-01-01", "赵六")), "H-1")
    assert [h.name for h in two.helpers] == ["王五", "赵六"]
    assert two.helpers[0].assigned_on == date(2015, 1, 1)


def test_income_assessed_replaces_the_income() -> None:
    after = transition(state_in(S.POOR), effective(income("2016-10-20", 4200, 2016)), "H-1")
    assert after.income == Income(2016, 4200, date(2016, 10, 20))


def test_an_assessment_for_an_older_year_does_not_replace_a_newer_one() -> None:
    newer = transition(state_in(S.POOR), effective(income("2016-10-20", 4200, 2016)), "H-1")
    after = transition(newer, effective(income("2016-12-01", 1000, 2015)), "H-1")
    assert after.income.per_capita == 4200


def test_members_join_and_leave() -> None:
    child = member(7, "child", "张小")
    joined = transition(state_in(S.POOR), effective(members_changed(ON, joined=[child])), "H-1")
    assert joined.persons == 3
    spouse_id = member(2).id_number
    left = transition(joined, effective(members_changed("2017-04-01", left=[spouse_id])), "H-1")
    assert [m.id_number for m in left.members] == [member(1).id_number, child.id_number]


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (members_changed(ON, left=[member(99).id_number]), "unknown_member"),
        (members_changed(ON, joined=[member(2, "child")]), "duplicate_member"),
        (members_changed(ON, left=[member(1).id_number, member(2).id_number]), "empty_household"),
        (members_changed(ON, left=[member(1).id_number]), "one_head"),
        (members_changed(ON, joined=[member(8, "head")]), "one_head"),
    ],
    ids=["unknown", "duplicate", "empty", "headless", "two-heads"],
)
def test_member_changes_keep_the_household_whole(change: EventBody, rule: str) -> None:
    with pytest.raises(RuleViolation) as err:
        transition(state_in(S.POOR), effective(change), "H-1")
    assert err.value.rule == rule


def test_head_can_be_replaced_in_one_change() -> None:
    change = members_changed(ON, joined=[member(8, "head", "张二")], left=[member(1).id_number])
    after = transition(state_in(S.POOR), effective(change), "H-1")
    assert [m.relation for m in after.members] == ["spouse", "head"]


def test_transfer_changes_the_division_but_not_to_the_same_one() -> None:
    moved = transition(state_in(S.EXITED), effective(transferred(ON, OTHER_VILLAGE)), "H-1")
    assert moved.division_code == OTHER_VILLAGE
    assert moved.status == S.EXITED
    with pytest.raises(RuleViolation) as err:
        transition(moved, effective(transferred("2017-04-01", OTHER_VILLAGE)), "H-1")
    assert err.value.rule == "same_division"


def test_replay_folds_a_whole_path_and_reports_each_state() -> None:
    events = [
        effective(proposed("2014-05-02"), "e1", 1),
        effective(approved("2014-05-20"), "e2", 2),
        effective(exit_proposed("2016-11-01"), "e3", 3),
        effective(exit_confirmed("2016-11-15"), "e4", 4),
        effective(returned("2017-08-03"), "e5", 5),
    ]
    steps = replay(events, "H-1")
    assert [s.state.status for s in steps] == [S.PROPOSED, S.POOR, S.EXIT_PENDING, S.EXITED, S.RETURNED]
    assert [s.event.event_id for s in steps] == ["e1", "e2", "e3", "e4", "e5"]


def test_replay_refuses_an_illegal_path_naming_the_offending_event() -> None:
    events = [
        effective(proposed("2014-05-02"), "e1", 1),
        effective(approved("2014-05-20"), "e2", 2),
        effective(returned("2015-08-03"), "e3", 3),
    ]
    with pytest.raises(RuleViolation) as err:
        replay(events, "H-1")
    assert err.value.rule == "illegal_transition"
    assert err.value.context["event_id"] == "e3"
    assert err.value.context["state"] == "poor"
