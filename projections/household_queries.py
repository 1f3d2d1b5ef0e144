"""A household's queries: its card as of a date as known at a moment, its timeline, its
findings, and the divisions it has belonged to (what a token's scope is checked against)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from projections import findings
from projections.cards import finish_card, stored_card
from projections.encoding import OPEN_DATE, OPEN_US, known_us
from projections.reading import Queries


def _valid_to(text: str) -> str | None:
    return None if text == OPEN_DATE else text


class HouseholdQueries(Queries):
    """The card, the timeline, the findings and the divisions of one household."""

    def household_divisions(self, household_id: str) -> set[str] | None:
        """Every division the household has belonged to, as now known (what a token's
        scope is checked against); None when nothing of it was ever recorded."""
        with self.store.db.read() as tx:
            codes = {
                code
                for (code,) in tx.query(
                    "SELECT DISTINCT division_code FROM proj_timeline WHERE household_id = ? AND known_to = ?",
                    (household_id, OPEN_US),
                )
            }
            if codes:
                return codes
            recorded = tx.one("SELECT 1 FROM proj_events WHERE household_id = ? LIMIT 1", (household_id,))
        return codes if recorded else None

    def card(self, household_id: str, as_of: date, known_at: datetime | None) -> dict[str, Any] | None:
        k = known_us(known_at)
        day = as_of.isoformat()
        # One statement: the card row known at K with the latest valid_from <= D and its
        # three parts; the next such row's valid_from ends its interval; the version is
        # what was recorded by K; and the policy versions' key, to know whether the cached
        # book still holds.
        parts = ", ".join(
            f"(SELECT p.content FROM proj_card_parts p WHERE p.household_id = c.household_id AND p.part = c.{kind})"
            for kind in ("members", "measures", "helpers")
        )
        row = self.store.db.one(
            f"SELECT c.card, {parts}, c.valid_from, "
            "(SELECT min(n.valid_from) FROM proj_cards n WHERE n.household_id = c.household_id "
            "AND n.valid_from > ? AND n.known_from <= ? AND n.known_to > ?), "
            "(SELECT count(*) FROM proj_events e WHERE e.household_id = c.household_id AND e.recorded_us <= ?), "
            "(SELECT count(*) FROM proj_policies), (SELECT coalesce(max(position), 0) FROM proj_policies), "
            "(SELECT count(*) FROM proj_reviews r WHERE r.household_id = c.household_id AND r.known_from <= ?) "
            "FROM proj_cards c WHERE c.household_id = ? AND c.valid_from <= ? AND c.known_from <= ? "
            "AND c.known_to > ? ORDER BY c.valid_from DESC LIMIT 1",
            (day, k, k, k, k, household_id, day, k, k),
        )
        if row is None:
            return None
        *texts, valid_from, valid_to, version, policy_count, policy_head, in_review = row
        cached = self.context.policy_cache
        if cached is not None and cached[0] == (int(policy_count), int(policy_head)):
            policies = cached[1].known_at(known_at)
        else:
            with self.store.db.read() as tx:
                policies = self._policies(tx, known_at)
        unseal = self.store.db.sealer.unseal
        found = finish_card(
            stored_card(household_id, valid_from, *(unseal(text) for text in texts)),
            as_of=as_of,
            known_at=known_at,
            version=int(version),
            valid_from=valid_from,
            valid_to=valid_to,
            policies=policies,
        )
        found["findings"] = self.household_findings(household_id, as_of, known_at) if in_review else []
        return found

    def household_findings(
        self, household_id: str, as_of: date | None, known_at: datetime | None, state: str = "all"
    ) -> list[dict[str, Any]]:
        """The household's findings (domain.findings) as of ``as_of`` (None: whatever the
        date), known at ``known_at``."""
        with self.store.db.read() as tx:
            policies = self._policies(tx, None)
            return findings.of_households(tx, [household_id], policies, as_of, known_at, state)[household_id]

    def timeline(self, household_id: str, known_at: datetime | None) -> list[dict[str, Any]] | None:
        k = known_us(known_at)
        with self.store.db.read() as tx:
            recorded = tx.scalar(
                "SELECT count(*) FROM proj_events WHERE household_id = ? AND recorded_us <= ?", (household_id, k)
            )
            if not recorded:
                return None
            rows = tx.query(
                "SELECT status, valid_from, valid_to FROM proj_timeline WHERE household_id = ? "
                "AND known_from <= ? AND known_to > ? ORDER BY valid_from",
                (household_id, k, k),
            )
            found = findings.of_households(tx, [household_id], self._policies(tx, None), None, known_at)
        out: list[dict[str, Any]] = []
        for status, valid_from, valid_to in rows:
            if out and out[-1]["status"] == status:
                out[-1]["to"] = _valid_to(valid_to)
            else:
                out.append({"status": status, "from": valid_from, "to": _valid_to(valid_to)})
        # Each finding shows on the interval its decision took effect in (an interval
        # without any keeps its three fields only).
        for interval in out:
            shown = [
                f for f in found[household_id]
                if interval["from"] <= f["decision_effective_date"]
                and (interval["to"] is None or f["decision_effective_date"] < interval["to"])
            ]
            if shown:
                interval["findings"] = shown
        return out
