"""Property test: the bitemporal fold agrees with a naive reference written from docs/domain.md.

Hypothesis draws a random *legal* valid-time path for one household (a walk through the
state machine with random dates, ties included), records its events in a random order
(so most arrive late), sprinkles corrections and retractions among them, and records
each candidate through ``decide``: only what it accepts enters the history. Every
verdict of ``decide`` is checked against the reference (a structural refusal exactly
when the reference finds the path illegal). Then, for many ``(as_of, known_at)`` pairs,
``state_as_of`` and ``timeline`` must agree with the reference.

The reference below works on plain dicts and imports nothing of the package's fold,
history or state logic: it filters by ``recorded_at <= known_at``, applies retractions
and corrections in recording order, sorts by ``(effective_date, version)`` and walks a
small transition table.

The module is long (~670 lines) because the reference is written out in full here, beside the
property that trusts it, and shares nothing with the code under test; split across modules, a
reader would have to reassemble it to check it against docs/domain.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from domain.errors import DomainError, InvalidInput, RuleViolation
from domain.events import (
    AssistanceMeasureAssigned,
    AssistanceMeasureCompleted,
    AttributeChanged,
    EventBody,
    EventCorrected,
    EventRetracted,
    ExitConfirmed,
    ExitProposed,
    ExitWithdrawn,
    GuaranteesAssessed,
    HelperAssigned,
    HouseholdClosed,
    HouseholdTransferred,
    IdentificationApproved,
    IdentificationProposed,
    IdentificationRejected,
    IncomeAssessed,
    MembersChanged,
    MemberUpdated,
    RemovedAsIneligible,
    ReturnedToPoverty,
    Revisited,
)
from domain.fold import Step, decide, replay, state_as_of, timeline
from domain.history import RecordedEvent, effective_events
from domain.policy_data import statutory_book

from .builders import ALL_SECURE, at, exit_confirmed, guarantees, member, proposed, recorded, returned

HOUSEHOLD = "H-P"
VILLAGES = ("620422100201", "620422100202", "620422200301", "321202100201")
BOOK = statutory_book()

# ======================================================================================
# The naive reference (docs/domain.md only)
# ======================================================================================

ACTIVE = {"proposed", "poor", "exit_pending", "exited", "returned"}
KEEPS_STATUS_WHILE = {"poor", "returned", "exit_pending", "exited"}  # docs/domain.md: events marked "same"
SAME_EVENTS = {
    "AssistanceMeasureAssigned",
    "AssistanceMeasureCompleted",
    "HelperAssigned",
    "IncomeAssessed",
    "MembersChanged",
    "MemberUpdated",
    "GuaranteesAssessed",
    "AttributeChanged",
    "HouseholdTransferred",
}
#: (event type, status before) → status after, for the simple moves of docs/domain.md's table.
MOVES: dict[tuple[str, str], str] = {
    ("IdentificationApproved", "proposed"): "poor",
    ("IdentificationRejected", "proposed"): "rejected",
    ("ExitProposed", "poor"): "exit_pending",
    ("ExitProposed", "returned"): "exit_pending",
    ("ExitConfirmed", "exit_pending"): "exited",
    ("ReturnedToPoverty", "exited"): "returned",
}


class Illegal(Exception):
    """The reference finds the valid-time path illegal."""


@dataclass(frozen=True)
class Rec:
    """A recorded event as plain data."""

    event_id: str
    version: int
    recorded_at: datetime
    type: str
    data: dict[str, Any]


def as_rec(e: RecordedEvent) -> Rec:
    data = e.body.model_dump()
    return Rec(e.event_id, e.version, e.recorded_at, data.pop("type"), data)


def _field(name: str, value: Any) -> Any:
    if name == "effective_date" and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def ref_view(recs: Sequence[Rec], known_at: datetime | None) -> list[dict[str, Any]]:
    """The household's base events believed at ``known_at``, in valid-time order."""
    known = sorted((r for r in recs if known_at is None or r.recorded_at <= known_at), key=lambda r: r.version)
    cancelled = {r.data["target_event_id"] for r in known if r.type == "EventRetracted"}
    events: dict[str, dict[str, Any]] = {}
    for r in known:
        if r.type not in ("EventCorrected", "EventRetracted") and r.event_id not in cancelled:
            events[r.event_id] = {**r.data, "type": r.type, "id": r.event_id, "version": r.version}
    for r in known:
        if r.type == "EventCorrected" and r.event_id not in cancelled and r.data["target_event_id"] in events:
            for name, value in r.data["changes"].items():
                events[r.data["target_event_id"]][name] = _field(name, value)
    return sorted(events.values(), key=lambda e: (e["effective_date"], e["version"]))


