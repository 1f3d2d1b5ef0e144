"""The relay's restatement messages from the real notification log (both stores): the late exit
and a correction each give exactly their restatement; on-time events give none; a relay started
mid-log (a restarted relay), or one that keeps almost nothing of the households it read, gives
the same messages."""

from __future__ import annotations

import json
from typing import Any

from consumers.encoding import PageEncoder
from consumers.folds import HouseholdFolds
from domain.history import Actor
from service.feed import HOUSEHOLD_TOPIC_PREFIX
from service.registry import Command, Registry
from tests.kafka.workload import late_exit_and_correction
from tests.support import Clock


def messages(registry: Registry, start: int = 1, page: int = 1000, histories: int = 50_000) -> list[dict[str, Any]]:
    """The restatement messages of the log from ``start``, read ``page`` notifications at a time."""
    encoder = PageEncoder(registry, b"k", folds=HouseholdFolds(registry, tracks=histories, histories=histories))
    events = [n for n in registry.recorder.select_notifications(start=start, limit=1000)
              if n.topic.startswith(HOUSEHOLD_TOPIC_PREFIX)]
    out = []
    for i in range(0, len(events), page):
        for encoded in encoder.encode(events[i:i + page], restating=True):
            out += [json.loads(value) for value in encoded.restatements]
    return out


def test_the_late_exit_and_its_correction_each_restate_once(county: Registry, clock: Clock) -> None:
    ids = late_exit_and_correction(county, clock)
    found = messages(county)
    assert [(m["event_id"], m["valid_from"], m["valid_to"], m["status_before"], m["status_after"]) for m in found] == [
        (ids["exit"], "2016-11-15", "2016-12-20", "exit_pending", "exited"),
        (ids["fix"], "2016-11-10", "2016-11-15", "exit_pending", "exited"),
    ]
    assert [m["restatement_id"] for m in found] == [f"{ids['exit']}/1", f"{ids['fix']}/1"]
    assert {m["household_id"] for m in found} == {"H-1"} and {m["division_code"] for m in found} == {"620422100201"}
    assert found[0]["type"] == "restatement" and found[0]["event_type"] == "ExitConfirmed"
    assert found[0]["position"] < found[1]["position"]


def test_a_relay_started_mid_log_or_keeping_little_gives_the_same_messages(county: Registry, clock: Clock) -> None:
    late_exit_and_correction(county, clock)
    whole = messages(county)
    later = whole[0]["position"] - 1
    assert messages(county, start=later, histories=1) == whole
    assert messages(county, page=1, histories=1) == whole


def test_a_correction_that_shows_a_false_exit_restates_the_finding(county: Registry, clock: Clock) -> None:
    ids = late_exit_and_correction(county, clock)
    clock.set("2018-03-01T02:00:00+00:00")
    false = county.record(Command({"type": "EventCorrected", "effective_date": "2018-03-01",
                                   "target_event_id": ids["income"], "changes": {"income_per_capita": 2500},
                                   "reason": "审计发现实际收入"}, Actor("clerk", "recorder", "620422"),
                                  household_id="H-1")).event_id
    found = [m for m in messages(county) if m["event_id"] == false]
    assert [(m["valid_from"], m["valid_to"], m["status_before"], m["status_after"]) for m in found] == [
        ("2016-11-01", "2016-11-10", "exit_pending", "exit_pending"),
        ("2016-11-10", "2018-03-01", "exited", "exited"),
    ]
    assert {(m["finding"]["rule"], m["finding"]["change"]) for m in found} == {("exit_income_below_line", "opened")}
