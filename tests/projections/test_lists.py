"""A division's work lists and progress, on the read model (SQLite and PostgreSQL):
households due for 回头看, poor households without a helper, yearly targets vs rosters."""

from __future__ import annotations

from datetime import date

from domain.policy_data import LOCAL_POLICIES
from projections import SqlReadModel, lists
from service.registry import Registry
from tests.projections.test_queries import H, k, rec, worked_example
from tests.support import Clock


def test_a_poor_household_without_a_helper_is_listed_until_one_is_assigned(
    county: Registry, clock: Clock, model: SqlReadModel
) -> None:
    worked_example(county, clock)
    listed = lists.without_helper(model, "620422", date(2015, 1, 1), None)
    assert [r["household_id"] for r in listed["rows"]] == [H]
    assert listed["rows"][0]["status_label"] == "在档未脱贫"
    rec(county, clock, "2018-03-01T09:00:00+08:00",
        {"type": "HelperAssigned", "effective_date": "2014-12-01", "helper_name": "王五", "unit": "县农业局"})
    assert lists.without_helper(model, "620422", date(2015, 1, 1), None)["rows"] == []
    # as known before the assignment was recorded, it was still without one
    assert lists.without_helper(model, "620422", date(2015, 1, 1), k("2018-02-01T00:00:00+08:00"))["total"] == 1
    # exited households are not on this list
    assert lists.without_helper(model, "620422", date(2017, 1, 1), k("2018-02-01T00:00:00+08:00"))["total"] == 0


def test_an_exited_household_is_due_for_revisit_a_year_after_exit_or_its_last_revisit(
    county: Registry, clock: Clock, model: SqlReadModel
) -> None:
    worked_example(county, clock)  # exited 2016-11-15, returned 2017-08-03 (recorded 2017-09-01)
    before_return = k("2017-08-20T00:00:00+08:00")
    book = county.policy_book()
    assert lists.revisits_due(model, book, "620422", date(2017, 7, 1), before_return)["rows"] == []
    due = lists.revisits_due(model, book, "620422", date(2017, 7, 31), k("2017-08-20T00:00:00+08:00"))
    assert due["total"] == 0  # 365 days after 2016-11-15 is 2017-11-15
    # the household returned in August: no longer exited, no longer due
    assert lists.revisits_due(model, book, "620422", date(2017, 11, 20), None)["total"] == 0
    # as known before the return was recorded it was exited, but not yet due on 2017-08-15
    assert lists.revisits_due(model, book, "620422", date(2017, 8, 15), before_return)["total"] == 0


def test_revisit_schedule_from_the_latest_revisit(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    worked_example(county, clock)
    # Retract the return, then revisit: due again a year after the revisit.
    returned = county.history(H)[-1]
    rec(county, clock, "2018-03-01T09:00:00+08:00",
        {"type": "EventRetracted", "effective_date": "2018-03-01", "target_event_id": returned.event_id,
         "reason": "录入错误"})
    book = county.policy_book()
    due = lists.revisits_due(model, book, "620422", date(2017, 11, 15), None)
    assert [(r["household_id"], r["due_on"], r["overdue_days"]) for r in due["rows"]] == [(H, "2017-11-15", 0)]
    rec(county, clock, "2018-03-02T09:00:00+08:00",
        {"type": "Revisited", "effective_date": "2017-11-20", "finding": "stable"})
    assert lists.revisits_due(model, book, "620422", date(2018, 3, 1), None)["total"] == 0
    late = lists.revisits_due(model, book, "620422", date(2018, 11, 21), None)["rows"]
    assert [(r["last_revisited_on"], r["due_on"]) for r in late] == [("2017-11-20", "2018-11-20")]


def test_progress_against_huining_targets(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    worked_example(county, clock)
    county.record_policy(LOCAL_POLICIES["huining-2015"])
    report = lists.progress_report(model, county.policy_book(), "620422", date(2017, 1, 1), None)
    assert "会宁县委发〔2015〕53号" in report["source"]["document"]
    years = {y["year"]: y for y in report["years"]}
    assert sorted(years) == [2015, 2016, 2017]
    exits_2016 = next(i for i in years[2016]["items"] if i["target"] == "exit_persons")
    assert (exits_2016["wanted"], exits_2016["actual"], exits_2016["met"]) == (42000, 2, False)
    assert years[2017]["year_over"] is False
    incidence_2017 = next(i for i in years[2017]["items"] if i["target"] == "incidence_max")
    assert incidence_2017["wanted"] == 8.0 and incidence_2017["met"] is None  # the year is not over
    # a division without targets of its own has none (they are not inherited)
    assert lists.progress_report(model, county.policy_book(), "620422100", date(2017, 1, 1), None)["years"] == []
