"""Why a status: the decision, the checks that admitted it with their sources, the facts
they read, and the corrections and retractions known by then."""

from __future__ import annotations

from datetime import date, datetime

from domain.explain import explain
from domain.policy import PolicySettings, PolicyVersion, RecordedPolicy
from domain.policy_data import NATIONAL_POVERTY_LINES, statutory_book

from .builders import (
    History,
    approved,
    at,
    corrected,
    day,
    exit_confirmed,
    exit_proposed,
    income,
    proposed,
    registered_poor,
    retracted,
)


def why(h: History, as_of: str, known_at: str | datetime | None = None) -> dict:
    moment = known_at if isinstance(known_at, datetime) else at(known_at, 23, 59) if known_at else None
    found = explain(h.events, day(as_of), moment, statutory_book())
    assert found is not None
    return found


def exited_late() -> tuple[History, dict[str, object]]:
    """Poor from 2014, income 3100 in Oct 2016, exit proposed 1 Nov, confirmed 20 Nov
    but recorded only on 30 Dec."""
    h = registered_poor()
    inc = h.record(income("2016-10-10", 3100))
    prop = h.record(exit_proposed("2016-11-01"))
    conf = h.record(exit_confirmed("2016-11-20"), "2016-12-30")
    return h, {"income": inc, "proposal": prop, "confirmation": conf}


def test_before_proposal_nothing_to_explain() -> None:
    h = registered_poor()
    assert explain(h.events, date(2014, 1, 1), None, statutory_book()) is None
    assert explain(h.events, date(2015, 1, 1), at("2014-04-01"), statutory_book()) is None


def test_poor_rests_on_the_approval_its_notice_period_and_the_proposal() -> None:
    h = registered_poor()
    w = why(h, "2015-01-01")
    assert w["status"] == "poor" and w["since"] == "2014-05-20"
    assert w["decision"]["type"] == "IdentificationApproved"
    assert w["decision"]["from_status"] == "proposed" and w["decision"]["to_status"] == "poor"
    assert w["decision"]["recorded_by"]["name"] == "clerk-1"
    assert [link["type"] for link in w["chain"]] == ["IdentificationApproved", "IdentificationProposed"]
    [check] = [c for c in w["checks"] if c["rule"] == "identification_notice_period"]
    assert [c["rule"] for c in w["checks"] if c["rule"] != "identification_notice_period"] == ["income_above_line"]
    assert check["rule"] == "identification_notice_period" and check["passed"]
    assert check["value"] == 7 and check["notice_from"] == "2014-05-02" and check["earliest"] == "2014-05-09"
    assert check["source"]["setting"] == "identification_notice_days"
    assert "国开办发〔2014〕24号" in check["source"]["document"]
    assert [f["type"] for f in w["facts"]] == ["IdentificationProposed"]
    assert w["changes"] == [] and w["findings"] == []


def test_exit_shows_line_guarantees_notice_and_the_income_it_read() -> None:
    h, ev = exited_late()
    w = why(h, "2017-01-01")
    assert w["status"] == "exited"
    assert w["decision"]["event_id"] == ev["confirmation"].event_id  # type: ignore[attr-defined]
    assert w["decision"]["recorded_at"].startswith("2016-12-30")
    rules = {c["rule"]: c for c in w["checks"]}
    assert set(rules) == {"exit_notice_period", "no_exit_in_year_of_entry", "exit_income_below_line",
                          "exit_guarantees", "exit_income_outdated"}
    assert all(c["passed"] for c in w["checks"])
    line = rules["exit_income_below_line"]
    assert line["value"] == NATIONAL_POVERTY_LINES[2016] and line["income_per_capita"] == 3100
    assert "2016" in line["source"]["document"] and line["source"]["effective_date"] == "2016-01-01"
    assert rules["no_exit_in_year_of_entry"]["entered_on"] == "2014-05-20"
    used = {f["used_for"]: f["event_id"] for f in w["facts"]}
    assert used["income_per_capita"] == ev["income"].event_id  # type: ignore[attr-defined]
    assert used["notice_from"] == ev["proposal"].event_id  # type: ignore[attr-defined]
    assert {v["effective_date"] for v in w["policy"]["versions"]} == {"1978-01-01", "2016-01-01"}


def test_the_late_exit_as_known_before_it_was_recorded() -> None:
    h, ev = exited_late()
    before = why(h, "2016-12-01", "2016-12-01")
    assert before["status"] == "exit_pending"
    assert before["decision"]["event_id"] == ev["proposal"].event_id  # type: ignore[attr-defined]
    assert {c["rule"] for c in before["checks"]} == {
        "exit_income_outdated", "exit_income_below_line", "exit_guarantees"}
    assert why(h, "2016-12-01")["status"] == "exited"


def test_a_correction_of_the_income_shows_in_facts_and_changes() -> None:
    h = registered_poor()
    inc = h.record(income("2016-10-10", 31000))
    h.record(exit_proposed("2016-11-01"))
    h.record(exit_confirmed("2016-11-20"))
    fix = h.record(corrected("2017-01-05", inc, income_per_capita=3100))
    after = why(h, "2017-01-01")
    [change] = after["changes"]
    assert change["event_id"] == fix.event_id and change["target_event_id"] == inc.event_id
    assert change["changes"] == {"income_per_capita": 3100}
    fact = next(f for f in after["facts"] if f["used_for"] == "income_per_capita")
    assert fact["values"]["income_per_capita"] == 3100 and fact["corrected_by"] == [fix.event_id]
    earlier = why(h, "2017-01-01", "2017-01-01")
    assert earlier["changes"] == []
    assert next(f for f in earlier["facts"] if f["used_for"] == "income_per_capita")["values"][
        "income_per_capita"] == 31000


def test_a_retracted_exit_restores_the_status_and_names_the_retraction() -> None:
    h, ev = exited_late()
    undo = h.record(retracted("2017-02-01", ev["confirmation"]))  # type: ignore[arg-type]
    w = why(h, "2017-01-01")
    assert w["status"] == "exit_pending"
    assert [c["event_id"] for c in w["changes"]] == [undo.event_id]
    assert w["changes"][0]["type"] == "EventRetracted" and w["changes"][0]["target_type"] == "ExitConfirmed"
    assert why(h, "2017-01-01", "2017-01-31")["status"] == "exited"


def test_a_later_policy_never_rejudges_the_decision() -> None:
    """The checks are those of the policy as known when the decision was recorded."""
    h = History()
    h.record(proposed("2014-05-02"))
    h.record(approved("2014-05-20"))
    book = statutory_book().with_version(RecordedPolicy(
        PolicyVersion(jurisdiction="620422", effective_date=date(2014, 1, 1),
                      settings=PolicySettings(identification_notice_days=30), source="会宁县文件"),
        at("2015-01-01")))
    w = explain(h.events, date(2014, 6, 1), None, book)
    assert w is not None
    [check] = [c for c in w["checks"] if c["rule"] == "identification_notice_period"]
    assert [c["rule"] for c in w["checks"] if c["rule"] != "identification_notice_period"] == ["income_above_line"]
    assert check["value"] == 7 and check["passed"]
