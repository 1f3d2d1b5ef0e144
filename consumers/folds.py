"""What the relay keeps of each household it has read: an event's findings and restatements cost
one fold step, not a re-read and a re-fold of the household's whole history.

For each household the relay has met it keeps a :class:`Track`: the version it read last, the
latest effective date, and whether the household is *disturbed* (an event landed before another
in valid time, or a change of record was recorded: the domain's
:func:`~domain.findings.first_disturbance`). Most events need nothing more: an undisturbed
household has no findings, and an event recorded on its effective day restates nothing.

The others need the household's history — a disturbed household's findings
(:func:`~domain.findings.advance` from the ledger before the event, which the track keeps), a
status event recorded late its restatements (:func:`~domain.restate.restatements`). A track keeps
its history once one of its events needed it, extended with each event read after; the first
time, the histories of every household of the page that needs one are read with one query per
500 households, cut at the version before the page's first event, and decoded as the log's pages
are (straight from the stored JSON).
The same happens for a household first met after its first event (a relay started mid-log, or
one that re-reads after a failure) and for one whose history was evicted.

The ledger depends on the policy book: the book is read once per page, and a new one (a policy
recorded meanwhile) drops the kept ledgers, which are folded again from the histories.

What the tracks keep lives long: hundreds of thousands of objects on a large county, which
Python's cyclic collector would scan again and again (half the relay's CPU draining 5,000
households). While the relay runs, :func:`rarer_collections` has it collect every 50,000
allocations rather than 700 (as the simulation's loader does): a tenth of that.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, cast

from consumers.findings import diff
from consumers.messages import stored_item
from consumers.restatements import STATUS_EVENTS
from domain.events import META_EVENTS, parse_event
from domain.findings import Ledger, advance, first_disturbance, ledger
from domain.fold import Step, extend, replay
from domain.history import Actor, RecordedEvent, effective_events
from domain.policy import PolicyBook
from domain.restate import Restatement, findings_restated, status_restated
from persistence.recorders import RegistryRecorder
from service.registry import Registry


@dataclass(slots=True)
class Track:
    version: int
    #: the latest effective date of its events
    latest: date
    #: ``first_disturbance(history) is not None``
    disturbed: bool
    #: its events in version order, kept once one of them needed it
    history: list[RecordedEvent] | None = None
    #: ``ledger(history)`` under the book :class:`HouseholdFolds` holds (None: not folded yet)
    ledger: Ledger | None = None
    #: ``replay(effective_events(history))`` (None: not replayed yet)
    steps: list[Step] | None = None


@dataclass(frozen=True, slots=True)
class PastChanges:
    """What one event changed that the relay publishes beside it."""

    #: the message's ``findings`` field (consumers/findings.py): the findings it opened or resolved
    findings: list[dict[str, Any]]
    #: the restatements it causes, in order (published only when restating)
    restatements: list[Restatement]


NONE = PastChanges([], [])


class HouseholdFolds:
    """:meth:`page` gives each household event of a page of the log its :class:`PastChanges`."""

    def __init__(self, registry: Registry, tracks: int = 200_000, histories: int = 50_000) -> None:
        self.registry = registry
        self.tz: tzinfo = registry.settings.tz
        self.max_tracks = tracks
        self.max_histories = histories
        self._tracks: OrderedDict[str, Track] = OrderedDict()
        #: the households whose track holds a history, least recently read first
        self._histories: OrderedDict[str, None] = OrderedDict()
        self._book: PolicyBook | None = None
        self.loaded_total = 0

    def page(self, items: Sequence[dict[str, Any]], restating: bool) -> list[PastChanges]:
        """The past changes of ``items`` (feed items of household events, in log order). With
        ``restating``, status restatements too; without, only what the findings need is folded."""
        book = self.registry.policy_book()
        if book is not self._book:
            self._book = book
            for hid in self._histories:
                self._tracks[hid].ledger = None
        self._prefetch(items, restating)
        return [self._changes(item, restating, book) for item in items]

    # ---------------------------------------------------------------- reading

    def _usable(self, hid: str, version: int) -> Track | None:
        """The track of ``hid`` if it ends just before ``version``."""
        track = self._tracks.get(hid)
        return track if track is not None and track.version == version - 1 else None

    def _prefetch(self, items: Sequence[dict[str, Any]], restating: bool) -> None:
        """Read at once the histories the page will need: of households without a usable track, and
        of those whose track has no history when one of the page's events needs it."""
        first: dict[str, int] = {}
        shapes: dict[str, tuple[date, bool, bool] | None] = {}  # hid → (latest, disturbed, has history); None: read
        for item in items:
            hid, version = item["household_id"], item["version"]
            if hid not in shapes:
                first[hid] = version
                track = self._usable(hid, version)
                if track is not None:
                    shapes[hid] = (track.latest, track.disturbed, track.history is not None)
                elif version == 1:
                    shapes[hid] = (_effective(item), False, restating)
                else:
                    shapes[hid] = None
            shape = shapes[hid]
            if shape is None:
                continue
            latest, disturbed, _, needs = self._next(shape[0], shape[1], item, restating)
            shapes[hid] = None if needs and not shape[2] else (latest, disturbed, shape[2])
        wanted = [hid for hid, shape in shapes.items() if shape is None]
        if wanted:
            self._read({hid: first[hid] for hid in wanted})

    def _read(self, before: dict[str, int]) -> dict[str, Track]:
        """Tracks, with their histories, of the households of ``before`` (id → a version: the history
        before it), read with one query per 500 households and decoded as the log's pages are."""
        recorder = cast(RegistryRecorder, self.registry.recorder)
        mapper = self.registry.mapper
        histories: dict[str, list[RecordedEvent]] = {hid: [] for hid in before}
        keys = sorted(before)
        for start in range(0, len(keys), 500):
            for stored in recorder.select_stored_events(keys[start:start + 500]):
                hid = str(stored.originator_id)
                if stored.originator_version < before[hid]:
                    histories[hid].append(recorded_event(stored_item(stored, mapper, position=0)[0]))
        read = {}
        for hid, version in before.items():
            history = sorted(histories[hid], key=lambda e: e.version)
            if [e.version for e in history] != list(range(1, version)):
                raise LookupError(f"household {hid}: the store has not its events 1 to {version - 1}")
            latest = max((e.body.effective_date for e in history), default=date.min)
            read[hid] = track = Track(version - 1, latest, first_disturbance(history) is not None, history)
            self._keep(hid, track)
        self.loaded_total += len(before)
        return read

    def _keep(self, hid: str, track: Track) -> None:
        tracks = self._tracks
        tracks[hid] = track
        tracks.move_to_end(hid)
        while len(tracks) > self.max_tracks:
            gone, _ = tracks.popitem(last=False)
            self._histories.pop(gone, None)
        if track.history is None:
            return
        histories = self._histories
        histories[hid] = None
        histories.move_to_end(hid)
        while len(histories) > self.max_histories:
            gone, _ = histories.popitem(last=False)
            if gone in tracks:
                tracks[gone].history = tracks[gone].ledger = tracks[gone].steps = None

    # ---------------------------------------------------------------- folding

    def _next(self, latest: date, disturbed: bool, item: dict[str, Any],
              restating: bool) -> tuple[date, bool, bool, bool]:
        """After ``item``: the household's latest effective date, whether it is disturbed, whether the
        event may restate the past (when ``restating``), and whether it needs the history."""
        on = date.fromisoformat(item["effective_date"])
        kind = item["type"]
        disturbed = disturbed or on < latest or kind in META_EVENTS
        # Only a change of status or of record, recorded after the day it takes effect, can restate.
        restates = restating and (kind in META_EVENTS or (kind in STATUS_EVENTS and on < self._day(item)))
        return max(latest, on), disturbed, restates, disturbed or restates

    def _day(self, item: dict[str, Any]) -> date:
        return datetime.fromisoformat(item["recorded_at"]).astimezone(self.tz).date()

    def _changes(self, item: dict[str, Any], restating: bool, book: PolicyBook) -> PastChanges:
        hid, version = item["household_id"], item["version"]
        track = self._usable(hid, version)
        if track is None:
            if version == 1:
                track = Track(0, _effective(item), False, [] if restating else None)
            else:  # not prefetched (evicted since, in a tiny cache): read it alone
                track = self._read({hid: version})[hid]
        latest, disturbed, restates, needs = self._next(track.latest, track.disturbed, item, restating)
        if needs and track.history is None:
            track = self._read({hid: version})[hid]
        changes = NONE
        if track.history is not None:
            changes = self._fold(track, track.history, item, disturbed, restates, restating, book)
        track.version, track.latest, track.disturbed = version, latest, disturbed
        self._keep(hid, track)
        return changes

    def _fold(self, track: Track, history: list[RecordedEvent], item: dict[str, Any], disturbed: bool,
              restates: bool, restating: bool, book: PolicyBook) -> PastChanges:
        """Append the event of ``item`` to ``history``; its findings, and its restatements if it ``restates``
        or (restating) shows a finding on days past."""
        event = recorded_event(item)
        steps = track.steps
        if steps is None and (restates or disturbed):
            steps = replay(effective_events(history), event.household_id)
        history.append(event)
        after: list[Step] | None = None
        restated: list[Restatement] = []
        if steps is not None:
            after = extend(steps, history)
            if restates:
                restated = status_restated(steps, after, event, self.tz)
        track.steps = after
        if not disturbed:
            track.ledger = {}
            return PastChanges([], restated) if restated else NONE
        assert after is not None  # replayed: the household is disturbed
        before = track.ledger if track.ledger is not None else ledger(history[:-1], book)
        track.ledger = ledger_after = advance(before, history, book, after)
        # A finding of the past comes only from a change of record or an event recorded late.
        if restating and (event.type in META_EVENTS or event.body.effective_date < self._day(item)):
            restated += findings_restated(before, ledger_after, after, event, self.tz)
        return PastChanges(diff(before, ledger_after), restated)


@contextmanager
def rarer_collections(allocations: int = 50_000) -> Iterator[None]:
    """Young collections at most every ``allocations`` allocations while the block runs."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], allocations), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _effective(item: dict[str, Any]) -> date:
    return date.fromisoformat(item["effective_date"])


def recorded_event(item: dict[str, Any]) -> RecordedEvent:
    """The domain's event of a household event's feed item (what reading it from the store gives)."""
    return RecordedEvent(event_id=item["event_id"], household_id=item["household_id"], version=item["version"],
                         recorded_at=datetime.fromisoformat(item["recorded_at"]),
                         recorded_by=Actor.from_dict(item["recorded_by"]), body=parse_event(item["data"]))