@dataclass
class RefState:
    status: str
    division: str
    attribute: str
    members: dict[str, str]  # id number → relation
    measures: dict[str, bool]  # assignment event id → completed
    exit_from: str | None = None

    def snapshot(self) -> tuple[str, str, str, int]:
        return (self.status, self.division, str(self.attribute), len(self.members))


def ref_step(s: RefState | None, e: dict[str, Any]) -> RefState:
    kind = e["type"]
    if kind == "IdentificationProposed":
        if s is not None and s.status != "removed":
            raise Illegal("identified twice")
        return RefState(
            "proposed", e["division_code"], e["attribute"],
            {m["id_number"]: m["relation"] for m in e["members"]}, {},
        )
    if s is None:
        raise Illegal("first event must be an identification")
    if kind in SAME_EVENTS:
        if s.status not in KEEPS_STATUS_WHILE:
            raise Illegal(f"{kind} while {s.status}")
        if kind == "AssistanceMeasureAssigned":
            s.measures[e["id"]] = False
        elif kind == "AssistanceMeasureCompleted":
            if s.measures.get(e["measure_id"]) is not False:
                raise Illegal("measure not assigned, or already completed")
            s.measures[e["measure_id"]] = True
        elif kind == "MembersChanged":
            left = set(e["left"])
            if not left <= set(s.members) or any(m["id_number"] in s.members for m in e["joined"]):
                raise Illegal("unknown leaver or duplicate joiner")
            members = {k: v for k, v in s.members.items() if k not in left}
            members.update({m["id_number"]: m["relation"] for m in e["joined"]})
            if e.get("new_head") is not None:
                if e["new_head"] not in members:
                    raise Illegal("the new head is not a member")
                members[e["new_head"]] = "head"
            if not members or list(members.values()).count("head") != 1:
                raise Illegal("empty or not exactly one head")
            s.members = members
        elif kind == "MemberUpdated":
            if e["id_number"] not in s.members:
                raise Illegal("update of someone not a member")
        elif kind == "AttributeChanged":
            s.attribute = e["attribute"]
        elif kind == "HouseholdTransferred":
            if e["division_code"] == s.division:
                raise Illegal("transfer to the same division")
            s.division = e["division_code"]
        return s
    if kind == "ExitWithdrawn":
        if s.status != "exit_pending":
            raise Illegal("nothing to withdraw")
        s.status = s.exit_from or "poor"
        return s
    if kind == "Revisited":
        if s.status != "exited":
            raise Illegal("revisit of a non-exited household")
        if e["finding"] == "wrongly_exited":
            s.status = "returned"
        return s
    if kind == "RemovedAsIneligible":
        if s.status not in ACTIVE:
            raise Illegal("removal of an inactive household")
        s.status = "removed"
        return s
    if kind == "HouseholdClosed":
        if s.status == "closed":
            raise Illegal("closed twice")
        s.status = "closed"
        return s
    after = MOVES.get((kind, s.status))
    if after is None:
        raise Illegal(f"{kind} while {s.status}")
    if kind == "ExitProposed":
        s.exit_from = s.status
    s.status = after
    return s


def ref_walk(view: list[dict[str, Any]]) -> list[tuple[date, tuple[str, str, str, int]]]:
    """(effective date, snapshot after the event) per event; raises Illegal."""
    s: RefState | None = None
    out = []
    for e in view:
        s = ref_step(s, e)
        out.append((e["effective_date"], s.snapshot()))
    return out


