"""Property: for random histories (late recordings, corrections, retractions) and random
(as_of, known_at), every projection answer equals the domain fold over the raw events.

Histories are recorded through the registry with the read model catching up after
every save (several events per save too); then cards, timelines, roster counts and
rows, incidence and adjustment reports are compared with :mod:`tests.projections.oracle`.
Finally the projections are rebuilt from the log: the rebuilt tables must equal the
incrementally built ones row for row.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bootstrap.settings import Settings
from domain.commands import Command
from domain.errors import DomainError, NotFound
from domain.history import Actor
from projections import SqlReadModel, open_read_model
from projections.sealing import MARK
from service.registry import Registry
from tests.projections.oracle import Oracle, report_numbers, stock_numbers
from tests.support import GUARANTEED, Clock, member, postgres_schema

EXAMPLES = int(os.environ.get("POVREG_PROPERTY_EXAMPLES", "15"))
ACTOR = Actor("prop-clerk", "approver", "620422")
#: Some corrections and retractions come from a recorder: refused for an approver's decisions.
RECORDER = Actor("prop-recorder", "recorder", "620422")
VILLAGES = ("620422100201", "620422100202", "620422101203")
HOUSEHOLDS = ("H-P0", "H-P1", "H-P2")
PREFIXES = ("62", "6204", "620422", "620422100", "620422100201", "620422101203")
TABLES = {
    "proj_events": "household_id, version",
    "proj_cards": "household_id, valid_from, known_from",
    "proj_card_parts": "household_id, part",
    "proj_actors": "actor",
    "proj_audit_actors": "actor",
    "proj_timeline": "household_id, known_from, valid_from",
    "proj_audit": "position",
    "proj_chain": "position",
    "proj_divisions": "code, position",
    "proj_reviews": "household_id",
}


@contextmanager
def fresh(backend: str, tmp: Path) -> Iterator[tuple[Registry, Clock, SqlReadModel]]:
    if backend == "sqlite":
        path = tmp / f"p-{uuid.uuid4().hex}.db"
        ctx: Any = _yield(f"sqlite:///{path}")
    else:
        ctx = postgres_schema()
    with ctx as url:
        clock = Clock()
        registry = Registry(Settings(database_url=url), clock=clock)
        clock.set("2014-01-02T00:00:00+00:00")
        for code, name, pop in (("620422", "会宁县", 480_000), ("620422100", "会师镇", 30_000),
                                ("620422101", "郭城驿镇", 25_000), ("620422100201", "南关村", 1_200),
                                ("620422100202", "北关村", 900), ("620422101203", "新堡村", 1_500)):
            registry.put_division(code, name, pop, date(2014, 1, 1))
        model = open_read_model(registry, inline=True)
        try:
            yield registry, clock, model
        finally:
            model.close()
            registry.close()


@contextmanager
def _yield(value: str) -> Iterator[str]:
    yield value


# ----------------------------------------------------------------- histories

action = st.tuples(
    st.integers(0, len(HOUSEHOLDS) - 1),  # household
    st.integers(0, 99),  # which action among the legal-looking ones
    st.integers(1, 60),  # days the clock advances
    st.integers(0, 9),  # lateness class
    st.integers(0, 999),  # free parameter
    st.booleans(),  # save together with the next action
)


def _payload(registry: Registry, hid: str, today: date, choice: int, param: int, eff: date,
             seq: list[int]) -> dict[str, Any] | None:
    try:
        history = registry.history(hid)
    except NotFound:
        history = []
    status = None
    someone = None
    if history:
        try:
            state = registry.state_as_of(hid, today)
            status, someone = state.status.value, state.members[param % len(state.members)].id_number
        except DomainError:
            status = None
    day = eff.isoformat()
    if history and choice >= 88:
        target = history[param % len(history)]
        if target.type in ("EventCorrected", "EventRetracted"):
            return None
        base = {"effective_date": today.isoformat(), "reason": "核查", "target_event_id": target.event_id}
        if choice >= 95:
            return {"type": "EventRetracted", **base}
        if target.type == "IdentificationProposed" and param % 2:
            return {"type": "EventCorrected", **base, "changes": {"attribute": ["general", "dibao", "tekun"][param % 3],
                                                                  "main_cause": "disaster"}}
        if target.type == "IncomeAssessed":
            return {"type": "EventCorrected", **base, "changes": {"income_per_capita": 100 + param * 10}}
        shifted = target.body.effective_date + timedelta(days=(param % 41) - 20)
        return {"type": "EventCorrected", **base, "changes": {"effective_date": min(shifted, today).isoformat()}}
    if status in (None, "removed"):
        seq[0] += 2
        members = [member(seq[0]), member(seq[0] + 1, "spouse")][: 1 + param % 2]
        return {"type": "IdentificationProposed", "division_code": VILLAGES[param % 3], "effective_date": day,
                "attribute": ["general", "dibao", "tekun"][param % 3],
                "main_cause": ["illness", "disability"][param % 2],
                "income_per_capita": 2000, "income_year": eff.year - 1, "guarantees": GUARANTEED, "members": members}
    # The truth behind an exit, learned late: an income dated before it (often below the line).
    late_truth = {"type": "IncomeAssessed", "year": 2014, "income_per_capita": 1000 + param * 4,
                  "effective_date": (date(2015, 3, 1) + timedelta(days=param % 12)).isoformat()}
    options: dict[str, list[dict[str, Any]]] = {
        "proposed": [{"type": "IdentificationApproved"}, {"type": "IdentificationApproved"},
                     {"type": "IdentificationRejected", "reason": "异议"}],
        "poor": [{"type": "IncomeAssessed", "year": eff.year - 1, "income_per_capita": 5000 + param},
                 {"type": "ExitProposed", "pathway": ["industry", "employment"][param % 2], "guarantees": GUARANTEED},
                 {"type": "AssistanceMeasureAssigned", "category": "industry", "amount": param},
                 {"type": "HelperAssigned", "helper_name": "王五"},
                 {"type": "MembersChanged", "joined": [member(900 + param % 90, "child")]},
                 {"type": "HouseholdTransferred", "division_code": VILLAGES[param % 3]},
                 {"type": "MemberUpdated", "id_number": someone, "labour": ["full", "weak", "none"][param % 3]},
                 {"type": "GuaranteesAssessed", "guarantees": {**GUARANTEED, "water": bool(param % 2)}},
                 {"type": "AttributeChanged", "attribute": ["general", "dibao", "tekun"][param % 3]},
                 {"type": "RemovedAsIneligible", "reason": "错评"},
                 {"type": "HouseholdClosed", "reason": "迁出"}],
        "exit_pending": [{"type": "ExitConfirmed", "household_acknowledged": True},
                         {"type": "ExitConfirmed", "household_acknowledged": True},
                         {"type": "ExitWithdrawn", "reason": "异议"},
                         # a fact, often late and below the line: the exit gets a finding
                         {"type": "IncomeAssessed", "year": eff.year, "income_per_capita": 1000 + param * 4}],
        "exited": [{"type": "Revisited", "finding": ["stable", "at_risk", "wrongly_exited"][param % 3]},
                   {"type": "ReturnedToPoverty", "cause": "illness"},
                   {"type": "AssistanceMeasureAssigned", "category": "training"},
                   {"type": "HouseholdClosed", "reason": "全户死亡"},
                   late_truth, late_truth],
    }
    options["returned"] = [*options["poor"], late_truth]
    choices = options.get(status or "", [])
    if not choices:
        return None
    return {"effective_date": day, **choices[choice % len(choices)]}


def exit_prelude(registry: Registry, clock: Clock) -> None:
    """Every household identified in 2014 and exited in 2015 on an income above the line,
    so that the random actions after it meet exited households: revisits (错退纳回),
    late facts below the line, corrections and retractions of exits (findings)."""
    for n, hid in enumerate(HOUSEHOLDS):
        for moment, payload in (
            ("2014-03-01", {"type": "IdentificationProposed", "division_code": VILLAGES[n], "attribute": "general",
                            "main_cause": "illness", "income_per_capita": 2000, "income_year": 2013,
                            "guarantees": GUARANTEED, "members": [member(700 + 2 * n), member(701 + 2 * n, "spouse")]}),
            ("2014-03-20", {"type": "IdentificationApproved"}),
            ("2015-03-01", {"type": "IncomeAssessed", "year": 2014, "income_per_capita": 4000}),
            ("2015-03-10", {"type": "ExitProposed", "pathway": "industry", "guarantees": GUARANTEED}),
            ("2015-03-25", {"type": "ExitConfirmed", "household_acknowledged": True}),
        ):
            clock.set(datetime.fromisoformat(moment).replace(hour=9 + n, tzinfo=UTC))
            registry.record(Command(payload={**payload, "effective_date": moment}, actor=ACTOR, household_id=hid))


def record_history(registry: Registry, clock: Clock, actions: list[tuple[int, ...]]) -> None:
    seq = [random.Random(len(actions)).randrange(0, 400) * 2]
    pending: list[Command] = []
    for hidx, choice, advance, late, param, together in actions:
        clock.advance(days=advance, hours=param % 7)
        today = clock.now.date()
        eff = today - timedelta(days=[0, 0, 0, 0, 2, 9, 30, 80, 200, 400][late])
        eff = max(eff, date(2014, 1, 2))
        payload = _payload(registry, HOUSEHOLDS[hidx], today, choice, param, eff, seq)
        if payload is not None:
            changes = payload["type"] in ("EventCorrected", "EventRetracted")
            actor = RECORDER if changes and param % 4 == 0 else ACTOR
            pending.append(Command(payload=payload, actor=actor, household_id=HOUSEHOLDS[hidx]))
        if pending and not together:
            registry.record_many(pending)
            pending = []
    if pending:
        registry.record_many(pending)


# ------------------------------------------------------------------ checks


def moments_and_days(registry: Registry, rng: random.Random) -> tuple[list[datetime | None], list[date]]:
    events = [e for hid in HOUSEHOLDS for e in _history(registry, hid)]
    moments: list[datetime | None] = [None]
    days = [date(2014, 1, 1), date(2021, 6, 1)]
    for e in events:
        moments += [e.recorded_at, e.recorded_at - timedelta(microseconds=1)]
        days += [e.body.effective_date, e.body.effective_date - timedelta(days=1)]
    return moments, days


def _history(registry: Registry, hid: str) -> list[Any]:
    try:
        return registry.history(hid)
    except NotFound:
        return []


def check_against_fold(registry: Registry, model: SqlReadModel, rng: random.Random, samples: int = 12) -> None:
    oracle = Oracle(registry, list(HOUSEHOLDS))
    moments, days = moments_and_days(registry, rng)
    for _ in range(samples):
        as_of, known_at = rng.choice(days), rng.choice(moments)
        for hid in HOUSEHOLDS:
            got = model.card(hid, as_of, known_at)
            want = oracle.card(hid, as_of, known_at)
            if want is None:
                assert got is None, (hid, as_of, known_at)
                continue
            assert got is not None, (hid, as_of, known_at)
            assert (got["status"], got["division_code"], got["persons"]) == (
                want["status"], want["division_code"], want["persons"]), (hid, as_of, known_at)
            assert {k: got[k] for k in want} == want, (hid, as_of, known_at)
            assert got["valid_from"] <= as_of.isoformat() and (got["valid_to"] is None or
                                                               as_of.isoformat() < got["valid_to"])
        for prefix in rng.sample(PREFIXES, 3):
            roster = model.roster(prefix, as_of, known_at, page_size=1000)
            assert roster["counts"] == oracle.roster_counts(prefix, as_of, known_at), (prefix, as_of, known_at)
            assert [r["household_id"] for r in roster["rows"]] == oracle.roster_ids(prefix, as_of, known_at)
            incidence = model.incidence(prefix, as_of, known_at)
            assert incidence["poor_persons"] == oracle.poor_persons(prefix, as_of, known_at)
            assert incidence["population"] == oracle.population(prefix, as_of, known_at)
    for known_at in rng.sample(moments, min(6, len(moments))):
        for hid in HOUSEHOLDS:
            assert model.timeline(hid, known_at) == oracle.timeline(hid, known_at), (hid, known_at)
    for _ in range(3):
        start = rng.choice(days)
        end = start + timedelta(days=rng.choice([1, 200, 3 * 365]))
        known_at = rng.choice(moments)
        prefix = rng.choice(PREFIXES)
        report = model.adjustments(prefix, start, end, known_at)
        assert report["reconciles"], report["reconciliation"]
        assert report_numbers(report) == oracle.adjustments(prefix, start, end, known_at), (prefix, start, end)
        assert report["exited_stock"]["reconciles"], report["exited_stock"]["reconciliation"]
        diff = model.adjustments_diff(prefix, start, end, filed_at=rng.choice(moments[1:] or [None]), known_at=None)
        assert stock_numbers(diff["known"]) == stock_numbers(model.adjustments(prefix, start, end, None))
    for as_of, known_at, prefix in [(date(2021, 6, 1), None, "62")] + [
        (rng.choice(days), rng.choice(moments), rng.choice(PREFIXES)) for _ in range(4)
    ]:
        found = model.findings(prefix, as_of, known_at, page_size=500)
        want = oracle.division_findings(prefix, as_of, known_at)
        assert found["findings"] == want, (prefix, as_of, known_at)
        assert found["counts"] == {s: sum(1 for f in want if f["state"] == s) for s in ("open", "resolved")}


def snapshot(model: SqlReadModel) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the read models, sealed values opened (each sealing draws a new nonce)."""
    def opened(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(tx.sealer.unseal(v) if isinstance(v, str) and v.startswith(MARK) else v for v in row)

    with model.store.db.read() as tx:
        return {t: [opened(r) for r in tx.query(f"SELECT * FROM {t} ORDER BY {order}")] for t, order in TABLES.items()}


def fold_then_rebuild(registry: Registry, model: SqlReadModel, rng: random.Random) -> None:
    """Every answer equals the fold; a rebuild writes the very tables the incremental path
    did, and answers as it did."""
    check_against_fold(registry, model, rng)
    incremental = snapshot(model)
    model.store.rebuild()
    assert snapshot(model) == incremental
    check_against_fold(registry, model, rng, samples=3)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(actions=st.lists(action, min_size=3, max_size=28), seed=st.integers(0, 2**32))
def test_every_answer_equals_the_fold(backend: str, tmp_path: Path, actions: list[tuple[int, ...]], seed: int) -> None:
    with fresh(backend, tmp_path) as (registry, clock, model):
        clock.set(datetime(2014, 3, 1, 8, tzinfo=UTC))
        record_history(registry, clock, actions)
        assert model.store.status()[0]["lag"] == 0
        fold_then_rebuild(registry, model, random.Random(seed))


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(actions=st.lists(action, min_size=3, max_size=28), seed=st.integers(0, 2**32))
def test_findings_and_both_stocks_equal_the_fold(
    backend: str, tmp_path: Path, actions: list[tuple[int, ...]], seed: int
) -> None:
    """Exited households, then random actions: late facts below the line, corrections of
    facts and of decisions, retractions, revisits, refused attempts. Findings (card, list)
    and both stocks of the report equal the fold; a rebuild gives the same tables."""
    with fresh(backend, tmp_path) as (registry, clock, model):
        exit_prelude(registry, clock)
        clock.set(datetime(2015, 4, 1, 8, tzinfo=UTC))
        record_history(registry, clock, actions)
        fold_then_rebuild(registry, model, random.Random(seed))
