"""Civil affairs' low-income roster sync (民政 低保 名册同步): the example outside subscriber.

Civil affairs (民政) pays the minimum living guarantee (最低生活保障, 低保) and
wants to know, for any date, which registered poor households are low-income
(``dibao``) households — without copying spreadsheets (与民政等“三保障”部门的数据对接,
《湖光镇持续开展打赢脱贫攻坚战两年行动方案(2020-2021年)》第20条).

**On the roster on date D** ⇔ as of D the household is registered in poverty
(``poor``, ``exit_pending`` or ``returned``: approved and not yet exited) *and*
its attribute is ``dibao``. It enters when it is approved (or returns to
poverty) as a dibao household, or when its attribute is corrected to dibao; it
leaves when it exits, is removed or closed, or its attribute is corrected away.

Everything is kept in the subscriber's own tables (in its own database if you
give it one), built only from the Kafka messages:

- ``dibao_household_events`` — the household events received (to re-fold a
  household when a late event or a correction changes its past);
- ``dibao_roster`` — each household's spans on the roster in valid time
  ``[valid_from, valid_to)`` as now known, with the division and the position
  of the event that last changed them;
- ``dibao_changes`` — the entries and exits as civil affairs receives them:
  ``entered`` / ``left`` on a valid date, and ``entry_withdrawn`` /
  ``exit_withdrawn`` when a later correction takes one back, each with the
  position of the event that caused it.

- ``dibao_restatements`` — the restatements the relay publishes (a late decision, a
  correction, a retraction that changed the status of days already past); :func:`restated`
  tells whether the household was on the roster in each range before and after: the rosters
  civil affairs already received for those days are out of date where they differ.

The as-of view is :func:`roster_on` (``povreg dibao roster --as-of D``); :func:`restated`
lists the past days whose roster a restatement changed.

It reads the household topic, where personal data is masked: members are known by their
``person_ref`` (the stand-in ID numbers of :func:`consumers.messages.to_recorded` are derived
from it), so joins and departures still match and civil affairs can link its own records by
``person_ref``. With ``POVREG_KAFKA_PII_TOPIC`` set it reads the full events there instead.

The whole subscriber is the class below: the base (consumers/base.py) provides
the consumer group, exactly-once application, ordering, retries and the
dead-letter topic.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date
from typing import Any, NamedTuple

from consumers.base import Subscriber
from consumers.messages import FeedMessage, to_recorded
from domain.divisions import is_scope
from domain.fold import Step, extend, replay
from domain.history import RecordedEvent, effective_events
from domain.vocab import Attribute, Status
from persistence.db import Database, Tx

ON_ROSTER_STATUSES = frozenset({Status.POOR, Status.EXIT_PENDING, Status.RETURNED})

TABLES = (
    "CREATE TABLE IF NOT EXISTS dibao_household_events ("
    " household_id TEXT NOT NULL, version INTEGER NOT NULL, event_id TEXT NOT NULL, position BIGINT NOT NULL,"
    " item TEXT NOT NULL, PRIMARY KEY (household_id, version))",
    "CREATE TABLE IF NOT EXISTS dibao_roster ("
    " household_id TEXT NOT NULL, division_code TEXT NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT,"
    " position BIGINT NOT NULL, PRIMARY KEY (household_id, valid_from))",
    "CREATE INDEX IF NOT EXISTS dibao_roster_valid ON dibao_roster (valid_from, valid_to)",
    "CREATE TABLE IF NOT EXISTS dibao_restatements ("
    " restatement_id TEXT PRIMARY KEY, position BIGINT NOT NULL, household_id TEXT NOT NULL,"
    " division_code TEXT NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT NOT NULL, status_before TEXT,"
    " status_after TEXT, event_id TEXT NOT NULL, event_type TEXT NOT NULL, recorded_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS dibao_changes ("
    " position BIGINT NOT NULL, household_id TEXT NOT NULL, change TEXT NOT NULL, valid_date TEXT NOT NULL,"
    " division_code TEXT NOT NULL, recorded_at TEXT NOT NULL,"
    " PRIMARY KEY (position, household_id, change, valid_date))",
)


class Span(NamedTuple):
    """Time on the roster in one division: ``[valid_from, valid_to)`` (None: still on it)."""

    division_code: str
    valid_from: date
    valid_to: date | None


def spans_of(steps: Sequence[Step]) -> list[Span]:
    """The roster spans of a folded history (the domain's :func:`~domain.fold.replay`)."""
    # The state at the end of each effective date (several events may share a date).
    by_date: dict[date, str | None] = {}
    for step in steps:
        state = step.state
        on = state.status in ON_ROSTER_STATUSES and state.attribute == Attribute.DIBAO
        by_date[step.event.effective_date] = state.division_code if on else None
    spans: list[Span] = []
    current: tuple[str, date] | None = None
    for day in sorted(by_date):
        division = by_date[day]
        if current is not None and division != current[0]:
            spans.append(Span(current[0], current[1], day))
            current = None
        if division is not None and current is None:
            current = (division, day)
    if current is not None:
        spans.append(Span(current[0], current[1], None))
    return spans


class DibaoRosterSync(Subscriber):
    """Keeps ``dibao_household_events``, ``dibao_roster`` and ``dibao_changes`` from the topic."""

    name = "civil-affairs-dibao"
    tables = TABLES

    def __init__(self, cache_size: int = 20_000) -> None:
        #: recently seen households' histories and folds, trusted only while the stored version matches
        self.cache_size = cache_size
        self._cache: OrderedDict[str, tuple[list[RecordedEvent], list[Step]]] = OrderedDict()

    restatements = True

    def rolled_back(self) -> None:
        self._cache.clear()

    def handle_restatements(self, messages: Sequence[dict[str, Any]], tx: Tx) -> None:
        """Keep each restatement (its effect on the roster is judged when read, by :func:`restated`:
        the events it follows may arrive after it, on their own topic)."""
        tx.executemany(
            "INSERT INTO dibao_restatements (restatement_id, position, household_id, division_code, valid_from, "
            "valid_to, status_before, status_after, event_id, event_type, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(m["restatement_id"], m["position"], m["household_id"], m["division_code"], m["valid_from"],
              m["valid_to"], m["status_before"], m["status_after"], m["event_id"], m["event_type"], m["recorded_at"])
             for m in messages],
        )

    def handle(self, message: FeedMessage, tx: Tx) -> None:
        self.handle_batch([message], tx)

    def handle_batch(self, messages: Sequence[FeedMessage], tx: Tx) -> None:
        # Each event is judged on its own, in order (so the changes and their causes do not depend
        # on how messages happen to be batched); each household is read and written once per batch.
        histories, folds = self._load(tx, sorted({m.household_id for m in messages}))
        spans = {hid: spans_of(steps) for hid, steps in folds.items()}
        changed_by: dict[str, FeedMessage] = {}
        changes: list[tuple[Any, ...]] = []
        for m in messages:
            hid = m.household_id
            histories[hid].append(m.event)
            folds[hid] = extend(folds[hid], histories[hid])
            new, old = spans_of(folds[hid]), spans[hid]
            if new != old:
                spans[hid] = new
                changed_by[hid] = m
                changes += [(m.position, hid, change, day.isoformat(), division, m.item["recorded_at"])
                            for change, day, division in _boundary_changes(old, new)]
        tx.executemany(
            "INSERT INTO dibao_household_events (household_id, version, event_id, position, item) "
            "VALUES (?, ?, ?, ?, ?)",
            [(m.household_id, m.version, m.event_id, m.position, json.dumps(m.item, ensure_ascii=False))
             for m in messages],
        )
        # A household's rows carry the position of the last event that changed its spans.
        rewrite = list(changed_by)
        tx.executemany("DELETE FROM dibao_roster WHERE household_id = ?", [(hid,) for hid in rewrite])
        tx.executemany(
            "INSERT INTO dibao_roster (household_id, division_code, valid_from, valid_to, position) "
            "VALUES (?, ?, ?, ?, ?)",
            [(hid, s.division_code, s.valid_from.isoformat(), s.valid_to.isoformat() if s.valid_to else None,
              changed_by[hid].position) for hid in rewrite for s in spans[hid]],
        )
        tx.executemany(
            "INSERT INTO dibao_changes (position, household_id, change, valid_date, division_code, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            changes,
        )
        for hid in histories:
            self._cache[hid] = (histories[hid], folds[hid])
            self._cache.move_to_end(hid)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _load(self, tx: Tx, household_ids: list[str]) -> tuple[dict[str, list[RecordedEvent]], dict[str, list[Step]]]:
        """The stored histories and their folds (from the cache where it is still current)."""
        stored = _stored_versions(tx, household_ids)
        histories: dict[str, list[RecordedEvent]] = {}
        folds: dict[str, list[Step]] = {}
        missing = []
        for hid in household_ids:
            cached = self._cache.get(hid)
            version = cached[0][-1].version if cached and cached[0] else 0
            if cached is not None and version == stored.get(hid, 0):
                histories[hid], folds[hid] = list(cached[0]), list(cached[1])
            else:
                missing.append(hid)
        for hid, history in _load_histories(tx, missing).items():
            histories[hid] = history
            folds[hid] = replay(effective_events(history), hid) if history else []
        return histories, folds


