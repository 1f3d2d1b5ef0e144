"""The ledger of findings, extended a step at a time where a version only appends to the fold,
equals the ledger recomputed from a replay of every version: for every household of a simulated
county with late recordings, corrections, retractions and findings opened and resolved, as known
now and at moments in between."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bootstrap.settings import Settings
from domain.findings import Ledger, advance, first_disturbance, ledger
from domain.history import RecordedEvent
from domain.policy import PolicyBook
from service.registry import Registry
from simulation import SimClock
from tests.kafka.reference import county_with_findings

from .builders import History, approved, corrected, exit_confirmed, exit_proposed, helper, income, proposed, revisited


def replayed_ledger(history: Sequence[RecordedEvent], policies: PolicyBook, known_at: datetime | None) -> Ledger:
    """Every version replayed and every decision judged again: the ledger by its definition."""
    known = [e for e in history if known_at is None or e.recorded_at <= known_at]
    start = first_disturbance(known)
    found: Ledger = {}
    for end in range(start + 1 if start is not None else len(known) + 1, len(known) + 1):
        found = advance(found, known[:end], policies)
    return found


def opened_changed_and_resolved() -> History:
    """A false exit shown by a late income, the income corrected back and forth, facts and
    decisions appended between: findings open, close and open again, version after version."""
    h = History()
    h.record(proposed("2014-05-02"))
    h.record(approved("2014-05-20"))
    assessed = h.record(income("2016-10-20", 3300, 2016))
    h.record(exit_proposed("2016-11-01"))
    h.record(exit_confirmed("2016-11-15"))
    late = h.record(income("2016-10-25", 2400, 2016), when="2018-03-01")  # opens a finding
    h.record(helper("2018-03-05"), when="2018-03-05")  # appends
    h.record(corrected("2018-04-01", late, income_per_capita=3600), when="2018-04-01")  # withdraws it
    h.record(helper("2018-04-05", "李四"), when="2018-04-05")
    h.record(corrected("2018-05-01", assessed, income_per_capita=2000), when="2018-05-01")  # opens another
    h.record(revisited("2018-05-10", "wrongly_exited"), when="2018-05-10")  # resolves it
    return h


def test_the_stepped_ledger_is_the_replayed_one_version_by_version() -> None:
    h = opened_changed_and_resolved()
    seen = set()
    for end in range(1, len(h.events) + 1):
        prefix = h.events[:end]
        stepped = ledger(prefix, h.policies)
        assert stepped == replayed_ledger(prefix, h.policies, None), end
        seen.add(tuple(sorted((f.rule, f.withdrawn, f.resolved_by is not None) for f in stepped.values())))
    assert len(seen) >= 3  # none, open, withdrawn: the ledger changed state along the way


def test_the_stepped_ledger_is_the_replayed_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = SimClock()
    registry = Registry(Settings(database_url=f"sqlite:///{tmp_path / 'county.db'}", inline_projections=False,
                                 cipher_key="none"), clock=clock)
    try:
        county_with_findings(registry, clock, households=60)
        book = registry.policy_book()
        households = {event.household_id for _, event in registry.feed(0, 10**9)}
        with_findings = 0
        for hid in sorted(households):
            history = registry.history(hid)
            moments = [None, *(e.recorded_at + timedelta(microseconds=1) for e in history[1::3])]
            for known_at in moments:
                assert ledger(history, book, known_at) == replayed_ledger(history, book, known_at), (hid, known_at)
            with_findings += bool(ledger(history, book))
        assert with_findings >= 6  # the audited households at least
    finally:
        registry.close()
