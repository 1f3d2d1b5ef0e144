"""The stream a simulation produces: divisions, then recordings — ``(recording moment,
Command)`` in recording order — and its JSON Lines form (what ``povreg simulate --out``
writes and ``povreg import`` reads).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

from domain.history import Actor
from simulation.constants import LATE_DAYS, META, local_day

if TYPE_CHECKING:
    from domain.commands import Command


from simulation.constants import _EPOCH


@dataclass(frozen=True)
class DivisionSpec:
    code: str
    name: str
    rural_population: int
    effective_date: date


class Recording:
    """One item of the stream: ``at`` (the intended recording moment) and ``command``.

    Unpacks as ``(at, command)``. ``key`` names this event for later events that
    refer to it; ``refs`` maps a payload field to the key of the event it refers to.
    """

    __slots__ = ("at", "command", "key", "refs")

    def __init__(self, at: datetime, command: Command, key: str | None = None,
                 refs: dict[str, str] | None = None) -> None:
        self.at = at
        self.command = command
        self.key = key
        self.refs = refs

    def __iter__(self) -> Iterator[Any]:
        return iter((self.at, self.command))

    def __repr__(self) -> str:
        return f"Recording({self.at.isoformat()}, {self.command.household_id}, {self.command.payload['type']})"

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "at": self.at.isoformat(timespec="microseconds"),
            "household_id": self.command.household_id,
            "actor": self.command.actor.as_dict(),
            "event": self.command.payload,
        }
        if self.key:
            data["key"] = self.key
        if self.refs:
            data["refs"] = self.refs
        return data


def tally(recordings: Iterable[Recording], stats: Counter[str]) -> Iterator[Recording]:
    """Pass ``recordings`` through, counting into ``stats``: events, each kind, late
    recordings (``late``: recorded ≥ LATE_DAYS local days after the effective date,
    corrections and retractions aside), and exits by year in households and in persons
    (the household's size when its exit is recorded)."""
    size: dict[str | None, int] = {}
    for rec in recordings:
        payload = rec.command.payload
        kind = payload["type"]
        stats["events"] += 1
        stats[kind] += 1
        effective = date.fromisoformat(payload["effective_date"])
        if kind not in META and local_day(_to_us(rec.at)) - effective.toordinal() >= LATE_DAYS:
            stats["late"] += 1
        hid = rec.command.household_id
        if kind == "IdentificationProposed":
            size[hid] = len(payload["members"])
        elif kind == "MembersChanged":
            size[hid] = size.get(hid, 0) + len(payload.get("joined", ())) - len(payload.get("left", ()))
        elif kind == "ExitConfirmed":
            stats[f"exit_households:{effective.year}"] += 1
            stats[f"exit_persons:{effective.year}"] += size.get(hid, 0)
        yield rec


def _to_us(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)




def write_jsonl(out: IO[str], divisions: Sequence[DivisionSpec], recordings: Iterable[Recording],
                on_item: Callable[[Recording], None] | None = None) -> int:
    """Write the divisions and the stream as JSON Lines; returns the number of events."""
    for spec in divisions:
        out.write(json.dumps({"division": {"code": spec.code, "name": spec.name,
                                           "rural_population": spec.rural_population,
                                           "effective_date": spec.effective_date.isoformat()}},
                             ensure_ascii=False) + "\n")
    count = 0
    for rec in recordings:
        out.write(json.dumps(rec.as_json(), ensure_ascii=False) + "\n")
        count += 1
        if on_item:
            on_item(rec)
    return count


def read_jsonl(lines: Iterable[str]) -> tuple[list[DivisionSpec], Iterator[Recording]]:
    """Read what :func:`write_jsonl` wrote: divisions first, then the stream (lazily)."""
    from domain.commands import Command

    it = iter(lines)
    divisions: list[DivisionSpec] = []
    first: dict[str, Any] | None = None
    for line in it:
        if not line.strip():
            continue
        obj = json.loads(line)
        if "division" in obj:
            d = obj["division"]
            divisions.append(DivisionSpec(d["code"], d["name"], d["rural_population"],
                                          date.fromisoformat(d["effective_date"])))
            continue
        first = obj
        break

    def recordings() -> Iterator[Recording]:
        def item(obj: dict[str, Any]) -> Recording:
            return Recording(datetime.fromisoformat(obj["at"]),
                             Command(obj["event"], Actor.from_dict(obj["actor"]), obj["household_id"]),
                             obj.get("key"), obj.get("refs"))

        if first is not None:
            yield item(first)
        for line in it:
            if line.strip():
                yield item(json.loads(line))

    return divisions, recordings()