def _dibao_on(history: Sequence[RecordedEvent], day: date) -> bool:
    """Whether the household's attribute is dibao on ``day`` (or, before it was proposed, when proposed)."""
    if not history:
        return False
    steps = replay(effective_events(history), history[0].household_id)
    state = next((s.state for s in reversed(steps) if s.event.effective_date <= day), steps[0].state if steps else None)
    return state is not None and state.attribute == Attribute.DIBAO


def _stored_versions(tx: Tx, household_ids: Sequence[str]) -> dict[str, int]:
    versions: dict[str, int] = {}
    for start in range(0, len(household_ids), 400):
        part = household_ids[start:start + 400]
        marks = ",".join("?" * len(part))
        versions.update((hid, int(v)) for hid, v in tx.query(
            f"SELECT household_id, MAX(version) FROM dibao_household_events WHERE household_id IN ({marks}) "
            "GROUP BY household_id", part))
    return versions


def _load_histories(tx: Tx, household_ids: Sequence[str]) -> dict[str, list[RecordedEvent]]:
    histories: dict[str, list[RecordedEvent]] = {hid: [] for hid in household_ids}
    for start in range(0, len(household_ids), 400):
        part = household_ids[start:start + 400]
        marks = ",".join("?" * len(part))
        for hid, item in tx.query(f"SELECT household_id, item FROM dibao_household_events "
                                  f"WHERE household_id IN ({marks}) ORDER BY household_id, version", part):
            histories[hid].append(to_recorded(json.loads(item)))
    return histories