def ref_state(recs: Sequence[Rec], as_of: date, known_at: datetime | None) -> tuple[str, str, str, int] | None:
    snap = None
    for on, after in ref_walk(ref_view(recs, known_at)):
        if on <= as_of:
            snap = after
    return snap


def ref_timeline(recs: Sequence[Rec], known_at: datetime | None) -> list[tuple[str, date, date | None]]:
    end_of_day: dict[date, str] = {}
    for on, after in ref_walk(ref_view(recs, known_at)):
        end_of_day[on] = after[0]
    out: list[tuple[str, date, date | None]] = []
    for on in sorted(end_of_day):
        if not out or out[-1][0] != end_of_day[on]:
            if out:
                out[-1] = (out[-1][0], out[-1][1], on)
            out.append((end_of_day[on], on, None))
    return out


def ref_is_future(rec: Rec) -> bool:
    today = rec.recorded_at.date()
    if rec.data["effective_date"] > today:
        return True
    changes = rec.data.get("changes") or {}
    return "effective_date" in changes and _field("effective_date", changes["effective_date"]) > today


def ref_is_legal(recs: Sequence[Rec]) -> bool:
    try:
        ref_walk(ref_view(recs, None))
    except Illegal:
        return False
    return True


# ======================================================================================
# Generation: a random legal walk, then random (late) recording with corrections
# ======================================================================================

START_MIN, START_MAX = date(2014, 1, 1), date(2018, 12, 31)
HORIZON = date(2023, 12, 31)

STRUCTURAL_RULES = {
    "illegal_transition", "not_identified", "already_identified", "unknown_measure",
    "measure_completed", "unknown_member", "duplicate_member", "empty_household", "one_head",
    "same_division",
}
POLICY_RULES = {
    "identification_notice_period", "exit_income_below_line", "exit_guarantees",
    "exit_acknowledgement", "exit_notice_period", "no_exit_in_year_of_entry", "income_above_line",
    "exit_income_outdated",
}


