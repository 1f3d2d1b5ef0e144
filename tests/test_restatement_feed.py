"""The relay's restatement messages from the real notification log (both stores): the late exit
and a correction each give exactly their restatement; on-time events give none; a feed started
mid-log (a restarted relay) gives the same messages."""

from __future__ import annotations

import json
from typing import Any

from consumers.restatements import RestatementFeed
from domain.history import Actor
from service.registry import Command, Registry
from tests.support import GUARANTEED, Clock, proposal

CLERK = Actor("clerk", "recorder", "620422")
OFFICE = Actor("office", "approver", "620422")


def record(registry: Registry, clock: Clock, at: str, actor: Actor = CLERK, hid: str = "H-1",
           **payload: Any) -> str:
    clock.set(at)
    return registry.record(Command(payload, actor, household_id=hid)).event_id


def history(registry: Registry, clock: Clock) -> dict[str, str]:
    ids = {}
    record(registry, clock, "2014-05-02T02:00:00+00:00", **proposal())
    record(registry, clock, "2014-05-20T02:00:00+00:00", OFFICE, type="IdentificationApproved",
           effective_date="2014-05-20")
    ids["income"] = record(registry, clock, "2016-10-15T02:00:00+00:00", type="IncomeAssessed",
                           effective_date="2016-10-15", year=2016, income_per_capita=3600)
    record(registry, clock, "2016-11-01T02:00:00+00:00", type="ExitProposed", effective_date="2016-11-01",
           pathway="industry", guarantees=GUARANTEED)
    ids["exit"] = record(registry, clock, "2016-12-20T02:00:00+00:00", OFFICE, type="ExitConfirmed",
                         effective_date="2016-11-15", household_acknowledged=True)  # late
    ids["fix"] = record(registry, clock, "2017-01-10T02:00:00+00:00", OFFICE, type="EventCorrected",
                        effective_date="2017-01-10", target_event_id=ids["exit"],
                        changes={"effective_date": "2016-11-10"}, reason="日期录错")
    record(registry, clock, "2017-02-01T02:00:00+00:00", type="EventCorrected", effective_date="2017-02-01",
           target_event_id=ids["income"], changes={"income_per_capita": 3700}, reason="录入错误")
    return ids


def messages(feed: RestatementFeed, registry: Registry, start: int = 1) -> list[dict[str, Any]]:
    out = []
    for n in registry.recorder.select_notifications(start=start, limit=1000):
        out += [json.loads(value) for value in feed.messages(n)]
    return out


def test_the_late_exit_and_its_correction_each_restate_once(county: Registry, clock: Clock) -> None:
    ids = history(county, clock)
    found = messages(RestatementFeed(county), county)
    assert [(m["event_id"], m["valid_from"], m["valid_to"], m["status_before"], m["status_after"]) for m in found] == [
        (ids["exit"], "2016-11-15", "2016-12-20", "exit_pending", "exited"),
        (ids["fix"], "2016-11-10", "2016-11-15", "exit_pending", "exited"),
    ]
    assert [m["restatement_id"] for m in found] == [f"{ids['exit']}/1", f"{ids['fix']}/1"]
    assert {m["household_id"] for m in found} == {"H-1"} and {m["division_code"] for m in found} == {"620422100201"}
    assert found[0]["type"] == "restatement" and found[0]["event_type"] == "ExitConfirmed"
    assert found[0]["position"] < found[1]["position"]


def test_a_feed_started_mid_log_gives_the_same_messages(county: Registry, clock: Clock) -> None:
    history(county, clock)
    whole = messages(RestatementFeed(county), county)
    later = whole[0]["position"] - 1
    tail = messages(RestatementFeed(county, cache_size=1), county, start=later)
    assert tail == whole


def test_a_correction_that_shows_a_false_exit_restates_the_finding(county: Registry, clock: Clock) -> None:
    ids = history(county, clock)
    false = record(county, clock, "2018-03-01T02:00:00+00:00", type="EventCorrected", effective_date="2018-03-01",
                   target_event_id=ids["income"], changes={"income_per_capita": 2500}, reason="审计发现实际收入")
    found = [m for m in messages(RestatementFeed(county), county) if m["event_id"] == false]
    assert [(m["valid_from"], m["valid_to"], m["status_before"], m["status_after"]) for m in found] == [
        ("2016-11-01", "2016-11-10", "exit_pending", "exit_pending"),
        ("2016-11-10", "2018-03-01", "exited", "exited"),
    ]
    assert {(m["finding"]["rule"], m["finding"]["change"]) for m in found} == {("exit_income_below_line", "opened")}
