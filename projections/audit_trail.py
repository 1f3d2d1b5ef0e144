"""Audit trails from the audit projection: a household's, a division's or an actor's events
with both times, who recorded them, what corrections changed, their findings, and the hash
chains."""

from __future__ import annotations

from typing import Any

from projections import findings
from projections.audit import parse_row_json, row_fields
from projections.encoding import OPEN_US, from_us
from projections.integrity import GENESIS, moment_text, to_hex
from projections.reading import Queries, check_prefix, prefix_range
from projections.schema import ACTOR_COLUMNS, audit_with_actors
from projections.sealing import Sealer


def _audit_item(row: tuple[Any, ...], sealer: Sealer) -> dict[str, Any]:
    (position, household_id, version, event_id, type_, effective_date, recorded_us, name, role, division,
     division_code, reason, evidence, data, changes, event_hash, household_chain, chain) = row
    recorded_at = moment_text(from_us(recorded_us))
    name, reason, evidence, data, changes = (sealer.unseal(v) for v in (name, reason, evidence, data, changes))
    item: dict[str, Any] = {
        "position": position,
        **row_fields(event_id, household_id, version, type_, effective_date, recorded_at, name, role, division),
        "division_code": division_code,
        "reason": reason,
        "evidence": parse_row_json(evidence) or [],
        "data": parse_row_json(data),
        "event_hash": to_hex(event_hash),
        "household_chain": to_hex(household_chain),
        "chain": to_hex(chain),
    }
    if changes:
        item["changes"] = parse_row_json(changes)
    return item


_AUDIT_COLUMNS = (
    "a.position, a.household_id, a.version, a.event_id, a.type, a.effective_date, a.recorded_us, "
    f"{ACTOR_COLUMNS}, a.division_code, a.reason, a.evidence, a.data, a.changes, "
    "c.event_hash, a.household_chain, c.chain"
)
_AUDIT_FROM = f"{audit_with_actors()} JOIN proj_chain c ON c.position = a.position"


class AuditQueries(Queries):
    def audit(self, household_id: str) -> dict[str, Any] | None:
        with self.store.db.read() as tx:
            rows = tx.query(
                f"SELECT {_AUDIT_COLUMNS} FROM {_AUDIT_FROM} "
                "WHERE a.household_id = ? ORDER BY a.version",
                (household_id,),
            )
            head = tx.one("SELECT position, chain FROM proj_chain ORDER BY position DESC LIMIT 1")
            trail_findings = findings.of_households(tx, [household_id], self._policies(tx, None), None, None)
        if not rows:
            return None
        events = [_audit_item(r, self.store.db.sealer) for r in rows]
        found = trail_findings[household_id]
        # Each event lists the findings it bears on: as their decision, as evidence, as resolution.
        for event in events:
            eid = event["event_id"]
            event["findings"] = [
                f["finding_id"] for f in found
                if eid == f["decision_event_id"] or eid in f["shown_by"] or eid == f["resolved_by"]
            ]
        return {
            "household_id": household_id,
            "findings": found,
            "events": events,
            "integrity": {
                "algorithm": "sha256",
                "canonical_form": (
                    "JSON of event_id, household_id, version, type, effective_date, recorded_at (UTC, "
                    "microseconds), recorded_by, data; keys sorted, separators ',' ':', UTF-8"
                ),
                "household_chain": "h_v = sha256(h_(v-1) + '|' + event_hash_v), h_0 = '0' * 64",
                "genesis": GENESIS,
                "household_head": events[-1]["household_chain"],
                "log_head": {"position": head[0], "chain": to_hex(head[1])} if head else None,
            },
        }

    def audit_trail(
        self,
        *,
        household_id: str | None = None,
        division_prefix: str | None = None,
        actor: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        """Events of a household, a division (every household that was ever in it as now
        known, plus the division's and its jurisdictions' reference data) or an actor,
        in recording order, after position ``after``."""
        if sum(x is not None for x in (household_id, division_prefix, actor)) != 1:
            raise ValueError("give exactly one of household, division, actor")
        if not 1 <= limit <= 10_000:
            raise ValueError("limit is 1–10000")
        params: list[Any]
        if household_id is not None:
            where, params = "a.household_id = ?", [household_id]
        elif actor is not None:
            where, params = "u.name_ref = ?", [self.store.db.sealer.ref(actor)]
        else:
            assert division_prefix is not None
            check_prefix(division_prefix)
            lo, hi = prefix_range(division_prefix)
            where = (
                "(a.household_id IN (SELECT household_id FROM proj_timeline WHERE division_code >= ? "
                "AND division_code < ? AND known_to = ?) "
                "OR (a.household_id IS NULL AND a.division_code >= ? AND a.division_code < ?) "
                "OR (a.type = 'PolicyVersionRecorded' AND substr(?, 1, length(a.division_code)) = a.division_code))"
            )
            params = [lo, hi, OPEN_US, lo, hi, division_prefix]
        with self.store.db.read() as tx:
            rows = tx.query(
                f"SELECT {_AUDIT_COLUMNS} FROM {_AUDIT_FROM} "
                f"WHERE {where} AND a.position > ? ORDER BY a.position LIMIT ?",
                [*params, after, limit],
            )
        events = [_audit_item(r, self.store.db.sealer) for r in rows]
        return {
            "household_id": household_id,
            "division_code": division_prefix,
            "actor": actor,
            "events": events,
            "next_after": events[-1]["position"] if len(events) == limit else None,
        }
