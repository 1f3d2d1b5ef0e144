"""The bitemporal household read models: cards and the status timeline.

Each household's rows are a function of its own events only. When an event
arrives, that household alone is re-folded with the domain's own functions
(:func:`~domain.history.effective_events` and
:func:`~domain.fold.replay`) over its history as now known, and the rows
whose content changed are closed (``known_to`` = the event's recording moment)
and their successors inserted (``known_from`` = that moment). Two tables, two
grains:

* ``proj_cards`` — one row per *day on which an event took effect*: the state
  at the end of that day (the card's own values, and its members, measures and
  helpers by id in ``proj_card_parts``: :mod:`projections.cards`), believed over
  ``[known_from, known_to)``. A card row has no ``valid_to``: the card "as of D,
  known at K" is the row known at K with the latest ``valid_from <= D`` (its
  ``valid_to`` is the next such row's ``valid_from``). So an event appended
  after all the others (the common case) inserts one row and closes nothing.
* ``proj_timeline`` — one row per *interval in which what the counts read holds*
  (status, division, attribute, main cause, persons, exit pathway, head):
  ``[valid_from, valid_to) × [known_from, known_to)``, with the same fields of
  the interval before it (``prev_*``). Rosters, counts, incidence and the
  adjustment report are queries over it. Income assessments, measures, helpers
  and revisits do not change it, so it has a few rows per household, not one
  per event; and with ``prev_*`` in the row every flow of the adjustment report
  is one row, read without a self-join.

An event appended after all the others in valid time only extends the fold
(:mod:`projections.household_fold`); late events, corrections and retractions
take the full re-fold of that household.

:meth:`HouseholdProjection.apply` takes ``(position, RecordedEvent)`` pairs and is
idempotent by ``(household_id, version)``: the Kafka projection consumer can feed
it from a topic partition (events of one household arrive in version order).

Both tables are written here (~440 lines): they are kept from one fold in one pass, and
which rows close and open in each follows from the same comparison of old and new fold.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.events import EVENT_TYPES, event_json
from domain.findings import first_disturbance
from domain.history import Actor, RecordedEvent
from domain.state import HouseholdState
from persistence.db import Tx
from projections import flows
from projections.encoding import OPEN_US, chunks, from_us, to_us
from projections.household_fold import Fold, Span, spans_of
from projections.jsontext import compact
from projections.schema import (
    ACTORS,
    CARD_PARTS,
    CARDS,
    EVENT_COLUMNS,
    EVENTS,
    FLOW_CLASSES,
    FLOW_MARKS,
    FLOW_SUMS,
    FLOWS,
    REVIEWS,
    TIMELINE,
    events_with_actors,
)
from projections.sealing import PLAIN, Sealer


class ProjectionError(RuntimeError):
    """The projection cannot apply an event (a gap in a household's versions, a corrupt row)."""


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass
class _Batch:
    """The rows one ``apply`` writes: inserts (closable until written), closes, deletes."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    #: (table, household_id, known_from, valid_from) -> row (known_to at index ``KNOWN_TO[table]``)
    inserts: dict[tuple[str, str, int, str], list[Any]] = field(default_factory=dict)
    closes: dict[str, list[tuple[int, str, int, str]]] = field(default_factory=dict)
    deletes: dict[str, list[tuple[str, int, str]]] = field(default_factory=dict)
    #: the flow log's entries (row starts opened and closed, by event)
    flows: flows.Pending = field(default_factory=flows.Pending)
    #: households newly listed in proj_reviews: (household_id, known_from)
    reviews: list[tuple[str, int]] = field(default_factory=list)
    #: card parts not stored yet: (household_id, part id, text)
    parts: list[tuple[str, int, str]] = field(default_factory=list)
    #: the id of a card part (the store's :meth:`~projections.sealing.Sealer.digest`)
    digest: Callable[[str], int] = PLAIN.digest

    def open(self, table: str, household_id: str, known_from: int, valid_from: str, row: list[Any]) -> None:
        self.inserts[(table, household_id, known_from, valid_from)] = row

    def close(self, table: str, household_id: str, known_from: int, valid_from: str, moment: int) -> None:
        key = (table, household_id, known_from, valid_from)
        if known_from == moment:
            # Believed from and to the same moment: nobody can observe it, delete it.
            if self.inserts.pop(key, None) is None:
                self.deletes.setdefault(table, []).append((household_id, known_from, valid_from))
        elif key in self.inserts:
            self.inserts[key][KNOWN_TO[table]] = moment  # opened earlier in this batch: insert it closed
        else:
            self.closes.setdefault(table, []).append((moment, household_id, known_from, valid_from))


KNOWN_TO = {CARDS.name: 3, TIMELINE.name: 4}
#: The columns of personal data in each table's rows, sealed when written: the card's JSON;
#: the timeline's head_name and head_id_number (proj_events: recorded_by and body).
SEALED = {CARDS.name: frozenset({4}), TIMELINE.name: frozenset({11, 12})}


class HouseholdProjection:
    """Maintains ``proj_events``, ``proj_cards``, ``proj_timeline``, ``proj_reviews`` and the flow log
    (``proj_flows`` and its classes and checkpoints, :mod:`projections.flows`)."""

    name = "households"
    #: 2: a card row holds the card's own values, its members, measures and helpers are
    #: parts; an event row names its actor (proj_actors).
    layout = 2
    tables = (EVENTS, ACTORS, CARDS, CARD_PARTS, TIMELINE, FLOWS, FLOW_CLASSES, FLOW_MARKS, FLOW_SUMS, REVIEWS)

    def __init__(self, cache_size: int | None = 0, single_writer: bool = False) -> None:
        """``cache_size``: folds kept between batches (0: none, None: unbounded). With
        ``single_writer`` (a rebuild's private tables, each household written by one lane)
        a cached fold is trusted as is, and the flow log's checkpoints are left to the end
        of the rebuild; otherwise a fold is used only while the household's projected
        version still matches."""
        self.cache_size = cache_size
        self.single_writer = single_writer
        self._cache: OrderedDict[str, Fold] = OrderedDict()
        #: recorded_by JSON -> its id in proj_actors (a few actors record most events)
        self._actor_ids: dict[str, int] = {}
        #: True while the cache holds every household of the tables (a rebuild from
        #: empty tables that evicts nothing): a household not in it has no rows yet.
        self.complete = False

    def reset(self) -> None:
        self._cache.clear()
        self.complete = False

    # ------------------------------------------------------------------ apply

    def apply(
        self,
        tx: Tx,
        items: Iterable[tuple[int, RecordedEvent]],
        suffix: str = "",
        bodies: dict[int, str] | None = None,
    ) -> int:
        """Project household events; returns how many were new (others are skipped).

        ``bodies`` may give an event's body JSON by position (as the store holds it),
        which saves serialising it again.
        """
        by_household: dict[str, list[tuple[int, RecordedEvent]]] = {}
        for position, event in items:
            by_household.setdefault(event.household_id, []).append((position, event))
        if not by_household:
            return 0
        try:
            return self._apply(tx, by_household, suffix, bodies or {})
        except BaseException:
            self.reset()  # the transaction rolls back: forget what it did
            raise

    def _apply(
        self, tx: Tx, by_household: dict[str, list[tuple[int, RecordedEvent]]], suffix: str, bodies: dict[int, str]
    ) -> int:
        folds = self._folds(tx, list(by_household), suffix)
        batch = _Batch(digest=tx.sealer.digest)
        applied = 0
        for household_id, items in by_household.items():
            fold = folds.get(household_id)
            if fold is None:
                fold = folds[household_id] = Fold(household_id)
            if len(items) > 1:
                items.sort(key=lambda i: i[1].version)
            for position, event in items:
                if event.version <= fold.version:
                    continue  # already projected (at-least-once delivery)
                if event.version != fold.version + 1:
                    raise ProjectionError(
                        f"household {household_id}: event version {event.version} arrived but the "
                        f"projection is at version {fold.version}"
                    )
                self._apply_event(fold, event, batch, position)
                body = bodies.get(position)
                batch.events.append(
                    (
                        household_id,
                        event.version,
                        position,
                        event.event_id,
                        event.type,
                        event.body.effective_date.isoformat(),
                        to_us(event.recorded_at),
                        compact(event.recorded_by.as_dict(), finite=True),  # strings only
                        body if body is not None else dumps(event_json(event.body)),
                    )
                )
                applied += 1
        self._write(tx, batch, suffix)
        if self.cache_size != 0:
            for household_id in by_household:
                self._cache[household_id] = folds[household_id]
                self._cache.move_to_end(household_id)
            if self.cache_size is not None:
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
                    self.complete = False
        return applied

    def _write(self, tx: Tx, batch: _Batch, suffix: str) -> None:
        sealer = tx.sealer
        ids = self._actor_ids
        if len(ids) > 10_000:
            ids.clear()
        actors: dict[int, str] = {}
        events = []
        for row in batch.events:
            text = row[7]
            actor = ids.get(text)
            if actor is None:
                actor = ids[text] = sealer.digest(text)
            actors[actor] = text
            # Personal data never reaches the tables in the clear (projections.sealing).
            events.append((*row[:7], actor, sealer.seal(row[8])))
        # The batch's few actors, each stored once by whichever writer has it first.
        tx.executemany(
            f"INSERT INTO {ACTORS.name}{suffix} (actor, recorded_by) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(actor, sealer.seal(text)) for actor, text in sorted(actors.items())],
        )
        EVENTS.insert(tx, events, suffix)
        REVIEWS.insert(tx, batch.reviews, suffix)
        CARD_PARTS.insert(tx, [(hid, part, sealer.seal(text)) for hid, part, text in batch.parts], suffix)
        for table in (CARDS, TIMELINE):
            name = table.name
            tx.executemany(
                f"DELETE FROM {name}{suffix} WHERE household_id = ? AND known_from = ? AND valid_from = ?",
                batch.deletes.get(name, []),
            )
            tx.update_known_to(name + suffix, batch.closes.get(name, []))
            rows = [r for k, r in batch.inserts.items() if k[0] == name]
            if sealer.encrypted:
                sealed = SEALED[name]
                rows = [[sealer.seal(v) if i in sealed else v for i, v in enumerate(r)] for r in rows]
            table.insert(tx, rows, suffix)
        # A rebuild's lanes leave the flow log's checkpoints to its end (flows.checkpoint_all).
        flows.write(tx, batch.flows, suffix, checkpoints=not self.single_writer)

    def _apply_event(self, fold: Fold, event: RecordedEvent, batch: _Batch, position: int = 0) -> None:
        hid = fold.household_id
        # Recording moments strictly increase per household (the write gate's promise).
        # Should two events of a household ever share a moment, nobody can observe the
        # belief between them: the rows of the first are then replaced, not closed.
        moment = max(to_us(event.recorded_at), fold.moment)
        fold.moment = moment
        last_key = fold.days[-1][2] if fold.days else None
        appended = fold.append(event)
        # An event that only extends the fold leaves every decision judged as it was
        # recorded; any other may give one a finding (domain.findings.first_disturbance).
        if not appended and not fold.reviewed and first_disturbance(fold.history) is not None:
            fold.reviewed = True
            batch.reviews.append((hid, moment))
        cards = CARDS.name
        if appended:
            # Only the last day changed (a new day, or the same day's state replaced).
            on, state, key = fold.days[-1]
            believed = fold.cards.get(on)
            if believed is None or not (believed[0] is state or believed[0] == state):
                if believed is not None:
                    batch.close(cards, hid, believed[1], on, moment)
                HouseholdProjection._open_card(fold, on, state, moment, batch)
            if key == last_key:
                return  # the timeline's last interval reads as before: nothing to change
        else:
            current = {on: state for on, state, _ in fold.days}
            for on, (state, known_from) in list(fold.cards.items()):
                now = current.get(on)
                if now is None or not (now is state or now == state):
                    batch.close(cards, hid, known_from, on, moment)
                    del fold.cards[on]
            for on, state, _ in fold.days:
                if on not in fold.cards:
                    HouseholdProjection._open_card(fold, on, state, moment, batch)
        self._diff_timeline(fold, moment, batch, position)

    @staticmethod
    def _open_card(fold: Fold, on: str, state: HouseholdState, moment: int, batch: _Batch) -> None:
        hid = fold.household_id
        fold.cards[on] = (state, moment)
        head, parts = fold.encoder.encode(state, batch.digest)
        for text, part in parts:
            if part not in fold.parts:  # stored once per household, whichever rows show it
                fold.parts.add(part)
                batch.parts.append((hid, part, text))
        batch.open(CARDS.name, hid, moment, on, [hid, on, moment, OPEN_US, head, *(part for _, part in parts)])

    @staticmethod
    def _diff_timeline(fold: Fold, moment: int, batch: _Batch, position: int = 0) -> None:
        hid = fold.household_id
        table = TIMELINE.name
        spans = spans_of(fold.days)
        # The flow log's entries: each row start closed (−) or opened (+) at this moment,
        # by (day, class); a row closed and reopened with another valid_to cancels out.
        changes: dict[tuple[int, flows.FlowClass], list[int]] = {}
        for on, (span, known_from) in list(fold.spans.items()):
            if spans.get(on) != span:
                batch.close(table, hid, known_from, on, moment)
                del fold.spans[on]
                _flow(changes, on, span, -1)
        for on, span in spans.items():
            if on in fold.spans:
                continue
            fold.spans[on] = (span, moment)
            prev = span.prev or (None, None, None, None, None)
            batch.open(table, hid, moment, on, [hid, on, span.valid_to, moment, OPEN_US, *span.key, *prev[:5]])
            _flow(changes, on, span, 1)
        if changes:
            batch.flows.add(moment, position, changes)

    # ------------------------------------------------------------------- load

    def _folds(self, tx: Tx, household_ids: list[str], suffix: str) -> dict[str, Fold]:
        folds: dict[str, Fold] = {}
        missing = []
        for hid in household_ids:
            cached = self._cache.get(hid)
            if cached is not None:
                folds[hid] = cached
            elif not self.complete:
                missing.append(hid)
        if folds and not self.single_writer:
            # Another writer (a Kafka consumer, another process) may have moved a
            # household on since it was cached: trust a fold only at the stored version.
            cached_ids = list(folds)
            for chunk in chunks(cached_ids):
                marks = ", ".join("?" * len(chunk))
                stored = dict(tx.query(
                    f"SELECT household_id, max(version) FROM {EVENTS.name}{suffix} "
                    f"WHERE household_id IN ({marks}) GROUP BY household_id",
                    chunk,
                ))
                for hid in chunk:
                    if stored.get(hid, 0) != folds[hid].version:
                        del folds[hid]
                        self._cache.pop(hid, None)
                        missing.append(hid)
        for chunk in chunks(missing):
            folds.update(self.load(tx, chunk, suffix))
        return folds

    @staticmethod
    def load(tx: Tx, household_ids: Sequence[str], suffix: str = "") -> dict[str, Fold]:
        """Re-fold households from their projected events; attach the stored believed rows."""
        if not household_ids:
            return {}
        marks = ", ".join("?" * len(household_ids))
        histories: dict[str, list[RecordedEvent]] = {}
        for row in tx.query(
            f"SELECT {EVENT_COLUMNS} FROM {events_with_actors(suffix)} WHERE e.household_id IN ({marks}) "
            "ORDER BY e.household_id, e.version",
            household_ids,
        ):
            histories.setdefault(row[0], []).append(decode_event_row(row, tx.sealer))
        believed: dict[str, dict[str, dict[str, int]]] = {}
        for table in (CARDS, TIMELINE):
            for hid, valid_from, known_from in tx.query(
                f"SELECT household_id, valid_from, known_from FROM {table.name}{suffix} "
                f"WHERE household_id IN ({marks}) AND known_to = ?",
                [*household_ids, OPEN_US],
            ):
                believed.setdefault(table.name, {}).setdefault(hid, {})[valid_from] = known_from
        parts: dict[str, set[int]] = {}
        for hid, part in tx.query(
            f"SELECT household_id, part FROM {CARD_PARTS.name}{suffix} WHERE household_id IN ({marks})", household_ids
        ):
            parts.setdefault(hid, set()).add(int(part))
        folds = {}
        for hid, history in histories.items():
            fold = Fold(hid, history)
            fold.parts = parts.get(hid, set())
            fold.refold()
            fold.reviewed = first_disturbance(history) is not None
            fold.moment = max(to_us(e.recorded_at) for e in history)
            cards = believed.get(CARDS.name, {}).get(hid, {})
            spans = believed.get(TIMELINE.name, {}).get(hid, {})
            for on, state, _ in fold.days:
                if on not in cards:
                    raise ProjectionError(f"household {hid}: no believed card from {on}; rebuild the projection")
                fold.cards[on] = (state, cards[on])
            for on, span in spans_of(fold.days).items():
                if on not in spans:
                    raise ProjectionError(
                        f"household {hid}: no open timeline row from {on}; rebuild the projection"
                    )
                fold.spans[on] = (span, spans[on])
            folds[hid] = fold
        return folds


def _flow(changes: dict[tuple[int, flows.FlowClass], list[int]], on: str, span: Span, sign: int) -> None:
    cls = flows.flow_class(span.key, span.prev)
    if cls is None:
        return
    cell = changes.setdefault((date.fromisoformat(on).toordinal(), cls), [0, 0, 0])
    cell[0] += sign
    cell[1] += sign * span.key[4]
    cell[2] += sign * (span.prev[4] if span.prev is not None else 0)


def recorded_event(
    household_id: str, version: int, event_id: str, type_: str, recorded_us: int, actor: Actor, body: str
) -> RecordedEvent:
    """A recorded event back from a read model's row (its body as the stored JSON)."""
    return RecordedEvent(
        event_id=event_id,
        household_id=household_id,
        version=version,
        recorded_at=from_us(recorded_us),
        recorded_by=actor,
        body=EVENT_TYPES[type_].model_validate_json(body),
    )


def decode_event_row(row: Sequence[Any], sealer: Sealer = PLAIN) -> RecordedEvent:
    """A ``proj_events`` row with its actor (:data:`~projections.schema.EVENT_COLUMNS`)."""
    household_id, version, event_id, type_, recorded_us, recorded_by, body = row
    actor = Actor.from_dict(json.loads(sealer.unseal(recorded_by)))
    return recorded_event(household_id, version, event_id, type_, recorded_us, actor, sealer.unseal(body))
