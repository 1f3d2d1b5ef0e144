"""``povreg demo load``: a small, realistic demo county to try the API on.

会宁县 (620422) with two townships and six villages, three dozen households with
varied histories from 2014 to 2019 — identification, approval, measures, helpers,
income assessments, exits (one recorded late), a withdrawn exit, returns to
poverty, revisits, a transfer, a removal, a rejection, a closure, a correction
and a retraction — and one token per role.

The history is recorded *as it would have been*: each event's recording moment
is a simulated moment shortly after its effective date (the registry's clock is
driven by the loader), so ``known_at`` queries show late entries and corrections.
That only works on an empty store (recording moments never go backwards), which is
why the loader refuses a store that already holds anything.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from bootstrap.settings import ConfigError, Settings
from cli.common import console, err_console
from domain.commands import Command
from domain.history import Actor
from domain.idnumber import with_check_digit
from persistence.writegate import system_clock
from service.registry import Registry

app = typer.Typer(no_args_is_help=True)

COUNTY = ("620422", "会宁县", 480_000)
TOWNSHIPS = [("620422100", "会师镇", 30_000), ("620422101", "郭城驿镇", 25_000)]
VILLAGES = [
    ("620422100201", "南关村", 1_200),
    ("620422100202", "北关村", 900),
    ("620422100203", "西关村", 800),
    ("620422101201", "新堡村", 1_500),
    ("620422101202", "红堡村", 1_100),
    ("620422101203", "五百户村", 1_300),
]
HOUSEHOLDS = 36
APPROVER = Actor("会宁县扶贫办", "approver", "620422")
GUARANTEED = dict.fromkeys(("food", "clothing", "education", "medical", "housing", "water"), True)
SURNAMES = "张王李赵刘陈杨黄周吴马郭何"
GIVEN = ["建国", "秀英", "桂兰", "志强", "玉梅", "海军", "春花", "小军", "丽娟", "文斌", "红霞", "国庆", "金花", "永福"]
CAUSES = ["illness", "disability", "schooling", "disaster", "lack_of_land", "lack_of_water", "lack_of_skills",
          "lack_of_labour", "lack_of_capital", "poor_transport"]
MEASURE_FOR = {"illness": "health", "disability": "social_assistance", "schooling": "education",
               "disaster": "housing", "lack_of_land": "industry", "lack_of_water": "industry",
               "lack_of_skills": "training", "lack_of_labour": "social_assistance",
               "lack_of_capital": "microcredit", "poor_transport": "relocation"}
PATHWAY_FOR = {"industry": "industry", "training": "employment", "microcredit": "industry",
               "education": "education", "health": "health", "social_assistance": "social_assistance",
               "housing": "industry", "relocation": "relocation"}


@dataclass
class Planned:
    """One event of the demo history, to be recorded at ``recorded_at``."""

    recorded_at: datetime
    household_id: str
    payload: dict[str, Any]
    actor: Actor
    label: str | None = None
    #: payload field → label of the event whose id goes there
    refs: dict[str, str] = field(default_factory=dict)


class DemoClock:
    """The registry's clock: the simulated recording moment of each event while
    loading (``now``), the real time otherwise (``now`` None)."""

    def __init__(self) -> None:
        self.now: datetime | None = None

    def __call__(self) -> datetime:
        return self.now or system_clock()


def _member(rng: random.Random, seq: int, relation: str, born: date, surname: str) -> dict[str, Any]:
    id_number = with_check_digit(f"620422{born:%Y%m%d}{seq % 1000:03d}")
    labour = "full" if relation in ("head", "spouse") and born.year > 1960 else rng.choice(["weak", "none", "full"])
    return {
        "name": surname + rng.choice(GIVEN),
        "id_number": id_number,
        "relation": relation,
        "labour": labour,
        "health": rng.choice(["healthy", "healthy", "healthy", "chronic_illness", "serious_illness", "disability"]),
        "in_school": relation == "child" and born.year >= 2000,
    }


def plan(registry: Registry, seed: int = 2014) -> list[Planned]:
    """The demo history, in recording order."""
    rng = random.Random(seed)
    tz = registry.settings.tz
    book = registry.policy_book()
    events: list[Planned] = []
    seq = 0

    def at(day: date, lag: int = 1) -> datetime:
        nonlocal seq
        seq += 1
        return datetime.combine(day + timedelta(days=lag), time(9, 0), tzinfo=tz) + timedelta(seconds=seq)

    def line_on(village: str, day: date) -> float:
        line = book.resolve(village, day).poverty_line
        assert line is not None, "the demo's exits are in years with a national poverty line"
        return line

    person = 0
    for i in range(HOUSEHOLDS):
        hid = f"H-DEMO-{i + 1:04d}"
        village = VILLAGES[i % len(VILLAGES)][0]
        clerk = Actor(f"{VILLAGES[i % len(VILLAGES)][1]}文书", "recorder", village[:9])
        surname = SURNAMES[i % len(SURNAMES)]
        head_born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 15_000))
        members = [_member(rng, person, "head", head_born, surname)]
        person += 1
        for relation in rng.sample(["spouse", "child", "child", "parent", "grandchild"], k=rng.randrange(0, 5)):
            born = {"spouse": head_born + timedelta(days=rng.randrange(-1500, 1500)),
                    "child": head_born + timedelta(days=rng.randrange(7000, 12000)),
                    "parent": head_born - timedelta(days=rng.randrange(7000, 11000)),
                    "grandchild": head_born + timedelta(days=rng.randrange(15000, 17000))}[relation]
            born = min(born, date(2013, 12, 31))
            members.append(_member(rng, person, relation, born, surname if relation != "spouse" else
                                   rng.choice(SURNAMES)))
            person += 1
        cause = CAUSES[i % len(CAUSES)]
        second_batch = i % 12 == 11
        proposed = date(2015, 4, 1) if second_batch else date(2014, 4, 10) + timedelta(days=rng.randrange(0, 40))
        events.append(Planned(at(proposed), hid, {
            "type": "IdentificationProposed", "effective_date": proposed.isoformat(), "division_code": village,
            "attribute": "tekun" if i % 10 == 3 else "dibao" if i % 5 == 1 else "general",
            "main_cause": cause, "secondary_causes": [CAUSES[(i + 3) % len(CAUSES)]],
            "income_per_capita": 1800 + rng.randrange(0, 900), "income_year": proposed.year - 1,
            "guarantees": {**GUARANTEED, "housing": i % 4 != 0, "medical": i % 3 != 0},
            "members": members, "batch": str(proposed.year),
            "reason": "农户申请，村民代表大会民主评议通过", "evidence": [f"notice-{proposed.year}-{i + 1:03d}"],
        }, clerk))
        approved = proposed + timedelta(days=10 + rng.randrange(0, 15))
        if i == 4:
            events.append(Planned(at(approved), hid, {
                "type": "IdentificationRejected", "effective_date": approved.isoformat(),
                "reason": "公示期间群众举报：家有财政供养人员，经核实不符合条件", "evidence": ["objection-2014-005"],
            }, APPROVER))
            continue
        events.append(Planned(at(approved, 2), hid, {
            "type": "IdentificationApproved", "effective_date": approved.isoformat(),
            "approving_office": "会宁县扶贫开发领导小组", "evidence": [f"announcement-{approved.year}-01"],
        }, APPROVER))
        category = MEASURE_FOR[cause]
        assigned = approved + timedelta(days=20 + rng.randrange(0, 40))
        measure = f"{hid}/measure"
        events.append(Planned(at(assigned), hid, {
            "type": "AssistanceMeasureAssigned", "effective_date": assigned.isoformat(), "category": category,
            "amount": float(rng.choice([2000, 3000, 5000, 8000, 10000])), "funding_source": "财政专项扶贫资金",
            "helper": "驻村工作队", "description": {"industry": "发展养羊", "training": "技能培训",
                                              "microcredit": "精准扶贫小额信贷"}.get(category, "帮扶"),
        }, clerk, label=measure))
        helper = f"{hid}/helper"
        events.append(Planned(at(assigned), hid, {
            "type": "HelperAssigned", "effective_date": assigned.isoformat(),
            "helper_name": rng.choice(SURNAMES) + rng.choice(GIVEN), "unit": "县财政局",
            "phone": f"139{rng.randrange(10_000_000, 99_999_999)}",
        }, clerk, label=helper))
        if i == 7:  # the same helper entered twice: the duplicate is retracted
            events.append(Planned(at(assigned, 3), hid, {
                "type": "HelperAssigned", "effective_date": assigned.isoformat(), "helper_name": "重复录入",
            }, clerk, label=f"{hid}/dup"))
            events.append(Planned(at(assigned, 30), hid, {
                "type": "EventRetracted", "effective_date": (assigned + timedelta(days=29)).isoformat(),
                "target_event_id": "", "reason": "重复录入帮扶责任人",
            }, clerk, refs={"target_event_id": f"{hid}/dup"}))
        if i == 9:
            events.append(Planned(at(date(2016, 5, 1)), hid, {
                "type": "RemovedAsIneligible", "effective_date": "2016-05-01",
                "reason": "回头看：家庭成员经营企业，属错评", "evidence": ["review-2016-09"],
            }, clerk))
            continue
        if i == 13:  # 易地扶贫搬迁: moved to another village
            target = VILLAGES[(i + 1) % len(VILLAGES)][0]
            events.append(Planned(at(date(2017, 6, 1)), hid, {
                "type": "HouseholdTransferred", "effective_date": "2017-06-01", "division_code": target,
                "reason": "易地扶贫搬迁", "evidence": ["relocation-2017-013"],
            }, Actor("会宁县扶贫办", "recorder", "620422")))
        if i % 3 == 2 or second_batch:  # stays poor: a yearly income assessment
            year = 2016 + i % 3
            events.append(Planned(at(date(year, 11, 20)), hid, {
                "type": "IncomeAssessed", "effective_date": f"{year}-11-20", "year": year,
                "income_per_capita": 2200 + rng.randrange(0, 500),
            }, clerk))
            if i == 20:
                events.append(Planned(at(date(2019, 3, 1)), hid, {
                    "type": "HouseholdClosed", "effective_date": "2019-03-01", "reason": "户主去世，无其他成员",
                }, clerk))
            continue
        year = 2015 + i % 5
        completed = date(year, 8, 1)
        events.append(Planned(at(completed), hid, {
            "type": "AssistanceMeasureCompleted", "effective_date": completed.isoformat(), "measure_id": "",
            "outcome": "项目见效",
        }, clerk, refs={"measure_id": measure}))
        assessed = date(year, 10, 10)
        income = round(line_on(village, assessed) * (1.3 + rng.random()), 0)
        income_label = f"{hid}/income"
        typo = i == 6
        events.append(Planned(at(assessed), hid, {
            "type": "IncomeAssessed", "effective_date": assessed.isoformat(), "year": year,
            "income_per_capita": income * 10 if typo else income,
            "components": {"wages": round(income * 0.6), "farming": round(income * 0.4)},
        }, clerk, label=income_label))
        if typo:  # a data-entry error (an extra zero), corrected two months later
            events.append(Planned(at(assessed, 60), hid, {
                "type": "EventCorrected", "effective_date": (assessed + timedelta(days=59)).isoformat(),
                "target_event_id": "", "changes": {"income_per_capita": income},
                "reason": "录入错误：多录一位数", "evidence": ["check-2017-006"],
            }, clerk, refs={"target_event_id": income_label}))
        exit_proposed = date(year, 11, 1)
        events.append(Planned(at(exit_proposed), hid, {
            "type": "ExitProposed", "effective_date": exit_proposed.isoformat(),
            "pathway": PATHWAY_FOR[category], "guarantees": GUARANTEED,
            "reason": "收入稳定超过国家扶贫标准，两不愁三保障全部实现", "evidence": [f"exit-notice-{year}-{i + 1:03d}"],
        }, clerk))
        if i == 10:
            withdrawn = exit_proposed + timedelta(days=5)
            events.append(Planned(at(withdrawn), hid, {
                "type": "ExitWithdrawn", "effective_date": withdrawn.isoformat(), "reason": "公示期间村民提出异议",
            }, clerk))
            continue
        confirmed = exit_proposed + timedelta(days=14)
        late = i == 1
        events.append(Planned(at(confirmed, 40 if late else 2), hid, {
            "type": "ExitConfirmed", "effective_date": confirmed.isoformat(), "household_acknowledged": True,
            "reason": "公示无异议，农户签字确认", "evidence": [f"exit-announcement-{year}"],
        }, APPROVER))
        if year <= 2018:
            revisited = date(year + 1, 9, 15)
            finding = "at_risk" if i % 4 == 0 else "wrongly_exited" if i == 15 else "stable"
            events.append(Planned(at(revisited), hid, {
                "type": "Revisited", "effective_date": revisited.isoformat(), "finding": finding,
                "notes": "回头看入户核查",
            }, clerk))
            if finding == "at_risk" and year <= 2017:
                returned = date(year + 2, 7, 3)
                events.append(Planned(at(returned, 20), hid, {
                    "type": "ReturnedToPoverty", "effective_date": returned.isoformat(),
                    "cause": "illness" if i % 8 == 0 else "disaster", "reason": "家庭成员患大病，支出骤增",
                }, clerk))
    events.sort(key=lambda e: e.recorded_at)
    return events


def load(registry: Registry, clock: DemoClock) -> dict[str, int]:
    """Record the demo county and its history; returns counts."""
    clock.now = datetime(2014, 1, 2, 1, 0, tzinfo=UTC)
    try:
        return _load(registry, clock)
    finally:
        clock.now = None


def _load(registry: Registry, clock: DemoClock) -> dict[str, int]:
    for code, name, population in [COUNTY, *TOWNSHIPS, *VILLAGES]:
        registry.put_division(code, name, population, date(2014, 1, 1))
    ids: dict[str, str] = {}
    households: set[str] = set()
    for event in plan(registry):
        clock.now = event.recorded_at.astimezone(UTC)
        payload = dict(event.payload)
        for name, label in event.refs.items():
            payload[name] = ids[label]
        receipt = registry.record(Command(payload, event.actor, household_id=event.household_id))
        households.add(receipt.household_id)
        if event.label:
            ids[event.label] = receipt.event_id
    return {"divisions": 1 + len(TOWNSHIPS) + len(VILLAGES), "households": len(households),
            "events": sum(1 for _ in registry.feed(0, 100_000))}


DEMO_TOKENS = [("admin", ""), ("investigator", ""), ("approver", "620422"), ("recorder", "620422100"),
               ("subscriber", "")]


@app.command("load")
def load_command(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="do nothing (exit 0) if the store holds anything")]
    = False,
) -> None:
    """Load the demo county into the store of POVREG_DATABASE_URL and print a token per role."""
    clock = DemoClock()
    try:
        registry = Registry(Settings.from_env(), clock=clock)
    except ConfigError as exc:
        err_console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        if registry.recorder.max_notification_id() is not None:
            if if_empty:
                console.print("the store already holds data: demo not loaded "
                              "(new tokens: povreg token create --role ROLE [--division PREFIX])")
                return
            err_console.print("[red]the store is not empty[/red]: the demo loads only into an empty store "
                              "(its recording moments are in the past); use another POVREG_DATABASE_URL")
            raise typer.Exit(1)
        counts = load(registry, clock)
        tokens = [(role, division, registry.create_token(role, division, name=f"demo-{role}"))
                  for role, division in DEMO_TOKENS]
        console.print(
            f"loaded the demo county 会宁县 (620422): {counts['divisions']} divisions, "
            f"{counts['households']} households, {counts['events']} events (recorded as of 2014–2019)"
        )
        table = Table("role", "scope", "token", title="demo tokens (Authorization: Bearer <token>)")
        for role, division, secret in tokens:
            table.add_row(role, division or "everywhere", secret)
        console.print(table, width=200)
        console.print("as shell variables (more with `povreg token create --role ROLE [--division PREFIX]`):")
        for role, _, secret in tokens:
            typer.echo(f"{role.upper()}_TOKEN={secret}")
    finally:
        registry.close()


__all__ = ["app", "load", "plan"]
