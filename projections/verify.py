"""``povreg verify``: prove that the stored events and the audit trail were not altered.

The check walks the event store and the chain side by side, in position order:

1. each stored row's ``raw_hash`` is recomputed from the bytes in ``stored_events``
   and compared with the one chained when it was projected — a row changed in
   the database is named by position, household, version and event id; a row
   inserted into the log afterwards, or deleted from it, is named too;
2. the stored event is decoded and its canonical ``event_hash`` recomputed; the
   audit trail row and the household projection's copy of the event must hash
   to the same value (an edited trail or read-model row is named);
3. every link of the global chain and of each household chain is recomputed;
4. every other read-model table (cards, timeline, the flow log, divisions,
   policies, and again the projected events) is compared row by row with a
   re-fold of the log (:mod:`projections.refold`): an edited, added or removed
   row is named by its table and key;
5. optionally, anchors written down earlier outside the database
   (``povreg projections anchor``) must still match the chain: this catches a
   rewrite of the store *and* of the whole chain table — the one thing the other
   checks cannot see, since a consistent rewrite of the log, the chain and the
   read models would re-fold and re-chain to itself.

Notifications recorded after the audit projection's position are reported as
not yet covered (run a catch-up first), not as problems.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from persistence.db import Tx
from projections.audit import entry_record, row_fields
from projections.encoding import from_us
from projections.integrity import GENESIS, link, moment_text, raw_hash, record_hash, to_hex
from projections.log import decode, head
from projections.refold import check_read_models
from projections.runner import ProjectionStore
from projections.schema import ACTOR_COLUMNS, audit_with_actors, events_with_actors
from projections.sealing import Sealer, SealError
from service.registry import Registry

PAGE = 2000


@dataclass(frozen=True)
class Problem:
    position: int
    kind: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "kind": self.kind, "detail": self.detail}


@dataclass
class Verification:
    checked: int = 0
    #: read-model rows that differ from the log's re-fold
    read_model_rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    log_head: int = 0
    chain_head: int = 0
    not_yet_chained: int = 0
    anchors_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "log_head": self.log_head,
            "chain_head": self.chain_head,
            "not_yet_chained": self.not_yet_chained,
            "anchors_checked": self.anchors_checked,
            "problems": [p.as_dict() for p in self.problems],
        }


def _describe(position: int, audit: dict[str, Any] | None, originator_id: str, version: int) -> str:
    if audit and audit.get("household_id"):
        return (
            f"position {position} (household {audit['household_id']}, version {audit['version']}, "
            f"{audit['type']}, event_id {audit['event_id']})"
        )
    if audit:
        return f"position {position} ({audit['type']} {audit['event_id']})"
    return f"position {position} ({originator_id} version {version})"


def _audit_record(row: tuple[Any, ...], sealer: Sealer) -> dict[str, Any]:
    (_, household_id, version, event_id, type_, effective_date, recorded_us, name, role, division, data,
     household_chain, name_ref) = row
    recorded_at = moment_text(from_us(recorded_us))
    try:
        name, data = sealer.unseal(name), sealer.unseal(data)
    except (SealError, ValueError):
        name, data = "?", "null"  # an altered sealed value: its hash no longer recomputes
    if name_ref != sealer.ref(name):
        name = "?"  # the actor the trail is looked up by is not the one recorded
    return {
        "record": {
            **row_fields(event_id, household_id, version, type_, effective_date, recorded_at, name, role, division),
            "data": json.loads(data),
        },
        "household_chain": to_hex(household_chain),
        "household_id": household_id,
        "version": version,
        "type": type_,
        "event_id": event_id,
    }


def _projected_event(row: tuple[Any, ...], sealer: Sealer) -> str:
    household_id, version, event_id, type_, effective_date, recorded_us, recorded_by, body = row
    try:
        recorded_by, body = sealer.unseal(recorded_by), sealer.unseal(body)
    except (SealError, ValueError):
        return "altered"
    return record_hash(
        {
            "event_id": event_id,
            "household_id": household_id,
            "version": version,
            "type": type_,
            "effective_date": effective_date,
            "recorded_at": moment_text(from_us(recorded_us)),
            "recorded_by": json.loads(recorded_by),
            "data": json.loads(body),
        }
    )


def verify(
    store: ProjectionStore,
    anchors: Iterable[tuple[int, str]] = (),
    progress: Callable[[int, int], None] | None = None,
    read_models: bool = True,
) -> Verification:
    registry: Registry = store.registry
    result = Verification(log_head=head(registry))
    anchor_map = dict(anchors)
    with store.db.read() as tx:
        chain_head = tx.scalar("SELECT coalesce(max(position), 0) FROM proj_chain") or 0
    result.chain_head = int(chain_head)
    previous = GENESIS
    household_heads: dict[str, str] = {}
    position = 0
    upper = max(result.log_head, result.chain_head)
    while position < upper:
        stop = position + PAGE
        stored = {n.id: n for n in registry.recorder.select_notifications(start=position + 1, limit=PAGE, stop=stop)}
        with store.db.read() as tx:
            chained, audits, projected = _page(tx, position, stop)
        for p in sorted(set(stored) | set(chained)):
            n, c = stored.get(p), chained.get(p)
            if c is None:
                assert n is not None
                if p > result.chain_head:
                    result.not_yet_chained += 1
                else:
                    result.problems.append(Problem(p, "inserted", (
                        f"position {p} ({n.originator_id} version {n.originator_version}) is in the event store "
                        "but not in the chain: a row was inserted into the log after the fact")))
                continue
            audit = audits.get(p)
            what = _describe(p, audit, c["originator_id"], c["originator_version"])
            result.checked += 1
            expected = link(previous, c["raw_hash"], c["event_hash"])
            if expected != c["chain"]:
                result.problems.append(Problem(p, "chain_altered", f"{what}: the chain link does not recompute"))
            previous = c["chain"]
            if p in anchor_map:
                result.anchors_checked += 1
                if anchor_map[p] != c["chain"]:
                    result.problems.append(Problem(p, "anchor_mismatch", (
                        f"{what}: the chain differs from the anchor written down earlier "
                        f"({anchor_map[p][:16]}… ≠ {c['chain'][:16]}…): the log and chain were rewritten")))
            actual = raw_hash(str(n.originator_id), n.originator_version, n.topic, n.state) if n else None
            if n is None:
                result.problems.append(Problem(p, "deleted", f"{what} was deleted from the event store"))
            elif actual != c["raw_hash"]:
                result.problems.append(Problem(p, "stored_event_altered", (
                    f"{what}: the row in the event store was altered after it was recorded "
                    f"(stored bytes hash {(actual or '')[:16]}…, chained {c['raw_hash'][:16]}…)")))
            elif c["event_hash"] is not None and n is not None:
                try:
                    record = entry_record(decode(registry, n))
                except Exception as exc:
                    result.problems.append(Problem(p, "undecodable", f"{what}: cannot decode the stored event: {exc}"))
                    record = None
                if record is not None and record_hash(record) != c["event_hash"]:
                    result.problems.append(Problem(p, "event_hash", f"{what}: the event's hash does not recompute"))
            if c["event_hash"] is not None:
                if audit is None:
                    result.problems.append(Problem(p, "audit_missing", f"{what}: no audit trail row"))
                else:
                    if record_hash(audit["record"]) != c["event_hash"]:
                        result.problems.append(Problem(p, "audit_altered", (
                            f"{what}: the audit trail row was altered (its content no longer hashes to the chained "
                            "event hash)")))
                    hid = audit["household_id"]
                    if hid is not None:
                        expected_h = link(household_heads.get(hid, GENESIS), c["event_hash"])
                        if audit["household_chain"] != expected_h:
                            result.problems.append(Problem(p, "household_chain", (
                                f"{what}: the household chain link does not recompute")))
                        household_heads[hid] = audit["household_chain"] or expected_h
                        if p in projected and projected[p] != c["event_hash"]:
                            result.problems.append(Problem(p, "projection_altered", (
                                f"{what}: the read model's copy of the event (proj_events) was altered")))
        position = stop
        if progress:
            progress(min(position, upper), upper)
    for p in sorted(set(anchor_map) - set(range(1, result.chain_head + 1))):
        result.problems.append(Problem(p, "anchor_unknown", f"anchored position {p} is beyond the chain"))
    if read_models:
        with store.db.read() as tx:
            tracked = dict(tx.query("SELECT name, position FROM proj_tracking WHERE name IN (?, ?)",
                                    (store.households.name, store.reference.name)))
        upto = min(int(tracked.get(store.households.name, 0)), int(tracked.get(store.reference.name, 0)))
        try:
            differences = check_read_models(store, upto)
        except Exception as exc:  # a log with a gap or an undecodable event (named above) does not re-fold
            result.problems.append(Problem(0, "read_model_altered",
                                           f"the read models could not be checked: the log does not re-fold ({exc})"))
            differences = []
        for difference in differences:
            result.read_model_rows += 1
            result.problems.append(Problem(0, "read_model_altered", difference.describe()))
    return result


def _page(tx: Tx, after: int, stop: int) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]], dict[int, str]]:
    chained = {
        r[0]: {
            "originator_id": r[1],
            "originator_version": r[2],
            "raw_hash": to_hex(r[3]),
            "event_hash": to_hex(r[4]),
            "chain": to_hex(r[5]),
        }
        for r in tx.query(
            "SELECT position, originator_id, originator_version, raw_hash, event_hash, chain FROM proj_chain "
            "WHERE position > ? AND position <= ? ORDER BY position",
            (after, stop),
        )
    }
    audits: dict[int, dict[str, Any]] = {}
    for row in tx.query(
        "SELECT a.position, a.household_id, a.version, a.event_id, a.type, a.effective_date, a.recorded_us, "
        f"{ACTOR_COLUMNS}, a.data, a.household_chain, u.name_ref FROM {audit_with_actors()} "
        "WHERE a.position > ? AND a.position <= ? ORDER BY a.position",
        (after, stop),
    ):
        audits[row[0]] = _audit_record(row, tx.sealer)
    projected = {
        row[0]: _projected_event(row[1:], tx.sealer)
        for row in tx.query(
            "SELECT e.position, e.household_id, e.version, e.event_id, e.type, e.effective_date, e.recorded_us, "
            f"a.recorded_by, e.body FROM {events_with_actors()} WHERE e.position > ? AND e.position <= ?",
            (after, stop),
        )
    }
    return chained, audits, projected


def read_anchors(lines: Iterable[str]) -> list[tuple[int, str]]:
    anchors = []
    for line in lines:
        if line.strip():
            obj = json.loads(line)
            anchors.append((int(obj["position"]), str(obj["chain"])))
    return anchors


def anchor(store: ProjectionStore) -> dict[str, Any] | None:
    """The chain's head, to write down outside the database."""
    with store.db.read() as tx:
        row = tx.one("SELECT position, chain FROM proj_chain ORDER BY position DESC LIMIT 1")
    return {"position": row[0], "chain": to_hex(row[1])} if row else None
