"""The bitemporal status timeline: one row per (household, valid interval, known range).

For each household the projection keeps its raw events (``proj_events``) and,
in ``proj_timeline``, the household's state for every valid-time interval
together with the transaction-time range in which that interval was believed:
``[valid_from, valid_to) × [known_from, known_to)``. A row's state is the
domain fold's state at the end of the day ``valid_from`` (several events on one
day count as the day's last), and ``card`` is its full snapshot.

When an event for a household arrives, that household alone is re-folded with
the domain's own functions (:func:`~povreg.domain.history.effective_events` and
:func:`~povreg.domain.fold.replay`) over its whole history as now known; the
rows whose interval or state changed are closed (``known_to`` = the event's
recording moment) and the new ones inserted (``known_from`` = that moment).
"As of D, known at K" is then one index lookup:
``valid_from <= D < valid_to AND known_from <= K < known_to``.

An event appended after all the others in valid time (the common case) only
extends the fold: its state is the domain's :func:`~povreg.domain.state.transition`
applied to the last state, exactly what ``replay`` would compute. Late events,
corrections and retractions take the full re-fold of that household.

:meth:`HouseholdProjection.apply` takes ``(position, RecordedEvent)`` pairs and is
idempotent by ``(household_id, version)``: the Kafka projection consumer can feed
it from a topic partition (events of one household arrive in version order).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from povreg.domain.events import EVENT_TYPES, META_EVENTS, event_json
from povreg.domain.fold import Step, replay
from povreg.domain.history import Actor, EffectiveEvent, RecordedEvent, effective_events
from povreg.domain.state import HouseholdState, transition
from povreg.projections.cards import CardEncoder
from povreg.projections.db import OPEN_DATE, OPEN_US, Tx, from_us, to_us
from povreg.projections.schema import EVENTS, TIMELINE

#: marks a row to delete rather than close (see ``_apply_event``)
DELETE = -1


class ProjectionError(RuntimeError):
    """The projection cannot apply an event (a gap in a household's versions, a corrupt row)."""


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass
class Row:
    """A timeline row as currently believed (``known_to`` open)."""

    valid_from: str
    valid_to: str
    state: HouseholdState
    known_from: int
    card: str | None = None

    def card_json(self, encoder: CardEncoder) -> str:
        if self.card is None:
            self.card = encoder.encode(self.state)
        return self.card


@dataclass
class Fold:
    """What the projection knows of one household: its history and its current rows."""

    household_id: str
    history: list[RecordedEvent] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    rows: dict[str, Row] = field(default_factory=dict)
    encoder: CardEncoder = field(default_factory=CardEncoder)
    #: the recording moment (µs) of the household's last event
    moment: int = 0

    @property
    def version(self) -> int:
        return self.history[-1].version if self.history else 0

    def append(self, event: RecordedEvent) -> None:
        """Add ``event`` to the history and re-fold (the domain's fold, extended or replayed)."""
        self.history.append(event)
        last = self.steps[-1] if self.steps else None
        appended = last is not None and event.body.effective_date >= last.event.effective_date
        if last is not None and appended and event.type not in META_EVENTS:
            # It sorts last in effective_events (latest date, highest version): replay
            # would produce the same steps plus one transition from the last state.
            ev = EffectiveEvent(event, event.body)
            self.steps = [*self.steps, Step(ev, transition(last.state, ev, self.household_id))]
        else:
            self.steps = replay(effective_events(self.history), self.household_id)

    def intervals(self) -> list[tuple[str, str, HouseholdState]]:
        """(valid_from, valid_to, state at the end of valid_from) for the current fold."""
        days: list[tuple[str, HouseholdState]] = []
        for step in self.steps:
            on = step.event.effective_date.isoformat()
            if days and days[-1][0] == on:
                days[-1] = (on, step.state)
            else:
                days.append((on, step.state))
        return [
            (on, days[i + 1][0] if i + 1 < len(days) else OPEN_DATE, state) for i, (on, state) in enumerate(days)
        ]


def decode_event_row(row: Sequence[Any]) -> RecordedEvent:
    """A ``proj_events`` row (household_id, version, event_id, type, recorded_us, recorded_by, body)."""
    household_id, version, event_id, type_, recorded_us, recorded_by, body = row
    return RecordedEvent(
        event_id=event_id,
        household_id=household_id,
        version=version,
        recorded_at=from_us(recorded_us),
        recorded_by=Actor.from_dict(json.loads(recorded_by)),
        body=EVENT_TYPES[type_].model_validate_json(body),
    )


class HouseholdProjection:
    """Maintains ``proj_events`` and ``proj_timeline``."""

    name = "households"
    tables = (EVENTS, TIMELINE)

    def __init__(self, cache_size: int = 0) -> None:
        #: Folds kept between batches. Only safe for a single writer of the tables
        #: (a rebuild); catch-up loads what it needs inside each transaction.
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Fold] = OrderedDict()

    def reset(self) -> None:
        self._cache.clear()

    # ------------------------------------------------------------------ apply

    def apply(self, tx: Tx, items: Iterable[tuple[int, RecordedEvent]], suffix: str = "") -> int:
        """Project household events; returns how many were new (others are skipped)."""
        by_household: dict[str, list[tuple[int, RecordedEvent]]] = {}
        for position, event in items:
            by_household.setdefault(event.household_id, []).append((position, event))
        if not by_household:
            return 0
        try:
            return self._apply(tx, by_household, suffix)
        except BaseException:
            self._cache.clear()  # the transaction rolls back: forget what it did
            raise

    def _apply(self, tx: Tx, by_household: dict[str, list[tuple[int, RecordedEvent]]], suffix: str) -> int:
        folds = self._folds(tx, list(by_household), suffix)
        event_rows: list[tuple[Any, ...]] = []
        pending: dict[tuple[str, int, str], list[Any]] = {}
        closes: list[tuple[int, str, int, str]] = []
        applied = 0
        for household_id, items in by_household.items():
            fold = folds.setdefault(household_id, Fold(household_id))
            for position, event in sorted(items, key=lambda i: i[1].version):
                if event.version <= fold.version:
                    continue  # already projected (at-least-once delivery)
                if event.version != fold.version + 1:
                    raise ProjectionError(
                        f"household {household_id}: event version {event.version} arrived but the "
                        f"projection is at version {fold.version}"
                    )
                self._apply_event(fold, event, pending, closes)
                event_rows.append(
                    (
                        household_id,
                        event.version,
                        position,
                        event.event_id,
                        event.type,
                        event.body.effective_date.isoformat(),
                        to_us(event.recorded_at),
                        dumps(event.recorded_by.as_dict()),
                        dumps(event_json(event.body)),
                    )
                )
                applied += 1
        tx.insert(EVENTS.name + suffix, EVENTS.column_names, event_rows)
        tx.executemany(
            f"DELETE FROM {TIMELINE.name}{suffix} WHERE household_id = ? AND known_from = ? AND valid_from = ?",
            [c[1:] for c in closes if c[0] == DELETE],
        )
        tx.executemany(
            f"UPDATE {TIMELINE.name}{suffix} SET known_to = ? "
            "WHERE household_id = ? AND known_from = ? AND valid_from = ?",
            [c for c in closes if c[0] != DELETE],
        )
        tx.insert(TIMELINE.name + suffix, TIMELINE.column_names, list(pending.values()))
        if self.cache_size:
            for household_id in by_household:
                self._cache[household_id] = folds[household_id]
                self._cache.move_to_end(household_id)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return applied

    @staticmethod
    def _apply_event(
        fold: Fold,
        event: RecordedEvent,
        pending: dict[tuple[str, int, str], list[Any]],
        closes: list[tuple[int, str, int, str]],
    ) -> None:
        hid = fold.household_id
        # Recording moments strictly increase per household (the write gate's promise).
        # Should two events of a household ever share a moment, nobody can observe the
        # belief between them: the rows of the first are then replaced, not closed.
        moment = max(to_us(event.recorded_at), fold.moment)
        fold.moment = moment
        old = fold.rows
        fold.append(event)
        rows: dict[str, Row] = {}
        for valid_from, valid_to, state in fold.intervals():
            before = old.get(valid_from)
            if before is not None and before.valid_to == valid_to and (before.state is state or before.state == state):
                rows[valid_from] = before  # unchanged: still believed
                continue
            card = before.card if before is not None and before.state is state else None
            rows[valid_from] = Row(valid_from, valid_to, state, moment, card)
        for valid_from, before in old.items():
            if rows.get(valid_from) is before:
                continue
            key = (hid, before.known_from, valid_from)
            if before.known_from == moment:
                if pending.pop(key, None) is None:
                    closes.append((DELETE, hid, before.known_from, valid_from))
            elif key in pending:
                pending[key][4] = moment  # inserted earlier in this batch: insert it closed
            else:
                closes.append((moment, hid, before.known_from, valid_from))
        for valid_from, row in rows.items():
            if old.get(valid_from) is row:
                continue
            s = row.state
            pending[(hid, moment, valid_from)] = [
                hid,
                valid_from,
                row.valid_to,
                moment,
                OPEN_US,
                s.status.value,
                s.division_code,
                s.attribute.value,
                s.main_cause.value,
                s.persons,
                s.exit_pathway.value if s.exit_pathway else None,
                row.card_json(fold.encoder),
            ]
        fold.rows = rows

    # ------------------------------------------------------------------- load

    def _folds(self, tx: Tx, household_ids: list[str], suffix: str) -> dict[str, Fold]:
        folds: dict[str, Fold] = {}
        missing = []
        for hid in household_ids:
            cached = self._cache.get(hid)
            if cached is not None:
                folds[hid] = cached
            else:
                missing.append(hid)
        for start in range(0, len(missing), 500):
            folds.update(self.load(tx, missing[start : start + 500], suffix))
        return folds

    @staticmethod
    def load(tx: Tx, household_ids: Sequence[str], suffix: str = "") -> dict[str, Fold]:
        """Re-fold households from their projected events; attach the stored open rows."""
        if not household_ids:
            return {}
        marks = ", ".join("?" * len(household_ids))
        histories: dict[str, list[RecordedEvent]] = {}
        for row in tx.query(
            f"SELECT household_id, version, event_id, type, recorded_us, recorded_by, body "
            f"FROM {EVENTS.name}{suffix} WHERE household_id IN ({marks}) ORDER BY household_id, version",
            household_ids,
        ):
            histories.setdefault(row[0], []).append(decode_event_row(row))
        stored: dict[str, dict[str, tuple[int, str]]] = {}
        for hid, valid_from, known_from, card in tx.query(
            f"SELECT household_id, valid_from, known_from, card FROM {TIMELINE.name}{suffix} "
            f"WHERE household_id IN ({marks}) AND known_to = ?",
            [*household_ids, OPEN_US],
        ):
            stored.setdefault(hid, {})[valid_from] = (known_from, card)
        folds = {}
        for hid, history in histories.items():
            fold = Fold(hid, history, replay(effective_events(history), hid))
            fold.moment = max(to_us(e.recorded_at) for e in history)
            open_rows = stored.get(hid, {})
            for valid_from, valid_to, state in fold.intervals():
                if valid_from not in open_rows:
                    raise ProjectionError(
                        f"household {hid}: no open timeline row from {valid_from}; rebuild the projection"
                    )
                known_from, card = open_rows[valid_from]
                fold.rows[valid_from] = Row(valid_from, valid_to, state, known_from, card)
            folds[hid] = fold
        return folds
