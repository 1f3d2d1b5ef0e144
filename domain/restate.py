"""Restatements: what a recording changed in the answers about days already past.

A recording — a late decision, a correction, a retraction — can change the status a
household had on dates before the day it was recorded: a report or a subscriber's "as of"
view of those days is then out of date. :func:`restatements` compares the household's
status timeline as known just before the recording with the one just after it, and returns
each maximal valid-time range, before the recording's day, whose status changed: one
restatement per change, in valid-time order. :func:`finding_restatements` does the same for the
findings a recording opens, withdraws or resolves on days already past. What an event changes from its recording day
on is news, not a restatement, and reaches subscribers as the event itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from domain.findings import Ledger, ledger
from domain.fold import Interval, Step, intervals, replay
from domain.history import RecordedEvent, effective_events
from domain.policy import PolicyBook
from domain.vocab import Status


@dataclass(frozen=True)
class Restatement:
    household_id: str
    #: The household's village on ``valid_from`` as now known (before the change if it left the register).
    division_code: str
    valid_from: date
    #: Exclusive; at most the recording's day.
    valid_to: date
    status_before: Status | None
    status_after: Status | None
    event_id: str
    event_type: str
    recorded_at: datetime
    #: for a finding's change over the range (the status then unchanged): its id, rule and what
    #: happened to it — ``opened``, ``withdrawn`` (the record no longer shows it), ``resolved``
    finding: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "household_id": self.household_id,
            "division_code": self.division_code,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat(),
            "status_before": self.status_before.value if self.status_before else None,
            "status_after": self.status_after.value if self.status_after else None,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "recorded_at": self.recorded_at.isoformat(timespec="microseconds"),
            "finding": self.finding,
        }


def _status_on(spans: Sequence[Interval], day: date) -> Status | None:
    for span in spans:
        if span.start <= day and (span.end is None or day < span.end):
            return span.status
    return None


def _division_on(steps: Sequence[Step], day: date) -> str | None:
    code = None
    for step in steps:
        if step.event.effective_date > day:
            break
        code = step.state.division_code
    return code


def restatements(history: Sequence[RecordedEvent], event: RecordedEvent, tz: tzinfo) -> list[Restatement]:
    """The restatements ``event`` causes: ``history`` holds the household's events recorded before
    it (others are ignored); the recording's day is its ``recorded_at`` in ``tz``."""
    earlier = [e for e in history if e.version < event.version]
    hid = event.household_id
    return status_restated(replay(effective_events(earlier), hid), replay(effective_events([*earlier, event]), hid),
                           event, tz)


def status_restated(before_steps: Sequence[Step], after_steps: Sequence[Step], event: RecordedEvent,
                    tz: tzinfo) -> list[Restatement]:
    """:func:`restatements` of ``event`` from the household's replays just before and just after it (a
    reader that keeps each household's replay as it goes)."""
    hid = event.household_id
    before, after = intervals(before_steps), intervals(after_steps)
    cutoff = event.recorded_at.astimezone(tz).date()
    cuts = sorted({d for span in (*before, *after) for d in (span.start, span.end) if d is not None and d < cutoff})
    out: list[Restatement] = []
    for i, start in enumerate(cuts):
        end = cuts[i + 1] if i + 1 < len(cuts) else cutoff
        was, now = _status_on(before, start), _status_on(after, start)
        if was == now:
            continue
        if out and out[-1].valid_to == start and (out[-1].status_before, out[-1].status_after) == (was, now):
            last = out.pop()
            out.append(Restatement(**{**last.__dict__, "valid_to": end}))
            continue
        division = _division_on(after_steps, start) or _division_on(before_steps, start) or ""
        out.append(Restatement(hid, division, start, end, was, now, event.event_id, event.body.type,
                               event.recorded_at))
    return out


def finding_restatements(history: Sequence[RecordedEvent], event: RecordedEvent, policies: PolicyBook,
                         tz: tzinfo) -> list[Restatement]:
    """What ``event`` changed in the findings of days already past: for each finding it opens,
    withdraws or resolves, the days from its decision's date to the recording's day, one
    restatement per status interval (the status itself unchanged)."""
    earlier = [e for e in history if e.version < event.version]
    steps = replay(effective_events([*earlier, event]), event.household_id)
    return findings_restated(ledger(earlier, policies), ledger([*earlier, event], policies), steps, event, tz)


def findings_restated(before: Ledger, after: Ledger, steps: Sequence[Step], event: RecordedEvent,
                      tz: tzinfo) -> list[Restatement]:
    """:func:`finding_restatements` of ``event`` from the household's ledgers just before and just after
    it and its replay just after it (a reader that keeps each household's ledger and replay as it goes)."""
    cutoff = event.recorded_at.astimezone(tz).date()
    spans = intervals(steps)
    out: list[Restatement] = []
    for fid in sorted(set(before) | set(after)):
        was, now = before.get(fid), after.get(fid)
        if now is not None and was is None:
            change = "opened"
        elif was is not None and (now is None or (now.withdrawn and not was.withdrawn)):
            change = "withdrawn"
        elif was is not None and now is not None and now.resolved_by != was.resolved_by:
            change = "resolved" if now.resolved_by else "reopened"
        else:
            continue
        finding = now or was
        assert finding is not None
        for span in spans:
            start = max(span.start, finding.decision_on)
            end = min(span.end or cutoff, cutoff)
            if start >= end:
                continue
            out.append(Restatement(event.household_id, _division_on(steps, start) or "", start, end, span.status,
                                   span.status, event.event_id, event.body.type, event.recorded_at,
                                   {"finding_id": fid, "rule": finding.rule, "change": change}))
    return out


__all__ = ["Restatement", "finding_restatements", "findings_restated", "restatements", "status_restated"]