def _boundaries(spans: Sequence[Span]) -> set[tuple[str, date, str]]:
    marks = set()
    for s in spans:
        marks.add(("entered", s.valid_from, s.division_code))
        if s.valid_to is not None:
            marks.add(("left", s.valid_to, s.division_code))
    return marks


def _boundary_changes(old: Sequence[Span], new: Sequence[Span]) -> list[tuple[str, date, str]]:
    before, after = _boundaries(old), _boundaries(new)
    withdrawn = {"entered": "entry_withdrawn", "left": "exit_withdrawn"}
    changes = [(kind, day, div) for kind, day, div in after - before]
    changes += [(withdrawn[kind], day, div) for kind, day, div in before - after]
    return sorted(changes, key=lambda c: (c[1], c[0]))


# ------------------------------------------------------------------ queries


def check_division_prefix(prefix: str) -> None:
    """A division code (2, 4, 6, 9 or 12 digits) or "" for everywhere; anything else is refused."""
    if not is_scope(prefix):
        raise ValueError(f"a division code is 2, 4, 6, 9 or 12 digits, not {prefix!r}")


def roster_on(db: Database, as_of: date, division_prefix: str = "") -> list[dict[str, Any]]:
    """Who was on the low-income roster on ``as_of`` (as now known), optionally within a division."""
    check_division_prefix(division_prefix)
    day = as_of.isoformat()
    rows = db.query(
        "SELECT household_id, division_code, valid_from, valid_to FROM dibao_roster "
        "WHERE valid_from <= ? AND (valid_to IS NULL OR valid_to > ?) AND division_code LIKE ? "
        "ORDER BY division_code, household_id",
        (day, day, division_prefix + "%"),
    )
    return [{"household_id": h, "division_code": d, "since": f, "until": t} for h, d, f, t in rows]


def restated(db: Database, after_position: int = 0, roster_only: bool = True) -> list[dict[str, Any]]:
    """Restatements received after ``after_position``, in the order they were caused, each with
    whether the household was on the roster in its range before and after (its status then, and
    its attribute as the events received say); with ``roster_only``, only those where that differs:
    the past days whose roster, already sent, must be sent again."""
    keys = ("restatement_id", "position", "household_id", "division_code", "valid_from", "valid_to",
            "status_before", "status_after", "event_id", "event_type", "recorded_at")
    with db.read() as tx:
        rows = [dict(zip(keys, row, strict=True)) for row in tx.query(
            f"SELECT {', '.join(keys)} FROM dibao_restatements WHERE position > ? ORDER BY position, restatement_id",
            (after_position,))]
        histories = _load_histories(tx, sorted({r["household_id"] for r in rows}))
    out = []
    for r in rows:
        dibao = _dibao_on(histories.get(r["household_id"], []), date.fromisoformat(r["valid_from"]))
        r["on_roster_before"] = dibao and r["status_before"] in ON_ROSTER_STATUSES
        r["on_roster_after"] = dibao and r["status_after"] in ON_ROSTER_STATUSES
        if not roster_only or r["on_roster_before"] != r["on_roster_after"]:
            out.append(r)
    return out


def changes_since(db: Database, after_position: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
    """Entries and exits caused by events after ``after_position``, in the order they were learned."""
    if after_position < 0 or limit < 1:
        raise ValueError("after is a position (0 or more) and limit 1 or more")
    rows = db.query(
        "SELECT position, household_id, change, valid_date, division_code, recorded_at FROM dibao_changes "
        "WHERE position > ? ORDER BY position, household_id, valid_date, change LIMIT ?",
        (after_position, limit),
    )
    return [{"position": p, "household_id": h, "change": c, "valid_date": v, "division_code": d,
             "recorded_at": r} for p, h, c, v, d, r in rows]
