"""What the relay must publish, computed straight from each household's whole history.

:func:`county_with_findings` writes a small simulated county (many events recorded late, some
corrected or retracted) with, interleaved in its log, households whose audits open findings that
later decisions resolve. :func:`expected` computes, for every household event of the log, the
values of the household topic, the personal-data topic and the restatements topic with the
domain's own functions over the household's complete history — no cache, no incremental state —
so that any shortcut the relay takes must give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from consumers.messages import encode_value, masked_item
from domain.commands import Command
from domain.feed import feed_item
from domain.findings import ledger
from domain.history import Actor, RecordedEvent
from domain.restate import finding_restatements, restatements
from service.registry import Registry
from simulation import Recording, SimClock, Simulation, SimulationShares, load
from tests.support import GUARANTEED, member

#: many late and corrected recordings, so that restatements and re-folds are common
SHARES = SimulationShares(late=0.3, corrected=0.05)


@dataclass
class Expected:
    """The values each topic must carry, by log position (one list per position for restatements)."""

    masked: dict[int, bytes] = field(default_factory=dict)
    full: dict[int, bytes] = field(default_factory=dict)
    restatements: dict[int, list[bytes]] = field(default_factory=dict)

    def restatement_values(self, after: int = 0) -> list[bytes]:
        return [v for p, values in sorted(self.restatements.items()) if p > after for v in values]


def audited(village: str, n: int, start: datetime) -> list[Recording]:
    """Household ``H-AUDIT-n``: exits on an income that an audit later corrects below the line (a
    finding opened on the exit), then is revisited as wrongly exited (the finding resolved); its
    exit is confirmed late. Moments from ``start``, a few days apart."""
    hid = f"H-AUDIT-{n:03d}"
    clerk, office = Actor("village-clerk", "recorder", village[:6]), Actor("county-office", "approver", village[:6])
    key = f"audit-{n}"

    def at(days: int) -> datetime:
        return start + timedelta(days=days, minutes=n)

    def rec(days: int, actor: Actor, payload: dict[str, Any], **kw: Any) -> Recording:
        return Recording(at(days), Command(payload, actor, household_id=hid), **kw)

    def on(days: int) -> str:
        return (start + timedelta(days=days)).date().isoformat()

    return [
        rec(0, clerk, {"type": "IdentificationProposed", "division_code": village, "effective_date": on(0),
                       "attribute": "general", "main_cause": "illness", "secondary_causes": [],
                       "income_per_capita": 2100, "income_year": start.year - 1, "guarantees": GUARANTEED,
                       "members": [member(900 + 2 * n), member(901 + 2 * n, "spouse")],
                       "reason": "农户申请，村民主评议通过", "evidence": [f"audit-{n}"]}),
        rec(20, office, {"type": "IdentificationApproved", "effective_date": on(19)}),
        rec(400, clerk, {"type": "IncomeAssessed", "effective_date": on(399),
                         "year": (start + timedelta(days=399)).year, "income_per_capita": 3300 + n},
            key=f"{key}-income"),
        rec(410, clerk, {"type": "ExitProposed", "effective_date": on(409), "pathway": "industry",
                         "guarantees": GUARANTEED}),
        rec(460, office, {"type": "ExitConfirmed", "effective_date": on(424), "household_acknowledged": True}),
        rec(700, office, {"type": "EventCorrected", "effective_date": on(699), "target_event_id": "@",
                          "changes": {"income_per_capita": 2500}, "reason": "审计更正"},
            refs={"target_event_id": f"{key}-income"}),
        rec(740, office, {"type": "Revisited", "effective_date": on(738), "finding": "wrongly_exited"}),
    ]


def county_with_findings(registry: Registry, clock: SimClock, households: int = 40, audits: int = 6,
                         seed: int = 5) -> int:
    """Record the county and the audited households, interleaved by recording moment, with ``clock``
    (the registry's); how many household events were recorded (none refused)."""
    sim = Simulation(households, seed, SHARES)
    divisions = sim.divisions()
    village = max(d.code for d in divisions)
    extra = [r for n in range(audits) for r in audited(village, n, datetime(2014, 6, 3, tzinfo=UTC)
                                                        + timedelta(days=97 * n))]
    stream = sorted([*sim.recordings(), *extra], key=lambda r: r.at)
    report = load(registry, stream, clock, divisions=divisions, batch_size=50, window_days=7)
    assert not report.refused, report.examples
    return report.recorded


def expected(registry: Registry, ref_key: bytes) -> Expected:
    """Every household event's values, from the household's whole stored history."""
    from consumers.findings import diff

    book, tz = registry.policy_book(), registry.settings.tz
    histories: dict[str, list[RecordedEvent]] = {}
    out = Expected()
    for position, event in registry.feed(0, 10**9):
        history = histories.get(event.household_id)
        if history is None:
            history = histories[event.household_id] = registry.history(event.household_id)
        before, upto = history[: event.version - 1], history[: event.version]
        assert upto[-1].event_id == event.event_id
        item = feed_item(position, event)
        changes = diff(ledger(before, book), ledger(upto, book))
        if changes:
            item = {**item, "findings": changes}
        out.masked[position] = encode_value(masked_item(item, ref_key))
        out.full[position] = encode_value(item)
        found = restatements(before, event, tz) + finding_restatements(before, event, book, tz)
        out.restatements[position] = [
            orjson.dumps({"type": "restatement", "restatement_id": f"{r.event_id}/{i}", "position": position,
                          **r.as_dict()})
            for i, r in enumerate(found, start=1)]
    return out