def one_in(data: st.DataObject, n: int) -> bool:
    """True about once in ``n`` draws (a middle value: Hypothesis favours the bounds)."""
    return bool(data.draw(st.integers(0, n - 1)) == n // 2)


@dataclass
class Walk:
    """The generator's own bookkeeping while it walks the state machine."""

    data: st.DataObject
    path: list[tuple[str, EventBody]] = field(default_factory=list)
    status: str | None = None
    division: str = VILLAGES[0]
    members: dict[str, str] = field(default_factory=dict)
    open_measures: list[str] = field(default_factory=list)
    proposed_on: date = START_MIN
    exit_proposed_on: date = START_MIN
    exit_from: str = "poor"
    entry_year: int = 0
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    people: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def draw(self, strategy: st.SearchStrategy[Any]) -> Any:
        return self.data.draw(strategy)

    def emit(self, body: EventBody) -> str:
        event_id = f"e{next(self.ids)}"
        self.path.append((event_id, body))
        return event_id

    def identify(self, on: date) -> None:
        relations = self.draw(st.lists(st.sampled_from(["spouse", "child", "parent"]), max_size=2))
        members = [member(next(self.people), "head", "户主")]
        members += [member(next(self.people), rel, "成员") for rel in relations]
        self.division = self.draw(st.sampled_from(VILLAGES))
        self.emit(IdentificationProposed(
            effective_date=on, division_code=self.division,
            attribute=self.draw(st.sampled_from(["general", "dibao", "tekun"])),
            main_cause="illness", income_per_capita=self.draw(st.integers(500, 2700)),
            income_year=on.year - 1, guarantees=guarantees(housing=False), members=members,
        ))
        self.status, self.proposed_on, self.open_measures = "proposed", on, []
        self.members = {m.id_number: m.relation for m in members}

    def options(self, allow_terminal: bool) -> list[str]:
        # Weighted so that walks tend to run long: terminal moves are rare, and kept away
        # from the ends of each list (Hypothesis favours a list's first and last items).
        by_status = {
            "proposed": ["approve"] * 4 + ["reject", "remove", "close"] + ["approve"] * 4,
            "poor": ["exit"] * 3 + ["remove", "close"] + ["exit"] * 3,
            "returned": ["exit"] * 2 + ["remove", "close"] + ["exit"] * 2,
            "exit_pending": ["confirm"] * 3 + ["withdraw", "remove", "close", "withdraw"] + ["confirm"] * 2,
            "exited": ["return", "revisit", "return", "remove", "close", "revisit", "return", "revisit"],
            "removed": ["reidentify", "close", "reidentify", "reidentify"],
            "rejected": ["close"],
        }
        options = list(by_status[self.status or "closed"])
        if self.status == "exit_pending" and self.exit_from == "returned":
            options[1:1] = ["withdraw"] * 4  # withdrawals back to "returned" are otherwise rare
        if not allow_terminal and self.status != "rejected":
            options = [o for o in options if o not in ("reject", "remove", "close")]
        if self.status in KEEPS_STATUS_WHILE:
            maintenance = ["income", "helper", "measure", "join", "transfer", "update", "guarantees",
                           "attribute"]
            if self.open_measures:
                maintenance.append("complete")
            if any(rel != "head" for rel in self.members.values()):
                maintenance += ["leave", "new_head"]
            options = [options[0], *maintenance, *options[1:]]
        return options

    def step(self, d: date, allow_terminal: bool) -> date:
        """Emit the events of one random move on or after ``d``; return the date reached."""
        action = self.draw(st.sampled_from(self.options(allow_terminal)))
        if action == "approve":
            d = max(d, self.proposed_on + timedelta(days=7))
            self.emit(IdentificationApproved(effective_date=d))
            self.status, self.entry_year = "poor", d.year
        elif action == "reject":
            self.emit(IdentificationRejected(effective_date=d, reason="异议成立"))
            self.status = "rejected"
        elif action == "remove":
            self.emit(RemovedAsIneligible(effective_date=d, reason="错评"))
            self.status = "removed"
        elif action == "close":
            self.emit(HouseholdClosed(effective_date=d, reason="销户"))
            self.status = "closed"
        elif action == "reidentify":
            self.identify(d)
        elif action == "exit":
            self.emit(IncomeAssessed(effective_date=d, year=d.year,
                                     income_per_capita=self.draw(st.integers(4500, 9000))))
            self.emit(ExitProposed(effective_date=d, pathway="industry", guarantees=ALL_SECURE))
            self.exit_from, self.status, self.exit_proposed_on = self.status or "poor", "exit_pending", d
        elif action == "confirm":
            d = max(d, self.exit_proposed_on + timedelta(days=7), date(self.entry_year + 1, 1, 1))
            self.emit(ExitConfirmed(effective_date=d, household_acknowledged=True))
            self.status = "exited"
        elif action == "withdraw":
            self.emit(ExitWithdrawn(effective_date=d, reason="有异议"))
            self.status = self.exit_from
        elif action == "return":
            self.emit(ReturnedToPoverty(effective_date=d, cause="illness"))
            self.status, self.entry_year = "returned", d.year
        elif action == "revisit":
            finding = self.draw(st.sampled_from(["stable", "at_risk", "wrongly_exited"]))
            self.emit(Revisited(effective_date=d, finding=finding))
            if finding == "wrongly_exited":
                self.status, self.entry_year = "returned", d.year
        elif action == "income":
            self.emit(IncomeAssessed(effective_date=d, year=d.year,
                                     income_per_capita=self.draw(st.integers(500, 9000))))
        elif action == "helper":
            self.emit(HelperAssigned(effective_date=d, helper_name="帮扶人"))
        elif action == "measure":
            self.open_measures.append(self.emit(AssistanceMeasureAssigned(effective_date=d, category="industry")))
        elif action == "complete":
            measure_id = self.draw(st.sampled_from(self.open_measures))
            self.open_measures.remove(measure_id)
            self.emit(AssistanceMeasureCompleted(effective_date=d, measure_id=measure_id))
        elif action == "join":
            newcomer = member(next(self.people), "child", "新成员")
            self.members[newcomer.id_number] = "child"
            self.emit(MembersChanged(effective_date=d, joined=[newcomer]))
        elif action == "leave":
            leaver = self.draw(st.sampled_from(sorted(k for k, v in self.members.items() if v != "head")))
            del self.members[leaver]
            self.emit(MembersChanged(effective_date=d, left=[leaver]))
        elif action == "update":
            who = self.draw(st.sampled_from(sorted(self.members)))
            self.emit(MemberUpdated(effective_date=d, id_number=who,
                                    labour=self.draw(st.sampled_from(["full", "weak", "none"]))))
        elif action == "guarantees":
            self.emit(GuaranteesAssessed(effective_date=d, guarantees=guarantees(water=self.draw(st.booleans()))))
        elif action == "attribute":
            self.emit(AttributeChanged(effective_date=d,
                                       attribute=self.draw(st.sampled_from(["general", "dibao", "tekun"]))))
        elif action == "new_head":
            head = next(k for k, v in self.members.items() if v == "head")
            heir = self.draw(st.sampled_from(sorted(k for k, v in self.members.items() if v != "head")))
            del self.members[head]
            self.members[heir] = "head"
            self.emit(MembersChanged(effective_date=d, left=[head], new_head=heir))
        elif action == "transfer":
            self.division = self.draw(st.sampled_from([v for v in VILLAGES if v != self.division]))
            self.emit(HouseholdTransferred(effective_date=d, division_code=self.division))
        return d


def draw_path(data: st.DataObject) -> list[tuple[str, EventBody]]:
    walk = Walk(data)
    d = walk.draw(st.dates(START_MIN, START_MAX))
    walk.identify(d)
    for n in range(walk.draw(st.integers(4, 24))):
        d += timedelta(days=walk.draw(st.integers(0, 100)))
        if d > HORIZON or walk.status == "closed":
            break
        d = walk.step(d, allow_terminal=n >= 3)  # terminal moves only after a few others
    return walk.path


class Recorder:
    """Records candidates through ``decide`` and checks each verdict against the reference."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data
        self.history: list[RecordedEvent] = []
        self.recs: list[Rec] = []
        self.meta_ids = itertools.count(1)
        self.verdicts = {"accepted": 0, "structural": 0, "policy": 0, "future": 0}

    def next_moment(self, effective: date) -> datetime:
        earliest = datetime.combine(effective, time(8), tzinfo=UTC)
        earliest += timedelta(days=self.data.draw(st.integers(0, 60)))
        if self.history:
            last = self.history[-1].recorded_at
            earliest = max(earliest, last + timedelta(minutes=self.data.draw(st.integers(1, 5000))))
        return earliest

    def attempt(self, event_id: str, body: EventBody, moment: datetime) -> bool:
        candidate = recorded(body, len(self.history) + 1, moment, HOUSEHOLD, event_id)
        cand = as_rec(candidate)
        future = ref_is_future(cand)
        legal = ref_is_legal([*self.recs, cand])
        self.check_refold_agrees(candidate, moment.date())
        try:
            decide(self.history, candidate, BOOK, moment.date())
        except InvalidInput as exc:
            assert exc.rule == "future_effective_date", exc.detail
            assert future, f"decide says future, reference does not: {exc.detail}"
            self.verdicts["future"] += 1
            return False
        except RuleViolation as exc:
            assert not future, "a future date must be refused as invalid input first"
            if exc.rule in STRUCTURAL_RULES:
                assert not legal, f"decide refused a path the reference finds legal: {exc.detail}"
                self.verdicts["structural"] += 1
            else:
                assert exc.rule in POLICY_RULES, f"unexpected rule {exc.rule}: {exc.detail}"
                assert legal, f"a policy refusal comes only after the path is legal: {exc.detail}"
                self.verdicts["policy"] += 1
            return False
        assert not future, "decide accepted a future effective date"
        assert legal, f"decide accepted {body.type} but the reference finds the path illegal"
        self.history.append(candidate)
        self.recs.append(cand)
        self.verdicts["accepted"] += 1
        return True

    def check_refold_agrees(self, candidate: RecordedEvent, today: date) -> None:
        """``decide`` given the history's fold (re-folding from where the event lands)
        answers exactly as ``decide`` folding the whole history again."""
        def outcome(steps: list[Step] | None) -> object:
            try:
                return [(s.event.event_id, s.event.body, s.state)
                        for s in decide(self.history, candidate, BOOK, today, steps)]
            except DomainError as exc:
                return type(exc), exc.rule, exc.detail, exc.context

        fold = replay(effective_events(self.history), HOUSEHOLD) if self.history else None
        assert outcome(fold) == outcome(None)

    def base(self, event_id: str, body: EventBody) -> bool:
        return self.attempt(event_id, body, self.next_moment(body.effective_date))

    def meta(self) -> None:
        """A random correction or retraction of something currently in effect."""
        if not self.history:
            return
        moment = self.next_moment(self.history[-1].recorded_at.date())
        today = moment.date()
        view = ref_view(self.recs, None)
        cancelled = {r.data["target_event_id"] for r in self.recs if r.type == "EventRetracted"}
        live_corrections = [r.event_id for r in self.recs if r.type == "EventCorrected" and r.event_id not in cancelled]
        event_id = f"m{next(self.meta_ids)}"
        if one_in(self.data, 4):
            # Retracting the identification empties the household; do it only now and then.
            spare_identification = one_in(self.data, 10)
            targets = [e["id"] for e in view if spare_identification or e["type"] != "IdentificationProposed"]
            targets += live_corrections
            if not targets:
                return
            target = self.data.draw(st.sampled_from(targets))
            self.attempt(event_id, EventRetracted(effective_date=today, target_event_id=target, reason="撤销"), moment)
            return
        if not view:
            return
        target = self.data.draw(st.sampled_from(view))
        kinds = ["effective_date"]
        if target["type"] in ("IncomeAssessed", "IdentificationProposed"):
            kinds.append("income_per_capita")
        if target["type"] in ("HouseholdTransferred", "IdentificationProposed"):
            kinds.append("division_code")
        if target["type"] == "IdentificationProposed":
            kinds.append("attribute")
        if target["type"] == "Revisited":
            kinds.append("finding")
        kind = self.data.draw(st.sampled_from(kinds))
        if kind == "effective_date":
            shifted = target["effective_date"] + timedelta(days=self.data.draw(st.integers(-90, 90)))
            value: Any = shifted.isoformat()
        elif kind == "income_per_capita":
            value = self.data.draw(st.integers(0, 9000))
        elif kind == "division_code":
            value = self.data.draw(st.sampled_from(VILLAGES))
        elif kind == "attribute":
            value = self.data.draw(st.sampled_from(["general", "dibao", "tekun"]))
        else:
            value = self.data.draw(st.sampled_from(["stable", "at_risk", "wrongly_exited"]))
        body = EventCorrected(effective_date=today, target_event_id=target["id"], changes={kind: value}, reason="更正")
        self.attempt(event_id, body, moment)


def build_history(data: st.DataObject) -> Recorder:
    path = draw_path(data)
    # Recording order: valid-time order with each event delayed by a random number of
    # places, a few of them by a lot (late recordings). A fully random permutation
    # mostly records an event that blocks others (a second exit proposal before the
    # first), so the histories would stay short.
    late_one_in = data.draw(st.sampled_from([3, 6, 12, 0]))  # 0: nothing very late
    delays = [
        data.draw(st.integers(0, len(path)))
        if late_one_in and one_in(data, late_one_in)
        else data.draw(st.integers(0, 2))
        for _ in path
    ]
    order = [p for _, p in sorted(enumerate(path), key=lambda ip: ip[0] + delays[ip[0]])]
    rec = Recorder(data)
    pending = list(order)
    while pending:  # events refused for want of others are retried after them
        retry = []
        for event_id, body in pending:
            if one_in(data, 5):
                rec.meta()
            if not rec.base(event_id, body):
                retry.append((event_id, body))
        if len(retry) == len(pending):
            break
        pending = retry
    for _ in range(data.draw(st.integers(0, 3))):
        rec.meta()
    return rec


# ======================================================================================
# The property
# ======================================================================================


Snapshot = tuple[str, str, str, int]  # status, division, attribute, persons


def pkg_state(history: Sequence[RecordedEvent], as_of: date, known_at: datetime | None) -> Snapshot | None:
    s = state_as_of(history, as_of, known_at)
    return None if s is None else (s.status.value, s.division_code, str(s.attribute), s.persons)


def pkg_timeline(history: Sequence[RecordedEvent], known_at: datetime | None) -> list[tuple[str, date, date | None]]:
    return [(i.status.value, i.start, i.end) for i in timeline(history, known_at)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_fold_agrees_with_the_naive_reference(data: st.DataObject) -> None:
    rec = build_history(data)
    history, recs = rec.history, rec.recs
    assert history, "the identification is accepted whenever it is tried first"
    assert [e.version for e in history] == list(range(1, len(history) + 1))
    assert all(a.recorded_at < b.recorded_at for a, b in itertools.pairwise(history))
    kinds = {r.type for r in recs}
    event(f"recorded events: {len(history) // 5 * 5}+")
    event(f"statuses in timeline: {len(ref_timeline(recs, None))}")
    for name in ("EventCorrected", "EventRetracted", "ExitConfirmed", "IdentificationProposed"):
        if name in kinds:
            event(f"has {name}")
    if any(v > 0 for k, v in rec.verdicts.items() if k != "accepted"):
        event("some candidate refused: " + ", ".join(k for k, v in rec.verdicts.items() if v and k != "accepted"))
    view = ref_view(recs, None)
    walked = ref_walk(view)
    if any(e["type"] == "ExitWithdrawn" and after[0] == "returned" for e, (_, after) in zip(view, walked, strict=True)):
        event("has an exit withdrawn back to returned")
    if any(r.version > 1 and r.recorded_at.date() > r.data["effective_date"] + timedelta(days=60) for r in recs):
        event("has a late recording (> 60 days)")

    # Every transaction-time prefix, and "now": the timeline and each day's state.
    moments: list[datetime | None] = [None, *(e.recorded_at for e in history)]
    moments += [e.recorded_at - timedelta(microseconds=1) for e in history[:3]]
    for known_at in moments:
        assert pkg_timeline(history, known_at) == ref_timeline(recs, known_at), known_at
    dates = sorted({e["effective_date"] for e in view})
    for on in dates:
        for as_of in (on - timedelta(days=1), on):
            assert pkg_state(history, as_of, None) == ref_state(recs, as_of, None), as_of

    # Random (as_of, known_at) pairs.
    first = min(e.body.effective_date for e in history)
    last_moment = history[-1].recorded_at
    for _ in range(8):
        as_of = data.draw(st.dates(first - timedelta(days=30), last_moment.date() + timedelta(days=30)))
        known_at = data.draw(
            st.one_of(
                st.none(),
                st.sampled_from([e.recorded_at for e in history]),
                st.datetimes(
                    history[0].recorded_at.replace(tzinfo=None) - timedelta(days=2),
                    last_moment.replace(tzinfo=None) + timedelta(days=2),
                    timezones=st.just(UTC),
                ),
            )
        )
        assert pkg_state(history, as_of, known_at) == ref_state(recs, as_of, known_at), (as_of, known_at)


# --- the reference itself must be able to fail ---------------------------------------------


def test_reference_refuses_what_domain_md_forbids() -> None:
    p = as_rec(recorded(proposed("2014-05-02"), 1, at("2014-05-02"), HOUSEHOLD, "a"))
    ec = as_rec(recorded(exit_confirmed("2014-06-01"), 2, at("2014-06-01"), HOUSEHOLD, "b"))
    ret = as_rec(recorded(returned("2014-06-01"), 2, at("2014-06-01"), HOUSEHOLD, "b"))
    assert ref_is_legal([p])
    assert not ref_is_legal([p, ec])
    assert not ref_is_legal([p, ret])
    assert not ref_is_legal([ec])
    assert ref_state([p], date(2014, 5, 1), None) is None
    assert ref_state([p], date(2014, 5, 2), None) == ("proposed", VILLAGES[0], "general", 2)
    assert ref_timeline([p], None) == [("proposed", date(2014, 5, 2), None)]
