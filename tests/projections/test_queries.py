"""The read model's answers on hand-made histories (the worked example of docs/domain.md and more),
on SQLite and PostgreSQL, with the read model caught up after every save."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from domain.commands import Command
from domain.history import Actor
from domain.policy_data import LOCAL_POLICIES
from projections import SqlReadModel
from service.registry import Registry
from tests.support import APPROVER, GUARANTEED, Clock, member, proposal

H = "H-620422100201-0001"


def rec(registry: Registry, clock: Clock, at: str, payload: dict[str, Any], hid: str = H) -> Any:
    clock.set(at)
    return registry.record(Command(payload=payload, actor=APPROVER, household_id=hid))


def worked_example(registry: Registry, clock: Clock) -> dict[str, Any]:
    """The worked example: proposed 05-02, approved 05-20, exit 11-01/11-15 (recorded late), return 2017-08-03."""
    ids = {}
    ids["proposed"] = rec(registry, clock, "2014-05-02T09:00:00+08:00", proposal(effective_date="2014-05-02"))
    ids["approved"] = rec(registry, clock, "2014-05-21T09:00:00+08:00",
                          {"type": "IdentificationApproved", "effective_date": "2014-05-20"})
    rec(registry, clock, "2016-01-10T09:00:00+08:00",
        {"type": "IncomeAssessed", "effective_date": "2016-01-05", "year": 2015, "income_per_capita": 5200})
    ids["exit_proposed"] = rec(registry, clock, "2016-11-01T09:00:00+08:00",
                               {"type": "ExitProposed", "effective_date": "2016-11-01", "pathway": "industry",
                                "guarantees": GUARANTEED})
    ids["exit_confirmed"] = rec(registry, clock, "2016-12-20T09:00:00+08:00",
                                {"type": "ExitConfirmed", "effective_date": "2016-11-15",
                                 "household_acknowledged": True})
    ids["returned"] = rec(registry, clock, "2017-09-01T09:00:00+08:00",
                          {"type": "ReturnedToPoverty", "effective_date": "2017-08-03", "cause": "illness"})
    return ids


def k(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_worked_example_cards_and_timelines(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    worked_example(county, clock)
    assert model.card(H, date(2016, 12, 1), k("2016-12-10T00:00:00+08:00"))["status"] == "exit_pending"
    assert model.card(H, date(2016, 12, 1), None)["status"] == "exited"
    assert model.card(H, date(2017, 8, 15), k("2017-08-20T00:00:00+08:00"))["status"] == "exited"
    assert model.card(H, date(2017, 8, 15), None)["status"] == "returned"
    # Not on the register before the first effective date, nor before the first recording.
    assert model.card(H, date(2014, 5, 1), None) is None
    assert model.card(H, date(2016, 1, 1), k("2014-05-01T00:00:00+08:00")) is None
    assert model.timeline(H, k("2014-05-01T00:00:00+08:00")) is None
    assert model.timeline("H-unknown", None) is None
    assert model.timeline(H, None) == [
        {"status": "proposed", "from": "2014-05-02", "to": "2014-05-20"},
        {"status": "poor", "from": "2014-05-20", "to": "2016-11-01"},
        {"status": "exit_pending", "from": "2016-11-01", "to": "2016-11-15"},
        {"status": "exited", "from": "2016-11-15", "to": "2017-08-03"},
        {"status": "returned", "from": "2017-08-03", "to": None},
    ]
    assert model.timeline(H, k("2016-12-10T00:00:00+08:00"))[-1] == {
        "status": "exit_pending", "from": "2016-11-01", "to": None}
    card = model.card(H, date(2017, 1, 1), None)
    assert card["version"] == 6
    assert model.card(H, date(2017, 1, 1), k("2016-12-10T00:00:00+08:00"))["version"] == 4
    assert card["members"][0]["id_number"] == member(1)["id_number"]
    assert card["latest_income"] == {"year": 2015, "income_per_capita": 5200.0, "assessed_on": "2016-01-05"}
    assert card["exit_pathway"] == "industry"
    # 脱贫不脱政策: an exit after April 2016 keeps support to the end of the transition period.
    assert card["flags"] == {"at_risk": False, "policy_continuation_until": "2025-12-31", "exit_policy": "enjoying"}


def test_exit_policy_is_fixed_at_the_exit_date(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    """A Taizhou exit of 2015-11-10 reads the same entitlement on 2016-02-22 and 2016-02-23,
    before and after Taizhou's own rule took effect; a local rule never shortens the
    national floor for later exits."""
    county.put_division("321202", "海陵区", 100_000, date(2014, 1, 1))
    county.put_division("321202100", "某镇", 20_000, date(2014, 1, 1))
    county.put_division("321202100201", "某村", 1_000, date(2014, 1, 1))
    village = "321202100201"
    taizhou = Actor("taizhou-office", "approver", "3212")

    def rec(registry: Registry, clock: Clock, at: str, payload: dict[str, Any], hid: str) -> Any:
        clock.set(at)
        return registry.record(Command(payload=payload, actor=taizhou, household_id=hid))

    rec(county, clock, "2014-05-02T09:00:00+08:00", proposal(village=village, effective_date="2014-05-02"), "T-1")
    rec(county, clock, "2014-05-21T09:00:00+08:00", {"type": "IdentificationApproved",
                                                     "effective_date": "2014-05-20"}, "T-1")
    rec(county, clock, "2015-10-01T09:00:00+08:00",
        {"type": "IncomeAssessed", "effective_date": "2015-10-01", "year": 2015, "income_per_capita": 5200}, "T-1")
    rec(county, clock, "2015-10-20T09:00:00+08:00", {"type": "ExitProposed", "effective_date": "2015-10-20",
                                                     "pathway": "industry", "guarantees": GUARANTEED}, "T-1")
    rec(county, clock, "2015-11-10T09:00:00+08:00", {"type": "ExitConfirmed", "effective_date": "2015-11-10",
                                                     "household_acknowledged": True}, "T-1")
    clock.set("2016-02-23T09:00:00+08:00")
    county.record_policy(LOCAL_POLICIES["taizhou-2016"])
    model.catch_up()
    for day in (date(2016, 2, 22), date(2016, 2, 23), date(2019, 1, 1)):
        flags = model.card("T-1", day, None)["flags"]
        assert flags["policy_continuation_until"] == "2020-12-31", day
    assert model.card("T-1", date(2021, 1, 1), None)["flags"]["exit_policy"] == "not_enjoying"
    assert model.card("T-1", date(2016, 3, 1), None)["exit_policy_label"] == "已脱贫(享受政策)"


def test_retraction_refolds_only_from_its_recording_on(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    ids = worked_example(county, clock)
    rec(county, clock, "2018-03-01T09:00:00+08:00",
        {"type": "EventRetracted", "effective_date": "2018-03-01", "target_event_id": ids["returned"].event_id,
         "reason": "录入错误"})
    rec(county, clock, "2018-03-02T09:00:00+08:00",
        {"type": "EventRetracted", "effective_date": "2018-03-02",
         "target_event_id": ids["exit_confirmed"].event_id, "reason": "录入错误"})
    assert model.card(H, date(2017, 12, 31), None)["status"] == "exit_pending"
    assert model.card(H, date(2017, 12, 31), k("2018-01-15T00:00:00+08:00"))["status"] == "returned"
    assert model.timeline(H, None)[-1] == {"status": "exit_pending", "from": "2016-11-01", "to": None}
    trail = model.audit(H)
    retraction = trail["events"][-1]
    assert retraction["type"] == "EventRetracted"
    assert retraction["changes"]["effect"] == "event_retracted"
    assert retraction["changes"]["target_type"] == "ExitConfirmed"
    assert retraction["changes"]["timeline_before"][-1]["status"] == "exited"
    assert retraction["changes"]["timeline_after"][-1]["status"] == "exit_pending"


def test_correction_is_described_in_the_audit_trail(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    ids = worked_example(county, clock)
    rec(county, clock, "2018-01-05T09:00:00+08:00",
        {"type": "EventCorrected", "effective_date": "2018-01-05", "target_event_id": ids["approved"].event_id,
         "changes": {"effective_date": "2014-05-25"}, "reason": "审定日期录错", "evidence": ["county-doc-12"]})
    trail = model.audit(H)
    correction = trail["events"][-1]
    assert correction["recorded_by"]["name"] == APPROVER.name
    assert correction["reason"] == "审定日期录错" and correction["evidence"] == ["county-doc-12"]
    assert correction["changes"]["fields"] == {"effective_date": {"before": "2014-05-20", "after": "2014-05-25"}}
    assert correction["changes"]["timeline_after"][1] == {"status": "poor", "from": "2014-05-25", "to": "2016-11-01"}
    assert [e["version"] for e in trail["events"]] == [1, 2, 3, 4, 5, 6, 7]
    assert all(e["recorded_at"] and e["effective_date"] for e in trail["events"])
    assert trail["integrity"]["household_head"] == correction["household_chain"]
    # A 2014-05-22 card as known before the correction says poor; as now known, proposed.
    assert model.card(H, date(2014, 5, 22), k("2017-01-01T00:00:00+08:00"))["status"] == "poor"
    assert model.card(H, date(2014, 5, 22), None)["status"] == "proposed"
    by_actor = model.audit_trail(actor=APPROVER.name)
    assert len(by_actor["events"]) == 7
    by_division = model.audit_trail(division_prefix="620422100")
    types = [e["type"] for e in by_division["events"]]
    assert "DivisionRegistered" in types and types.count("IdentificationProposed") == 1
    assert model.audit_trail(division_prefix="620422101")["events"][-1]["type"] == "DivisionRegistered"


def seed_county(registry: Registry, clock: Clock) -> None:
    """Four households over three villages, with a transfer, a removal and a late exit."""
    def hh(n: int, village: str, eff: str, members: int = 2) -> str:
        hid = f"H-{village}-{n:04d}"
        rec(registry, clock, f"{eff}T09:00:00+08:00",
            proposal(village=village, effective_date=eff, seq=n * 10,
                     members=[member(n * 10 + i, "head" if i == 0 else "child") for i in range(members)]), hid)
        return hid

    a = hh(1, "620422100201", "2014-05-02", 3)
    b = hh(2, "620422100202", "2014-05-03", 2)
    c = hh(3, "620422101203", "2014-05-04", 4)
    d = hh(4, "620422100201", "2014-05-05", 1)
    for hid, day in ((a, "2014-05-20"), (b, "2014-05-21"), (c, "2014-05-22"), (d, "2014-05-23")):
        rec(registry, clock, f"{day}T12:00:00+08:00", {"type": "IdentificationApproved", "effective_date": day}, hid)
    rec(registry, clock, "2015-03-01T09:00:00+08:00",
        {"type": "HouseholdTransferred", "effective_date": "2015-03-01", "division_code": "620422101203"}, b)
    rec(registry, clock, "2015-06-01T09:00:00+08:00",
        {"type": "RemovedAsIneligible", "effective_date": "2015-06-01", "reason": "错评"}, d)
    rec(registry, clock, "2016-01-10T09:00:00+08:00",
        {"type": "IncomeAssessed", "effective_date": "2016-01-05", "year": 2015, "income_per_capita": 5200}, a)
    rec(registry, clock, "2016-10-01T09:00:00+08:00",
        {"type": "ExitProposed", "effective_date": "2016-10-01", "pathway": "employment",
         "guarantees": GUARANTEED}, a)
    rec(registry, clock, "2016-11-01T09:00:00+08:00",
        {"type": "MembersChanged", "effective_date": "2016-11-01", "joined": [member(99, "grandchild")]}, c)
    # Confirmed on 2016-10-20 but only recorded in 2017: a late entry.
    rec(registry, clock, "2017-02-01T09:00:00+08:00",
        {"type": "ExitConfirmed", "effective_date": "2016-10-20", "household_acknowledged": True}, a)


def test_rosters_at_every_level(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    seed_county(county, clock)
    day = date(2016, 12, 31)
    village = model.roster("620422100201", day, None)
    assert village["division_name"] == "南关村"
    assert village["counts"]["exited"] == {"households": 1, "persons": 3}
    assert village["counts"]["removed"] == {"households": 1, "persons": 1}
    town = model.roster("620422101", day, None)
    assert town["counts"]["poor"] == {"households": 2, "persons": 7}  # c (4+1 joined) and b (2) moved in
    county_roster = model.roster("620422", day, None, status="poor", page=1, page_size=1)
    assert county_roster["rows_total"] == 2 and county_roster["pages"] == 2
    assert county_roster["rows"][0]["household_id"] == "H-620422100202-0002"
    assert county_roster["rows"][0]["division_name"] == "新堡村"
    assert county_roster["rows"][0]["head_name"] == member(20)["name"]
    for prefix in ("62", "6204"):
        assert model.roster(prefix, day, None)["total"] == {"households": 4, "persons": 11}
    # As filed at the end of 2016, the late exit was not known yet.
    filed = model.roster("620422100201", day, k("2016-12-31T23:59:59+08:00"))
    assert filed["counts"]["exit_pending"] == {"households": 1, "persons": 3}
    with pytest.raises(ValueError):
        model.roster("6204221", day, None)


def test_incidence_uses_the_population_in_force_as_known(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    seed_county(county, clock)
    clock.set("2016-03-01T09:00:00+08:00")
    county.put_division("620422101203", "新堡村", 2_000, date(2016, 1, 1))
    model.catch_up()
    town = model.incidence("620422101203", date(2016, 6, 1), None)
    assert town["poor_persons"] == 6 and town["population"] == 2_000
    assert town["incidence"] == pytest.approx(6 / 2_000)
    # Known before the update, the old population; before its effective date too.
    assert model.incidence("620422101203", date(2016, 6, 1), k("2016-02-01T00:00:00+08:00"))["population"] == 1_500
    assert model.incidence("620422101203", date(2015, 6, 1), None)["population"] == 1_500
    province = model.incidence("62", date(2016, 6, 1), None)
    assert province["population"] == 480_000 and province["population_basis"] == "counties"
    assert province["poor_persons"] == 6 + 3  # a is exit_pending then: not counted (poor + returned only)
    assert model.incidence("620422", date(2013, 6, 1), None)["incidence"] is None


def test_adjustment_report_reconciles_and_diff_names_late_entries(
    county: Registry, clock: Clock, model: SqlReadModel
) -> None:
    seed_county(county, clock)
    start, end = date(2014, 1, 1), date(2016, 12, 31)
    report = model.adjustments("620422100", start, end, None)
    assert report["reconciles"]
    assert report["opening"]["households"] == 0
    assert report["inflows"]["identified"]["households"] == 3  # a, b, d in 会师镇
    assert report["outflows"]["transferred_out"]["households"] == 1
    assert report["outflows"]["removed"] == report["outflows"]["removed"] | {"households": 1, "persons": 1}
    assert report["outflows"]["exited"]["by_pathway"] == {"employment": {"households": 1, "persons": 3}}
    assert report["closing"]["households"] == 0
    other = model.adjustments("620422101", start, end, None)
    assert other["inflows"]["transferred_in"]["households"] == 1
    assert other["inflows"]["members_joined"] == other["inflows"]["members_joined"] | {"households": 0, "persons": 1}
    assert other["closing"] == other["closing"] | {"households": 2, "persons": 7}
    assert all(c["ok"] for c in other["reconciliation"])
    # Filed at the cycle's close, a was still exit_pending (counted); now known, it exited.
    diff = model.adjustments_diff("620422100", start, end)
    assert diff["filed_at"].startswith("2016-12-31T23:59:59")
    assert diff["filed"]["closing"]["households"] == 1
    assert diff["difference"]["closing"] == {"households": -1, "persons": -3}
    (changed,) = diff["households"]
    assert changed["household_id"] == "H-620422100201-0001"
    assert [(e["kind"], e["type"]) for e in changed["events"]] == [("late_entry", "ExitConfirmed")]


def test_reads_never_replay_the_store(county: Registry, clock: Clock, model: SqlReadModel,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    worked_example(county, clock)

    def forbidden(*_: Any, **__: Any) -> Any:
        raise AssertionError("a query touched the event store")

    monkeypatch.setattr(county.repository, "get", forbidden)
    monkeypatch.setattr(county.recorder, "select_notifications", forbidden)
    assert model.card(H, date(2017, 1, 1), None)["status"] == "exited"
    assert model.timeline(H, None)
    assert model.roster("620422", date(2017, 1, 1), None)["total"]["households"] == 1
    assert model.incidence("620422", date(2017, 1, 1), None)["population"] == 480_000
    assert model.adjustments("620422", date(2014, 1, 1), date(2016, 12, 31), None)["reconciles"]
    assert model.audit(H)["events"]


def test_kafka_style_apply_is_idempotent(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    worked_example(county, clock)
    before = model.timeline(H, None)
    items = list(enumerate(county.history(H), start=1))
    assert model.store.apply_household_events(items, tracking=("kafka:test:0", 42)) == 0
    assert model.timeline(H, None) == before
    assert model.store.tracked("kafka:test:0") == 42
    assert datetime.now(UTC)  # keep UTC import used
