"""A household's fold as the households projection keeps it: its history, the states at
the end of each day on which an event took effect (:class:`Day`), what the timeline reads
of each (:data:`Key`), the timeline's intervals (:class:`Span`), and the card and timeline
rows it believes (:class:`Fold`).

An event appended after all the others in valid time only extends the fold: its state
is the domain's :func:`~domain.state.transition` applied to the last state, exactly what
:func:`~domain.fold.replay` would compute. Late events, corrections and retractions take
the full re-fold (:meth:`Fold.refold`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from domain.events import META_EVENTS
from domain.fold import Step, replay
from domain.history import EffectiveEvent, RecordedEvent, effective_events
from domain.state import HouseholdState, transition
from domain.vocab import Relation, Status
from projections.adjustments import READMITTED
from projections.cards import CardEncoder
from projections.encoding import OPEN_DATE

#: What the timeline's counts read of a state:
#: (status, division_code, attribute, main_cause, persons, exit_pathway, head_name, head_id_number)
Key = tuple[str, str, str, str, int, str | None, str | None, str | None]
#: One day of the fold: (valid_from ISO date, the state at the end of that day, its Key)
Day = tuple[str, HouseholdState, Key]


def key_of(state: HouseholdState) -> Key:
    members = state.members
    head = None
    for m in members:
        if m.relation == Relation.HEAD:
            head = m
            break
    else:
        if members:
            head = members[0]
    # str() of a StrEnum member is its value as a plain str, in C (``.value`` is a
    # Python-level descriptor, and this runs once per event of a rebuild).
    return (
        str(state.status),
        state.division_code,
        str(state.attribute),
        str(state.main_cause),
        len(members),
        READMITTED if state.readmitted and state.status is Status.RETURNED
        else str(state.exit_pathway) if state.exit_pathway else None,
        head.name if head else None,
        head.id_number if head else None,
    )


def days_of(steps: Sequence[Step]) -> list[Day]:
    """The fold's days: several events on one day count as the day's last (as ``intervals`` does)."""
    days: list[Day] = []
    for step in steps:
        on = step.event.effective_date.isoformat()
        if days and days[-1][0] == on:
            days[-1] = (on, step.state, key_of(step.state))
        else:
            days.append((on, step.state, key_of(step.state)))
    return days


@dataclass(frozen=True, slots=True)
class Span:
    """A timeline interval: ``[valid_from, valid_to)`` with its Key and the Key before it."""

    valid_to: str
    key: Key
    prev: Key | None


def spans_of(days: Sequence[Day]) -> dict[str, Span]:
    """Merge consecutive days with the same Key into intervals, keyed by valid_from."""
    spans: dict[str, Span] = {}
    start: str | None = None
    current: Key | None = None
    prev: Key | None = None
    for on, _, key in days:
        if key != current:
            if start is not None:
                assert current is not None
                spans[start] = Span(on, current, prev)
            prev, start, current = current, on, key
    if start is not None:
        assert current is not None
        spans[start] = Span(OPEN_DATE, current, prev)
    return spans


@dataclass
class Fold:
    """What the projection knows of one household: its history, its days, its believed rows."""

    household_id: str
    history: list[RecordedEvent] = field(default_factory=list)
    days: list[Day] = field(default_factory=list)
    #: the effective date of the last step in valid-time order
    last_date: date | None = None
    #: believed card rows: valid_from -> (state, known_from)
    cards: dict[str, tuple[HouseholdState, int]] = field(default_factory=dict)
    #: believed timeline rows: valid_from -> (span, known_from)
    spans: dict[str, tuple[Span, int]] = field(default_factory=dict)
    #: the recording moment (µs) of the household's last event
    moment: int = 0
    #: re-uses the JSON of the members, measures and helpers its states share
    encoder: CardEncoder = field(default_factory=lambda: CardEncoder(8))
    #: listed in proj_reviews (its findings must be derived)
    reviewed: bool = False
    #: the ids of the card parts stored for it (proj_card_parts)
    parts: set[int] = field(default_factory=set)

    @property
    def version(self) -> int:
        return self.history[-1].version if self.history else 0

    def append(self, event: RecordedEvent) -> bool:
        """Add ``event`` and re-fold; True when it only extended the fold by one step."""
        self.history.append(event)
        if self.days and self.last_date is not None and event.type not in META_EVENTS and (
            event.body.effective_date >= self.last_date
        ):
            # It sorts last in effective_events (latest date, highest version): replay
            # would produce the same steps plus one transition from the last state.
            ev = EffectiveEvent(event, event.body)
            state = transition(self.days[-1][1], ev, self.household_id)
            on = event.body.effective_date.isoformat()
            day = (on, state, key_of(state))
            if self.days[-1][0] == on:
                self.days[-1] = day
            else:
                self.days.append(day)
            self.last_date = event.body.effective_date
            return True
        self.refold()
        return False

    def refold(self) -> None:
        steps = replay(effective_events(self.history), self.household_id)
        self.days = days_of(steps)
        self.last_date = steps[-1].event.effective_date if steps else None
