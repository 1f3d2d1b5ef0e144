"""The audit trail and its integrity chain.

``proj_audit`` has one row per household event (and per division or policy
version): both times, the actor, reason, evidence, the data, and for
corrections and retractions what they changed — the target's fields before and
after, and the household's status timeline as known just before and just after
(computed with the domain fold when the correction is projected). Each row
carries its ``event_hash`` and the household's chain head.

``proj_chain`` has one row per notification of the whole log (tokens and
indexes included): the stored row's ``raw_hash`` and the global chain. See
:mod:`projections.integrity` for the definitions and
:mod:`projections.verify` for the check.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from domain.events import META_EVENTS, EventCorrected, EventRetracted, event_json
from domain.fold import intervals, replay
from domain.history import Actor, RecordedEvent, effective_events
from persistence.db import Tx
from projections.encoding import chunks, to_us
from projections.households import dumps, recorded_event
from projections.integrity import (
    GENESIS,
    link,
    moment_text,
    raw_hash,
    record_hash,
    to_bytes,
    to_hex,
)
from projections.jsontext import compact
from projections.log import Entry
from projections.schema import ACTOR_COLUMNS, AUDIT, AUDIT_ACTORS, CHAIN, audit_with_actors
from projections.sealing import PLAIN, Sealer


def _reference_record(e: Entry, type_: str, effective_date: str, recorded_at: str, data: Any) -> dict[str, Any]:
    """The audit record of a division or policy version (no household, no actor)."""
    return {
        "event_id": f"{e.originator_id}#{e.originator_version}",
        "household_id": None,
        "version": e.originator_version,
        "type": type_,
        "effective_date": effective_date,
        "recorded_at": recorded_at,
        "recorded_by": None,
        "data": data,
    }


def division_record(e: Entry) -> dict[str, Any]:
    d = e.division
    assert d is not None
    effective = d.effective_date.isoformat()
    data = {"code": d.code, "name": d.name, "rural_population": d.rural_population, "effective_date": effective}
    return _reference_record(e, "DivisionRegistered" if d.registered else "DivisionUpdated", effective,
                             moment_text(d.recorded_at), data)


def policy_record(e: Entry) -> dict[str, Any]:
    p = e.policy
    assert p is not None
    return _reference_record(e, "PolicyVersionRecorded", p.version.effective_date.isoformat(),
                             moment_text(p.recorded_at), p.version.model_dump(mode="json"))


def household_record(e: Entry) -> dict[str, Any]:
    """:func:`~projections.integrity.event_record` of a household event, read from the
    stored JSON without validating it into models (the stored body *is* ``event_json``)."""
    data = e.data
    body = data["body"]
    actor = data["recorded_by"]
    return {
        "event_id": data["event_id"],
        "household_id": e.originator_id,
        "version": e.originator_version,
        "type": body["type"],
        "effective_date": body["effective_date"],
        "recorded_at": moment_text(e.recorded_at),
        "recorded_by": {"name": actor["name"], "role": actor["role"], "division": actor.get("division", "")},
        "data": body,
    }


def entry_record(e: Entry) -> dict[str, Any] | None:
    """The audited record of a notification (None for tokens, indexes, idempotency records)."""
    if e.is_household:
        return household_record(e)
    if e.division is not None:
        return division_record(e)
    if e.policy is not None:
        return policy_record(e)
    return None


def _interval_json(steps: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {"status": i.status.value, "from": i.start.isoformat(), "to": i.end.isoformat() if i.end else None}
        for i in intervals(steps)
    ]


def describe_change(before: Sequence[RecordedEvent], meta: RecordedEvent) -> dict[str, Any]:
    """What a correction or retraction changed, by folding the history without and with it."""
    body = meta.body
    assert isinstance(body, EventCorrected | EventRetracted)
    hid = meta.household_id
    after = [*before, meta]
    target = next((e for e in before if e.event_id == body.target_event_id), None)
    base_id = body.target_event_id
    if target is not None and isinstance(target.body, EventCorrected):
        base_id = target.body.target_event_id  # retracting a correction restores its target
    eff_before = {e.event_id: e for e in effective_events(before)}
    eff_after = {e.event_id: e for e in effective_events(after)}
    was = eff_before.get(base_id)
    now = eff_after.get(base_id)
    was_fields = event_json(was.body) if was else {}
    now_fields = event_json(now.body) if now else {}
    fields = {
        k: {"before": was_fields.get(k), "after": now_fields.get(k)}
        for k in sorted(set(was_fields) | set(now_fields))
        if was_fields.get(k) != now_fields.get(k)
    }
    if isinstance(body, EventRetracted):
        effect = "correction_retracted" if base_id != body.target_event_id else "event_retracted"
    else:
        effect = "event_corrected"
    return {
        "effect": effect,
        "target_event_id": body.target_event_id,
        "target_type": target.type if target else None,
        "event_id": base_id,
        "event_type": was.body.type if was else (now.body.type if now else None),
        "fields": fields,
        "timeline_before": _interval_json(replay(effective_events(before), hid)),
        "timeline_after": _interval_json(replay(effective_events(after), hid)),
    }


def audit_row_event(row: Sequence[Any], sealer: Sealer = PLAIN) -> RecordedEvent:
    """A RecordedEvent back from a ``proj_audit`` row (event_id, household_id, version, type,
    recorded_us, the actor's label, role and division, data)."""
    event_id, household_id, version, type_, recorded_us, label, role, division, data = row
    actor = Actor(sealer.unseal(label), role, division or "")
    return recorded_event(household_id, version, event_id, type_, recorded_us, actor, sealer.unseal(data))


class AuditProjection:
    """Maintains ``proj_audit`` and ``proj_chain``."""

    name = "audit"
    #: 2: no recorded_at text, event hash or topic stored twice; no evidence is NULL;
    #: digests as bytes; actors in proj_audit_actors.
    layout = 2
    tables = (CHAIN, AUDIT, AUDIT_ACTORS)

    def __init__(self, cache_size: int = 0) -> None:
        self.cache_size = cache_size
        self._heads: OrderedDict[str, tuple[int, str]] = OrderedDict()
        #: True while the cache holds every household of the tables (a rebuild from
        #: empty tables that evicts nothing): a household not in it has no rows yet.
        self.complete = False
        self._chain_head: tuple[int, str] | None = None
        #: (name, role, division) -> its id in proj_audit_actors (a few actors record most events)
        self._actor_ids: dict[tuple[str, str, str], int] = {}

    def reset(self) -> None:
        self.complete = False
        self._heads.clear()
        self._chain_head = None

    def apply(self, tx: Tx, entries: Sequence[Entry], suffix: str = "") -> int:
        if not entries:
            return 0
        try:
            return self._apply(tx, entries, suffix)
        except BaseException:
            self.reset()
            raise

    def _actor(self, sealer: Sealer, actor: dict[str, str] | None, batch: dict[int, tuple[Any, ...]]) -> int | None:
        """The id of the actor of an audit row (None: reference data), added to ``batch``'s actors."""
        if not actor:
            return None
        key = (actor["name"], actor["role"], actor.get("division", ""))
        ids = self._actor_ids
        found = ids.get(key)
        if found is None:
            if len(ids) > 10_000:
                ids.clear()
            found = ids[key] = sealer.digest(dumps(key))
        if found not in batch:
            batch[found] = (found, sealer.ref(key[0]), sealer.seal(key[0]), key[1], key[2])
        return found

    def _apply(self, tx: Tx, entries: Sequence[Entry], suffix: str) -> int:
        sealer = tx.sealer
        chain_rows: list[tuple[Any, ...]] = []
        audit_rows: list[tuple[Any, ...]] = []
        actors: dict[int, tuple[Any, ...]] = {}
        head = self._chain_head if self.cache_size else None
        if head is None:
            row = tx.one(f"SELECT position, chain FROM {CHAIN.name}{suffix} ORDER BY position DESC LIMIT 1")
            head = (row[0], to_hex(row[1])) if row else (0, GENESIS)
        heads = self._household_heads(tx, {e.originator_id for e in entries if e.is_household}, suffix)
        # For describing corrections: the events committed before this batch of each
        # household corrected in it (one query for all), and those earlier in this batch.
        corrected = {
            e.originator_id for e in entries
            if e.position > head[0] and e.is_household and e.data["body"]["type"] in META_EVENTS
        }
        stored = self._histories(tx, corrected, suffix)
        in_batch: dict[str, list[Entry]] = {}
        chain = head[1]
        for e in entries:
            if e.position <= head[0]:
                continue  # already chained
            record = entry_record(e)
            event_hash = record_hash(record, finite=e.finite) if record is not None else None
            r_hash = raw_hash(e.originator_id, e.originator_version, e.topic, e.state)
            chain = link(chain, r_hash, event_hash)
            chain_rows.append((e.position, e.originator_id, e.originator_version, to_bytes(r_hash),
                               to_bytes(event_hash), to_bytes(chain)))
            if record is None:
                continue
            assert event_hash is not None
            household_chain = None
            changes = None
            household = e.is_household
            division_code = record["data"].get("division_code") if household else None
            if household:
                hid = e.originator_id
                _, previous = heads.get(hid, (0, GENESIS))
                household_chain = link(previous, event_hash)
                heads[hid] = (e.originator_version, household_chain)
                if record["type"] in META_EVENTS:
                    before = stored.get(hid, []) + [b.household for b in in_batch.get(hid, []) if b.household]
                    assert e.household is not None
                    changes = dumps(describe_change(before, e.household))
                in_batch.setdefault(hid, []).append(e)
            elif e.division is not None:
                division_code = e.division.code
            elif e.policy is not None:
                division_code = e.policy.version.jurisdiction
            data = record["data"]
            audit_rows.append(
                (
                    e.position,
                    record["household_id"],
                    record["version"],
                    record["event_id"],
                    record["type"],
                    record["effective_date"],
                    to_us(e.recorded_at) if household else _record_us(e),
                    self._actor(sealer, record["recorded_by"], actors),
                    division_code,
                    sealer.seal(data.get("reason")) if household else None,
                    # No evidence is no value (the trail shows []), not a sealed "[]" on most rows.
                    sealer.seal(compact(evidence, finite=e.finite) if (evidence := data.get("evidence")) and household
                                else None),
                    sealer.seal(e.body_json if household else dumps(data)),
                    sealer.seal(changes),
                    to_bytes(household_chain),
                )
            )
        CHAIN.insert(tx, chain_rows, suffix)
        # The batch's few actors, each stored once by whichever writer has it first.
        tx.executemany(
            f"INSERT INTO {AUDIT_ACTORS.name}{suffix} ({', '.join(AUDIT_ACTORS.column_names)}) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [actors[actor] for actor in sorted(actors)],
        )
        AUDIT.insert(tx, audit_rows, suffix)
        if chain_rows:
            head = (chain_rows[-1][0], chain)
        if self.cache_size:
            self._chain_head = head
            for hid, value in heads.items():
                self._heads[hid] = value
                self._heads.move_to_end(hid)
            while len(self._heads) > self.cache_size:
                self._heads.popitem(last=False)
                self.complete = False
        return len(chain_rows)

    def _household_heads(self, tx: Tx, household_ids: set[str], suffix: str) -> dict[str, tuple[int, str]]:
        heads: dict[str, tuple[int, str]] = {}
        missing = []
        for hid in household_ids:
            if hid in self._heads:
                heads[hid] = self._heads[hid]
            elif not self.complete:
                missing.append(hid)
        for chunk in chunks(missing):
            marks = ", ".join("?" * len(chunk))
            for hid, version, chain in tx.query(
                f"SELECT household_id, version, household_chain FROM {AUDIT.name}{suffix} "
                f"WHERE household_id IN ({marks}) ORDER BY household_id, version",
                chunk,
            ):
                heads[hid] = (version, to_hex(chain))
        return heads

    @staticmethod
    def _histories(tx: Tx, household_ids: set[str], suffix: str) -> dict[str, list[RecordedEvent]]:
        """The audited events of these households, in version order."""
        histories: dict[str, list[RecordedEvent]] = {}
        for chunk in chunks(sorted(household_ids)):
            for row in tx.query(
                f"SELECT a.event_id, a.household_id, a.version, a.type, a.recorded_us, {ACTOR_COLUMNS}, a.data "
                f"FROM {audit_with_actors(suffix)} WHERE a.household_id IN ({', '.join('?' * len(chunk))}) "
                "ORDER BY a.household_id, a.version",
                chunk,
            ):
                histories.setdefault(row[1], []).append(audit_row_event(row, tx.sealer))
        return histories


def _record_us(e: Entry) -> int:
    if e.division is not None:
        return to_us(e.division.recorded_at)
    assert e.policy is not None
    return to_us(e.policy.recorded_at)


def parse_row_json(value: str | None) -> Any:
    return json.loads(value) if value else None


def row_fields(
    event_id: str, household_id: str | None, version: int, type_: str, effective_date: str, recorded_at: str,
    name: str | None, role: str | None, division: str | None,
) -> dict[str, Any]:
    """An audit row's event as its record names it, up to the actor (none for reference data)."""
    return {
        "event_id": event_id,
        "household_id": household_id,
        "version": version,
        "type": type_,
        "effective_date": effective_date,
        "recorded_at": recorded_at,
        "recorded_by": {"name": name, "role": role, "division": division or ""} if name is not None else None,
    }
