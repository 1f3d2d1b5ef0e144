"""Work lists and progress of a division, from the read model, as of D and known at K.

* :func:`revisits_due`: exited households due for 回头看 by D (``revisit_interval_days``
  of the policy in force for each household's division on D).
* :func:`without_helper`: poor households (poor, returned, exit_pending) with no
  responsible helper on D (定责任人).
* :func:`progress_report`: the division's own yearly targets (policy data) beside the
  exits and incidence its rosters show for each year up to D.

The lists read each household's card: meant for a village, a township or a county's
office, page by page of the roster beneath them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, Protocol

from domain.policy import PolicyBook, targets_for
from domain.progress import YearActual, needs_helper, progress, revisit_due_on
from domain.vocab import label_zh


class _Model(Protocol):
    def roster(self, division_prefix: str, as_of: date, known_at: datetime | None, status: str | None = None,
               page: int = 1, page_size: int = 50) -> dict[str, Any]: ...

    def card(self, household_id: str, as_of: date, known_at: datetime | None) -> dict[str, Any] | None: ...

    def adjustments(self, division_prefix: str, start: date, end: date,
                    known_at: datetime | None) -> dict[str, Any]: ...

    def incidence(self, division_prefix: str, as_of: date, known_at: datetime | None) -> dict[str, Any]: ...

    def village_codes(self, division_prefix: str) -> list[str]: ...


class _Decisions(Protocol):
    def division_decisions(self, code: str) -> list[Any]: ...


def _rows(
    model: _Model, division: str, as_of: date, known_at: datetime | None, status: str
) -> Iterator[dict[str, Any]]:
    page = 1
    while True:
        found = model.roster(division, as_of, known_at, status=status, page=page, page_size=1000)
        yield from found["rows"]
        if page >= found["pages"]:
            return
        page += 1


def _row(card: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "household_id": card["household_id"],
        "status": card["status"],
        "status_label": label_zh("status", card["status"]),
        "division_code": card["division_code"],
        "attribute": card["attribute"],
        "attribute_label": label_zh("attribute", card["attribute"]),
        "persons": card["persons"],
        **extra,
    }


def revisits_due(
    model: _Model, book: PolicyBook, division: str, as_of: date, known_at: datetime | None
) -> dict[str, Any]:
    """Exited households whose next 回头看 falls on or before ``as_of``, the most overdue first."""
    book = book.known_at(known_at)
    rows = []
    for row in _rows(model, division, as_of, known_at, "exited"):
        card = model.card(row["household_id"], as_of, known_at)
        if card is None or not card.get("exited_on"):
            continue
        try:
            interval = book.resolve(card["division_code"], as_of).revisit_interval_days
        except LookupError as exc:
            raise ValueError(str(exc)) from None
        last = date.fromisoformat(card["last_revisited_on"]) if card.get("last_revisited_on") else None
        due = revisit_due_on(date.fromisoformat(card["exited_on"]), last, interval)
        if due <= as_of:
            rows.append(_row(card, exited_on=card["exited_on"], last_revisited_on=card.get("last_revisited_on"),
                             interval_days=interval, due_on=due.isoformat(), overdue_days=(as_of - due).days,
                             at_risk=card.get("at_risk", False)))
    rows.sort(key=lambda r: (r["due_on"], r["household_id"]))
    return {"division_code": division, "as_of": as_of.isoformat(),
            "known_at": known_at.isoformat(timespec="microseconds") if known_at else None,
            "total": len(rows), "rows": rows}


def without_helper(model: _Model, division: str, as_of: date, known_at: datetime | None) -> dict[str, Any]:
    """Poor households with no responsible helper on ``as_of`` (定责任人)."""
    rows = []
    for status in ("poor", "returned", "exit_pending"):
        for row in _rows(model, division, as_of, known_at, status):
            card = model.card(row["household_id"], as_of, known_at)
            if card is not None and needs_helper(card):
                rows.append(_row(card, since=row.get("since")))
    rows.sort(key=lambda r: r["household_id"])
    return {"division_code": division, "as_of": as_of.isoformat(),
            "known_at": known_at.isoformat(timespec="microseconds") if known_at else None,
            "total": len(rows), "rows": rows}


def progress_report(
    model: _Model, book: PolicyBook, division: str, as_of: date, known_at: datetime | None,
    decisions: _Decisions | None = None,
) -> dict[str, Any]:
    """The division's yearly targets beside its rosters, each year up to ``as_of``; villages
    出列 counted from the recorded decisions (``decisions``: the registry) as known at K."""
    book = book.known_at(known_at)
    targets, source = targets_for(book, division, as_of)
    exited_villages: list[date] = []
    if decisions is not None and any(t.villages_exited is not None for t in targets):
        for code in model.village_codes(division):
            exited_villages += [
                d.effective_date for d in decisions.division_decisions(code)
                if d.type == "VillageExited" and (known_at is None or d.recorded_at <= known_at)
            ]
    actuals = {}
    for target in targets:
        if date(target.year, 1, 1) > as_of:
            continue
        through = min(date(target.year, 12, 31), as_of)
        report = model.adjustments(division, date(target.year, 1, 1), through, known_at)
        exited = report["outflows"].get("exited", {"households": 0, "persons": 0})
        incidence = model.incidence(division, through, known_at).get("incidence")
        actuals[target.year] = YearActual(
            year=target.year, through=through, exit_households=exited["households"], exit_persons=exited["persons"],
            incidence=None if incidence is None else round(incidence * 100, 4),
            villages_exited=None if decisions is None else sum(
                1 for d in exited_villages if d.year == target.year and d <= through),
        )
    return {
        "division_code": division, "as_of": as_of.isoformat(),
        "known_at": known_at.isoformat(timespec="microseconds") if known_at else None,
        "source": None if source is None else {"jurisdiction": source[0], "effective_date": source[1].isoformat(),
                                               "document": source[2]},
        "years": progress(targets, actuals),
    }
