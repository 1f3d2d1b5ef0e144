"""Findings as the read model answers them: the domain's ledger over the projected events.

Findings are derived, never stored as facts of their own (:mod:`domain.findings`). Only
households listed in ``proj_reviews`` can have any (an event recorded before another in
valid time, or a correction or retraction); for those, the queries read the household's
projected events and fold the ledger with the same domain function the tests use as the
oracle — so the incremental path and a rebuild, which write the same ``proj_events`` and
``proj_reviews``, give the same findings by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from domain.findings import findings_view
from domain.history import RecordedEvent
from domain.policy import PolicyBook
from persistence.db import Tx
from projections.encoding import chunks, known_us
from projections.households import decode_event_row
from projections.reading import Queries, check_prefix, prefix_range
from projections.schema import EVENT_COLUMNS, events_with_actors

STATES = ("open", "resolved", "all")


def histories(tx: Tx, household_ids: Sequence[str], k: int) -> dict[str, list[RecordedEvent]]:
    """The projected events of ``household_ids`` recorded at or before ``k`` (µs)."""
    found: dict[str, list[RecordedEvent]] = {}
    for chunk in chunks(list(household_ids)):
        marks = ", ".join("?" * len(chunk))
        for row in tx.query(
            f"SELECT {EVENT_COLUMNS} FROM {events_with_actors()} "
            f"WHERE e.household_id IN ({marks}) AND e.recorded_us <= ? ORDER BY e.household_id, e.version",
            [*chunk, k],
        ):
            found.setdefault(row[0], []).append(decode_event_row(row, tx.sealer))
    return found


def reviewed(tx: Tx, household_ids: Sequence[str], k: int) -> list[str]:
    """Those of ``household_ids`` listed for review by ``k``."""
    out: list[str] = []
    for chunk in chunks(list(household_ids)):
        marks = ", ".join("?" * len(chunk))
        out += [r[0] for r in tx.query(
            f"SELECT household_id FROM proj_reviews WHERE household_id IN ({marks}) AND known_from <= ?",
            [*chunk, k],
        )]
    return out


def of_households(
    tx: Tx,
    household_ids: Sequence[str],
    policies: PolicyBook,
    as_of: date | None,
    known_at: datetime | None,
    state: str = "all",
) -> dict[str, list[dict[str, Any]]]:
    """Each household's findings as of ``as_of`` (None: whatever the date), known at ``known_at``."""
    k = known_us(known_at)
    ids = reviewed(tx, household_ids, k)
    out: dict[str, list[dict[str, Any]]] = {hid: [] for hid in household_ids}
    for hid, history in histories(tx, ids, k).items():
        out[hid] = findings_view(history, policies, as_of, known_at, state)
    return out


class FindingsQueries(Queries):
    """The findings of a division (open and resolved, counted, and a page of them)."""

    def findings(
        self,
        division_prefix: str,
        as_of: date,
        known_at: datetime | None,
        state: str = "all",
        page: int = 1,
        page_size: int = 50,
    ) -> dict[str, Any]:
        """The findings of the households in ``division_prefix`` as of ``as_of`` (the division
        each belonged to then), known at ``known_at``: counts by state and one page."""
        check_prefix(division_prefix)
        if state not in STATES:
            raise ValueError(f"state is one of {', '.join(STATES)}")
        k = known_us(known_at)
        lo, hi = prefix_range(division_prefix)
        day = as_of.isoformat()
        with self.store.db.read() as tx:
            policies = self._policies(tx, None)
            ids = [r[0] for r in tx.query(
                "SELECT DISTINCT t.household_id FROM proj_timeline t JOIN proj_reviews r "
                "ON r.household_id = t.household_id WHERE r.known_from <= ? AND t.division_code >= ? "
                "AND t.division_code < ? AND t.valid_from <= ? AND t.valid_to > ? AND t.known_from <= ? "
                "AND t.known_to > ? ORDER BY t.household_id",
                (k, lo, hi, day, day, k, k),
            )]
            found = sorted(histories(tx, ids, k).items())
        rows: list[dict[str, Any]] = []
        for hid, history in found:
            rows += [{"household_id": hid, **f} for f in findings_view(history, policies, as_of, known_at)]
        counts = {s: sum(1 for r in rows if r["state"] == s) for s in ("open", "resolved")}
        chosen = rows if state == "all" else [r for r in rows if r["state"] == state]
        start = (page - 1) * page_size
        return {
            "division_code": division_prefix,
            "as_of": as_of.isoformat(),
            "known_at": known_at.isoformat(timespec="microseconds") if known_at else None,
            "state": state,
            "counts": counts,
            "total": len(chosen),
            "page": page,
            "page_size": page_size,
            "findings": chosen[start : start + page_size],
        }
