"""Loading a stream into the registry: batches through the bulk writer, the registry's clock
at each batch's simulated moment, references (``@key``) resolved from earlier receipts.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from domain.errors import DomainError

if TYPE_CHECKING:
    from service.registry import Registry


from simulation.stream import DivisionSpec, Recording


class SimClock:
    """The registry's clock while loading: the loader sets it before each batch."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2014, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class LoadReport:
    divisions: int = 0
    submitted: int = 0
    recorded: int = 0
    refused: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)
    batches: int = 0
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.recorded / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "divisions": self.divisions,
            "submitted": self.submitted,
            "recorded": self.recorded,
            "refused": self.refused,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
            "refusals": dict(self.refusals),
            "examples": self.examples,
        }


_CST = timedelta(hours=8)
_UTC_OFFSET = timedelta(0)


def _local_date(at: datetime) -> date:
    return (at + _CST).date() if at.utcoffset() == _UTC_OFFSET else (at.astimezone(UTC) + _CST).date()


def put_divisions(registry: Registry, clock: SimClock, divisions: Sequence[DivisionSpec]) -> int:
    clock.now = datetime(2014, 1, 1, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai
    for spec in divisions:
        registry.put_division(spec.code, spec.name, spec.rural_population, spec.effective_date)
    return len(divisions)


def load(
    registry: Registry,
    recordings: Iterable[Recording],
    clock: SimClock,
    *,
    divisions: Sequence[DivisionSpec] = (),
    batch_size: int = 1000,
    window_days: int = 1,
    on_batch: Callable[[LoadReport, datetime], None] | None = None,
) -> LoadReport:
    """Record ``recordings`` through ``registry.record_many``, in batches of at most
    ``batch_size`` commands from at most ``window_days`` simulated days (default: one
    batch per day), with ``clock`` — the registry's clock — set before each batch: to
    the batch's first recording moment, or for a batch spanning several days to its
    last (so that no effective date is in the batch's future). References
    (``@key``) are resolved from the receipts of earlier batches.
    """
    report = LoadReport()
    started = time.perf_counter()
    if divisions:
        report.divisions = put_divisions(registry, clock, divisions)
    # The registry's cache and the stream hold millions of long-lived objects; the
    # cyclic collector would rescan them all at every full collection (a third of
    # the time). Freezing moves what survived into the permanent generation, which
    # collections skip; garbage among it is still freed by reference counting.
    # Most of what a batch allocates lives on in the cache, so young collections
    # mostly find survivors to promote: rarer ones (every 50,000 allocations
    # rather than 700) took the collector from ~15 % of a load's CPU to ~1 %.
    frozen = gc.isenabled()
    thresholds = gc.get_threshold()
    if frozen:
        gc.set_threshold(max(thresholds[0], 50_000), *thresholds[1:])
    ids: dict[str, str] = {}
    pending: list[Recording] = []
    pending_keys: set[str] = set()
    pending_day = -(10**9)

    def flush() -> None:
        if not pending:
            return
        first, last = pending[0].at, pending[-1].at
        clock.now = first if _local_date(first) == _local_date(last) else last
        commands = []
        for rec in pending:
            command = rec.command
            if rec.refs:
                payload = dict(command.payload)
                for name, key in rec.refs.items():
                    payload[name] = ids.get(key, payload[name])
                command = replace(command, payload=payload)
            commands.append(command)
        results = writer.record_many(commands)
        for rec, result in zip(pending, results, strict=True):
            if isinstance(result, DomainError):
                report.refused += 1
                report.refusals[result.rule] += 1
                if len(report.examples) < 20:
                    report.examples.append({"household_id": rec.command.household_id,
                                            "type": rec.command.payload["type"], "at": rec.at.isoformat(),
                                            "rule": result.rule, "detail": result.detail})
            else:
                report.recorded += 1
                if rec.key:
                    ids[rec.key] = result.event_id
        report.submitted += len(pending)
        report.batches += 1
        if frozen:
            gc.freeze()
        last = pending[-1].at
        pending.clear()
        pending_keys.clear()
        report.seconds = time.perf_counter() - started
        if on_batch:
            on_batch(report, last)

    # Each batch is checked while the previous one is written (Registry.bulk_writer).
    writer = registry.bulk_writer()
    try:
        for rec in recordings:
            day = _local_date(rec.at).toordinal()
            needs_flush = day >= pending_day + window_days or len(pending) >= batch_size
            if rec.refs and not needs_flush:
                needs_flush = any(key in pending_keys for key in rec.refs.values())
            if needs_flush:
                flush()
                pending_day = day
            pending.append(rec)
            if rec.key:
                pending_keys.add(rec.key)
        flush()
    finally:
        writer.close()
        if frozen:
            gc.unfreeze()
            gc.set_threshold(*thresholds)
    report.seconds = time.perf_counter() - started
    return report
