"""Benchmark 2 — "status as of": a household's card from the projection versus replaying it.

In a store holding the simulated county, households with exactly 10 and exactly
100 events are recorded (identification, approval, then incomes and measures, one
a day), and for random (as_of, known_at) their card is read from the projection
(``SqlReadModel.card``: one index lookup) and, as the baseline, computed by
loading the household's aggregate from the event store and replaying its events
(``Registry.state_as_of``). The simulated households (about 20 events each) are
read the same way. Latencies are p50/p99 in milliseconds, in-process; the ratio
is replay over projection.

    python -m bench.status [--households N] [--url URL] [--samples 400]
"""

from __future__ import annotations

import random
import secrets
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from bench.common import (
    Result,
    add_arguments,
    backend_of,
    base_parser,
    bench_settings,
    percentiles,
    questions,
    run_per_backend,
    timed_each,
)
from domain.commands import Command
from domain.history import Actor
from domain.idnumber import with_check_digit
from projections import open_read_model
from service.registry import Registry
from simulation import COUNTY_CODE, SimClock

HOUSEHOLDS = 2_000
QUICK_HOUSEHOLDS = 60
APPROVER = Actor("bench-approver", "approver", COUNTY_CODE)
FIRST = date(2022, 3, 1)
GUARANTEED = {k: True for k in ("food", "clothing", "education", "medical", "housing", "water")}


def long_histories(registry: Registry, clock: SimClock, village: str, events: int, count: int
                   ) -> tuple[list[str], tuple[datetime, datetime]]:
    """``count`` households of exactly ``events`` events each, effective one a day from FIRST."""
    tag = secrets.token_hex(3).upper()
    # Recorded after every effective date (up to FIRST + 108 days) and after the store's last moment.
    start = max(registry.store.last_recorded_at() or datetime(2022, 8, 1, tzinfo=UTC), datetime(2022, 8, 1, tzinfo=UTC))
    ids = []
    began = start
    for n in range(count):
        hid = f"H-BENCH{events}-{tag}-{n:03d}"
        # A region the simulation never uses, a sequence from the run's tag: unique ID numbers.
        born = date(1960, 1, 1) + timedelta(days=n * 13 + events)
        head = with_check_digit(f"620404{born:%Y%m%d}{int(tag, 16) % 1000:03d}")
        commands = [Command({
            "type": "IdentificationProposed", "division_code": village, "effective_date": FIRST.isoformat(),
            "attribute": "general", "main_cause": "lack_of_capital", "income_per_capita": 2000,
            "income_year": 2021, "guarantees": GUARANTEED,
            "members": [{"name": f"试验户{n}", "id_number": head, "relation": "head"}],
        }, APPROVER, hid)]
        # Approved after the public notice (7 days), then one event a day.
        commands.append(Command({"type": "IdentificationApproved", "effective_date": (FIRST + timedelta(days=8))
                                 .isoformat()}, APPROVER, hid))
        for i in range(2, events):
            on = (FIRST + timedelta(days=8 + i)).isoformat()
            if i % 2:
                payload = {"type": "AssistanceMeasureAssigned", "effective_date": on, "category": "industry",
                           "amount": 1000 + i, "description": "发放基础母羊"}
            else:
                payload = {"type": "IncomeAssessed", "effective_date": on, "year": 2021, "income_per_capita": 2000 + i}
            commands.append(Command(payload, APPROVER, hid))
        # One command per transaction, recorded a day apart (never before it took effect).
        for command in commands:
            start += timedelta(days=1)
            clock.now = start
            (result,) = registry.record_many([command])
            if not hasattr(result, "event_id"):
                raise RuntimeError(f"the benchmark household was refused: {result}")
        ids.append(hid)
    return ids, (began, start)


def measure(url: str, samples: int, seed: int) -> dict[str, Any]:
    clock = SimClock()
    registry = Registry(bench_settings(url, inline_projections=False), clock=clock)
    model = open_read_model(registry, inline=False)
    rng = random.Random(seed)
    figures: dict[str, Any] = {"backend": backend_of(url), "samples": samples}
    try:
        with model.store.db.read() as tx:
            village = tx.scalar("SELECT min(code) FROM proj_divisions WHERE length(code) = 12")
            simulated = [r[0] for r in tx.query(
                "SELECT household_id FROM proj_events WHERE version = 1 AND household_id NOT LIKE ? "
                "ORDER BY household_id LIMIT 2000", ("H-BENCH%",))]
        groups = {f"{n}_events": long_histories(registry, clock, village, n, 10) for n in (10, 100)}
        model.catch_up()
        for name, (ids, (began, ended)) in groups.items():
            # As of a day of their history, known at a moment while it was being recorded (or now).
            span = (ended - began).total_seconds()
            asked = [(rng.choice(ids), FIRST + timedelta(days=rng.randrange(130)),
                      None if rng.random() < 0.25 else began + timedelta(seconds=rng.uniform(0, span)))
                     for _ in range(samples)]
            figures[name] = compare(model, registry, asked)
        sample = rng.sample(simulated, min(50, len(simulated)))
        figures["simulated"] = compare(model, registry, [(rng.choice(sample), *q) for q in questions(rng, samples)])
    finally:
        model.close()
        registry.close()
    return figures


def compare(model: Any, registry: Registry, asked: list[tuple[str, date, datetime | None]]) -> dict[str, Any]:
    """Card latency from the projection and by replay (the baseline) for the same questions."""
    answered = sum(1 for hid, as_of, known in asked if model.card(hid, as_of, known) is not None)
    projection = percentiles(timed_each(model.card, asked, warm=20))
    baseline = percentiles(timed_each(partial(_replayed, registry), asked, warm=20))
    return {
        "answered_on_register": answered,
        "projection": projection,
        "replay": baseline,
        "ratio_replay_over_projection_p50": round(baseline["p50_ms"] / max(projection["p50_ms"], 1e-6), 1),
        "ratio_replay_over_projection_p99": round(baseline["p99_ms"] / max(projection["p99_ms"], 1e-6), 1),
    }


def _replayed(registry: Registry, hid: str, as_of: date, known_at: datetime | None) -> Any:
    try:
        return registry.state_as_of(hid, as_of, known_at)
    except Exception:  # not on the register then: the projection answers None
        return None


def main(argv: list[str] | None = None) -> list[Result]:
    parser = base_parser(__doc__ or "", HOUSEHOLDS, QUICK_HOUSEHOLDS)
    add_arguments(parser)
    parser.add_argument("--samples", type=int, default=400, help="questions per group")
    parser.set_defaults(backend="postgres")
    args = parser.parse_args(argv)
    households = args.households or (QUICK_HOUSEHOLDS if args.quick else HOUSEHOLDS)
    samples = 60 if args.quick else args.samples
    return run_per_backend(args, households, "status", lambda _, url: measure(url, samples, args.seed),
                           "baseline: Registry.state_as_of (load the aggregate, replay its events)")

if __name__ == "__main__":
    main()
