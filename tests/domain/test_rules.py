"""Policy rules (docs/domain.md "Events", the "checked" column), checked by ``decide`` with the policy in force."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from domain.errors import InvalidInput, RuleViolation
from domain.findings import ledger
from domain.policy import PolicySettings, PolicyVersion, RecordedPolicy
from domain.policy_data import LOCAL_POLICIES, statutory_book
from domain.vocab import Status

from .builders import (
    TAIZHOU_VILLAGE,
    VILLAGE,
    History,
    approved,
    at,
    book_with,
    corrected,
    exit_confirmed,
    exit_proposed,
    guarantees,
    helper,
    income,
    proposed,
    registered_poor,
    removed,
    retracted,
    returned,
    revisited,
    transferred,
)


def local(jurisdiction: str, effective: str, **settings: object) -> PolicyVersion:
    return PolicyVersion(
        jurisdiction=jurisdiction,
        effective_date=date.fromisoformat(effective),
        settings=PolicySettings(**settings),  # type: ignore[arg-type]
    )


def refused(h: History, body: object, rule: str) -> RuleViolation:
    before = list(h.events)
    with pytest.raises(RuleViolation) as err:
        h.record(body)  # type: ignore[arg-type]
    assert err.value.rule == rule, err.value.detail
    assert h.events == before, "a refused command records nothing"
    return err.value


def exit_ready(h: History | None = None, *, division: str = VILLAGE, line_income: float = 5000) -> History:
    """Poor since May 2014, with an income assessed in 2015."""
    h = h or History()
    h.record(proposed("2014-05-02", division=division))
    h.record(approved("2014-05-20"))
    h.record(income("2015-12-01", line_income, 2015))
    return h


# --- identification notice period ---------------------------------------------------


def test_approval_before_the_7_day_notice_is_refused() -> None:
    h = History()
    h.record(proposed("2014-05-02"))
    err = refused(h, approved("2014-05-08"), "identification_notice_period")
    assert err.context["earliest"] == "2014-05-09"
    assert isinstance(err, RuleViolation)


def test_approval_exactly_when_the_notice_ends_is_accepted() -> None:
    h = History()
    h.record(proposed("2014-05-02"))
    h.record(approved("2014-05-09"))
    assert h.last_steps[-1].state.status == Status.POOR


def test_a_jurisdiction_can_lengthen_the_identification_notice() -> None:
    h = History(policies=book_with((local("620422", "2010-01-01", identification_notice_days=15), None)))
    h.record(proposed("2014-05-02"))
    err = refused(h, approved("2014-05-16"), "identification_notice_period")
    assert err.context["earliest"] == "2014-05-17"
    h.record(approved("2014-05-17"))


def test_the_notice_counts_from_the_proposal_of_the_current_identification() -> None:
    h = registered_poor()
    h.record(removed("2015-01-10"))
    h.record(proposed("2016-03-01"))
    refused(h, approved("2016-03-05"), "identification_notice_period")
    h.record(approved("2016-03-08"))


# --- exit: income at or above the poverty line in force ----------------------------------


def test_exit_with_the_identification_income_below_the_line_is_refused() -> None:
    h = registered_poor()  # identified with 2100 yuan (2013 income) on 2014-05-02
    err = refused(h, exit_proposed("2015-03-01"), "exit_income_below_line")
    assert err.context["poverty_line"] == 2736  # the line of the income year, 2013
    assert err.context["income_per_capita"] == 2100


@pytest.mark.parametrize(("amount", "ok"), [(2951, False), (2952, True), (2952.01, True)])
def test_exit_needs_income_at_or_above_the_line(amount: float, ok: bool) -> None:
    h = registered_poor()
    h.record(income("2016-10-20", amount))
    if ok:
        h.record(exit_proposed("2016-11-01"))
    else:
        refused(h, exit_proposed("2016-11-01"), "exit_income_below_line")


def test_the_latest_assessment_counts_not_the_best() -> None:
    h = registered_poor()
    h.record(income("2015-10-01", 4000, 2015))
    h.record(income("2016-10-01", 2500, 2016))
    err = refused(h, exit_proposed("2016-11-01"), "exit_income_below_line")
    assert err.context["income_per_capita"] == 2500


def test_the_line_is_the_one_of_the_income_year() -> None:
    h = exit_ready(line_income=2900)  # a 2015 income: above 2015's 2855, below 2016's 2952
    h.record(exit_proposed("2016-01-01"))  # judged on its 2015 income, against 2015's line
    assert h.last_steps[-1].state.status == Status.EXIT_PENDING
    late = exit_ready(History(household_id="H-2"), line_income=2900)
    late.record(income("2016-03-01", 2900, 2016))  # the same figure as a 2016 income
    err = refused(late, exit_proposed("2016-04-01"), "exit_income_below_line")
    assert err.context["poverty_line"] == 2952


def test_taizhou_7000_line_applies_to_taizhou_households_from_its_effective_date() -> None:
    taizhou = LOCAL_POLICIES["taizhou-2016"]
    policies = book_with((taizhou, at("2016-02-25")))
    h = exit_ready(History(policies=policies), division=TAIZHOU_VILLAGE, line_income=5000)
    h.record(income("2016-12-01", 5000, 2016))
    err = refused(h, exit_proposed("2016-12-05"), "exit_income_below_line")
    assert err.context["poverty_line"] == 7000
    # a 2015 income is measured against 2015's national line (Taizhou's took effect in 2016)
    early = exit_ready(History(household_id="H-2", policies=policies), division=TAIZHOU_VILLAGE, line_income=5000)
    early.record(exit_proposed("2016-03-01"))
    assert early.last_steps[-1].state.status == Status.EXIT_PENDING


def test_taizhou_line_met_exactly_is_accepted() -> None:
    policies = book_with((LOCAL_POLICIES["taizhou-2016"], at("2016-02-25")))
    h = exit_ready(History(policies=policies), division=TAIZHOU_VILLAGE, line_income=7000)
    h.record(income("2016-12-01", 7000, 2016))
    h.record(exit_proposed("2016-12-05"))


def test_taizhou_line_does_not_apply_elsewhere() -> None:
    policies = book_with((LOCAL_POLICIES["taizhou-2016"], at("2016-02-25")))
    h = exit_ready(History(policies=policies), division=VILLAGE, line_income=5000)
    h.record(exit_proposed("2016-03-01"))


def test_the_line_follows_the_division_the_household_is_in_on_the_exit_date() -> None:
    policies = book_with((LOCAL_POLICIES["taizhou-2016"], at("2016-02-25")))
    h = exit_ready(History(policies=policies), division=VILLAGE, line_income=5000)
    h.record(transferred("2016-04-01", TAIZHOU_VILLAGE))
    h.record(income("2016-05-01", 5000, 2016))
    err = refused(h, exit_proposed("2016-06-01"), "exit_income_below_line")
    assert err.context["poverty_line"] == 7000


def test_a_policy_not_yet_recorded_does_not_bind_the_decision() -> None:
    """decide uses the book it is given: the book as known when the event is recorded."""
    book = book_with((LOCAL_POLICIES["taizhou-2016"], at("2016-06-01")))
    h = exit_ready(History(policies=book.known_at(at("2016-03-02"))), division=TAIZHOU_VILLAGE)
    h.record(exit_proposed("2016-03-01"), at("2016-03-02"))


# --- exit: guarantees ---------------------------------------------------------------------


def test_exit_with_a_guarantee_missing_is_refused_listing_them() -> None:
    h = exit_ready()
    err = refused(h, exit_proposed("2016-11-01", guarantees(medical=False, water=False)), "exit_guarantees")
    assert err.context["missing"] == ["medical", "water"]


@pytest.mark.parametrize("key", ["food", "clothing", "education", "medical", "housing", "water"])
def test_each_guarantee_is_required(key: str) -> None:
    h = exit_ready()
    err = refused(h, exit_proposed("2016-11-01", guarantees(**{key: False})), "exit_guarantees")
    assert err.context["missing"] == [key]


# --- exit confirmation ----------------------------------------------------------------------


def test_exit_confirmation_needs_the_household_acknowledgement() -> None:
    h = exit_ready()
    h.record(exit_proposed("2016-11-01"))
    with pytest.raises(ValidationError, match="household_acknowledged must be true"):
        exit_confirmed("2016-11-15", acknowledged=False)
    h.record(exit_confirmed("2016-11-15", acknowledged=True))
    assert h.last_steps[-1].state.status == Status.EXITED


def test_exit_confirmation_before_the_notice_ends_is_refused() -> None:
    h = exit_ready()
    h.record(exit_proposed("2016-11-01"))
    err = refused(h, exit_confirmed("2016-11-07"), "exit_notice_period")
    assert err.context["earliest"] == "2016-11-08"
    h.record(exit_confirmed("2016-11-08"))


def test_a_jurisdiction_can_set_its_own_exit_notice() -> None:
    h = exit_ready(History(policies=book_with((local("620422100", "2015-01-01", exit_notice_days=10), None))))
    h.record(exit_proposed("2016-11-01"))
    refused(h, exit_confirmed("2016-11-10"), "exit_notice_period")
    h.record(exit_confirmed("2016-11-11"))


def test_no_exit_in_the_year_of_identification() -> None:
    h = History()
    h.record(proposed("2016-02-01"))
    h.record(approved("2016-02-20"))
    h.record(income("2016-05-01", 5000))
    h.record(exit_proposed("2016-06-01"))  # proposing is allowed; exiting is not
    refused(h, exit_confirmed("2016-06-15"), "no_exit_in_year_of_entry")
    refused(h, exit_confirmed("2016-12-31"), "no_exit_in_year_of_entry")
    h.record(exit_confirmed("2017-01-01"))


def test_the_year_of_identification_is_the_year_of_approval() -> None:
    h = History()
    h.record(proposed("2015-12-28"))
    h.record(approved("2016-01-05"))
    h.record(income("2016-05-01", 5000))
    h.record(exit_proposed("2016-06-01"))
    refused(h, exit_confirmed("2016-06-15"), "no_exit_in_year_of_entry")


def test_no_exit_in_the_year_of_return() -> None:
    h = exit_ready()
    h.record(exit_proposed("2016-11-01"))
    h.record(exit_confirmed("2016-11-15"))
    h.record(returned("2018-03-01"))
    h.record(income("2018-05-01", 5000, 2017))
    h.record(exit_proposed("2018-06-01"))
    refused(h, exit_confirmed("2018-06-15"), "no_exit_in_year_of_entry")
    h.record(exit_confirmed("2019-01-02"))


def test_a_wrongly_exited_finding_counts_as_a_return_for_the_year_rule() -> None:
    h = exit_ready()
    h.record(exit_proposed("2016-11-01"))
    h.record(exit_confirmed("2016-11-15"))
    h.record(revisited("2018-03-01", "wrongly_exited"))
    h.record(income("2018-05-01", 5000, 2017))
    h.record(exit_proposed("2018-06-01"))
    refused(h, exit_confirmed("2018-06-15"), "no_exit_in_year_of_entry")


def test_a_jurisdiction_may_turn_the_year_rule_off() -> None:
    h = History(policies=book_with((local("6204", "2010-01-01", no_exit_in_year_of_entry=False), None)))
    h.record(proposed("2016-02-01"))
    h.record(approved("2016-02-20"))
    h.record(income("2016-05-01", 5000))
    h.record(exit_proposed("2016-06-01"))
    h.record(exit_confirmed("2016-06-15"))
    assert h.last_steps[-1].state.status == Status.EXITED


# --- rules and corrections -----------------------------------------------------------------


def test_a_correction_is_judged_by_the_rules_on_its_new_date() -> None:
    h = exit_ready()
    h.record(exit_proposed("2016-11-01"))
    confirmed = h.record(exit_confirmed("2016-11-15"))
    refused(h, corrected("2016-12-01", confirmed, effective_date="2016-11-05"), "exit_notice_period")
    with pytest.raises(InvalidInput, match="household_acknowledged must be true"):
        h.record(corrected("2016-12-01", confirmed, household_acknowledged=False))
    h.record(corrected("2016-12-01", confirmed, effective_date="2016-11-10"))
    assert h.last_steps[-1].state.exited_on == date(2016, 11, 10)


def test_a_correction_of_an_approval_into_the_notice_period_is_refused() -> None:
    h = registered_poor()  # approved 2014-05-20
    refused(h, corrected("2014-06-01", h.events[1], effective_date="2014-05-04"), "identification_notice_period")


def test_retracting_a_correction_judges_the_restored_event_by_the_rules() -> None:
    h = exit_ready()
    proposal = h.record(exit_proposed("2016-11-01"))
    confirmation = h.record(exit_confirmed("2016-11-08"))
    moved = h.record(corrected("2016-12-01", confirmation, effective_date="2016-11-15"))
    h.record(corrected("2016-12-02", proposal, effective_date="2016-11-05"))
    # Restoring the confirmation's 2016-11-08 would leave 3 days of notice after 2016-11-05.
    err = refused(h, retracted("2016-12-03", moved), "exit_notice_period")
    assert err.context["earliest"] == "2016-11-12"


def test_retracting_a_correction_whose_original_still_keeps_the_rules_is_accepted() -> None:
    h = exit_ready()
    h.record(exit_proposed("2016-11-01"))
    confirmation = h.record(exit_confirmed("2016-11-08"))
    moved = h.record(corrected("2016-12-01", confirmation, effective_date="2016-11-15"))
    h.record(retracted("2016-12-03", moved))
    assert h.last_steps[-1].state.exited_on == date(2016, 11, 8)


# --- the whole path keeps its rules ----------------------------------------------------


def test_a_correction_of_the_proposal_leaves_the_approval_with_a_finding() -> None:
    """Correcting a decision is judged on its own; the later approval it leaves inside
    the notice period carries a finding instead of refusing the correction."""
    h = registered_poor()  # proposed 2014-05-02, approved 2014-05-20
    proposal, approval = h.events[0], h.events[1]
    fix = h.record(corrected("2014-06-01", proposal, effective_date="2014-05-18"))
    (found,) = ledger(h.events, h.policies).values()
    assert (found.rule, found.decision_event_id) == ("identification_notice_period", approval.event_id)
    assert found.shown_by == (fix.event_id,)
    assert found.known_since == fix.recorded_at


def test_a_late_low_income_is_accepted_and_gives_the_exit_a_finding() -> None:
    h = exit_ready()
    proposal = h.record(exit_proposed("2016-11-01"))
    late = h.record(income("2016-10-01", 1500, 2016))
    assert h.last_steps[-1].state.status == Status.EXIT_PENDING, "a fact never moves the status"
    (found,) = ledger(h.events, h.policies).values()
    assert (found.rule, found.decision_event_id, found.shown_by) == (
        "exit_income_below_line", proposal.event_id, (late.event_id,)
    )


def test_moving_an_exit_proposal_into_the_notice_period_gives_the_confirmation_a_finding() -> None:
    h = exit_ready()
    proposal = h.record(exit_proposed("2016-11-01"))
    confirmation = h.record(exit_confirmed("2016-11-15"))
    h.record(corrected("2016-12-01", proposal, effective_date="2016-11-12"))
    (found,) = ledger(h.events, h.policies).values()
    assert (found.rule, found.decision_event_id) == ("exit_notice_period", confirmation.event_id)


def test_a_rule_recorded_later_does_not_rejudge_an_earlier_exit() -> None:
    """Facts recorded late re-judge later decisions; rules recorded late do not."""
    book = statutory_book()
    h = exit_ready(History(policies=book))
    h.record(exit_proposed("2016-11-01"))
    h.record(exit_confirmed("2016-11-15"))
    # A local line of 7000 from 2016 on, recorded in 2017 after the exit was decided.
    local = PolicyVersion(jurisdiction="620422", effective_date=date(2016, 1, 1),
                          settings=PolicySettings(poverty_line=7000))
    h.policies = book.with_version(RecordedPolicy(local, at("2017-01-05")))
    # A late helper dated before the exit re-checks the exit, with the rules of its decision.
    h.record(helper("2016-06-01"), when="2017-02-01")
    assert h.last_steps[-1].state.status == Status.EXITED


def test_no_policy_before_the_national_line_is_an_input_error() -> None:
    h = History()
    with pytest.raises(InvalidInput) as early:
        h.record(proposed("2009-03-02"), when="2014-01-10")  # a 2008 income: no line to judge it
    assert early.value.rule == "no_policy_in_force"
    h.record(proposed("2009-03-02", eligibility_exception="sudden_disaster"), when="2014-01-10")
    h.record(approved("2009-03-20"), when="2014-01-11")
    h.record(income("2009-06-01", 5000, 2009), when="2014-01-12")
    with pytest.raises(InvalidInput) as err:
        h.record(exit_proposed("2009-11-01"), when="2014-01-13")
    assert err.value.rule == "no_policy_in_force"
