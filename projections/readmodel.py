"""The query side, as the API and the CLI use it: the :class:`ReadModel` interface and
:class:`SqlReadModel`, a facade over each read model's queries, which live beside it —
:mod:`projections.household_queries` (card, timeline, findings), :mod:`projections.rosters`,
:mod:`projections.incidence`, :mod:`projections.findings`, :mod:`projections.adjustment_report` and
:mod:`projections.audit_trail` — sharing one :class:`~projections.reading.ReadContext`.

Every method answers from the projections (index lookups), never by replaying
events. Dates are ``date``; moments are timezone-aware ``datetime``; ``known_at``
None means "everything recorded". Results are JSON-ready dicts whose fields
follow docs/api.md; personal information comes unmasked and the entry points mask
it for the caller's role (:mod:`domain.masking`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from projections.adjustment_report import AdjustmentQueries
from projections.adjustments import Contribution
from projections.audit_trail import AuditQueries
from projections.findings import FindingsQueries
from projections.household_queries import HouseholdQueries
from projections.incidence import IncidenceQueries
from projections.reading import ReadContext
from projections.rosters import RosterQueries
from projections.runner import ProgressCallback, ProjectionStore
from service.registry import Registry


class ReadModel(Protocol):
    def catch_up(self, progress: Any = None, wait: bool = True) -> int:
        """Apply every notification not yet projected; returns how many were applied.
        ``progress`` is called as they are; without ``wait``, skip it while another writer
        is catching up."""

    def behind(self, position: int) -> bool:
        """Whether the read model has not yet applied the log up to ``position``."""

    def card(self, household_id: str, as_of: date, known_at: datetime | None) -> dict[str, Any] | None:
        """The household card (docs/api.md), or None if not on the register then."""

    def timeline(self, household_id: str, known_at: datetime | None) -> list[dict[str, Any]] | None:
        """``[{"status", "from", "to"}]``, or None for an unknown household."""

    def audit(self, household_id: str) -> dict[str, Any] | None:
        """Every event with both times, actor, reason, evidence, what corrections changed,
        and the integrity proof; None for an unknown household."""

    def roster(
        self,
        division_prefix: str,
        as_of: date,
        known_at: datetime | None,
        status: str | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> dict[str, Any]:
        """``counts`` per status (households, persons) and a page of household rows."""

    def adjustments(
        self, division_prefix: str, start: date, end: date, known_at: datetime | None
    ) -> dict[str, Any]:
        """The cycle report: opening, inflows, outflows, closing, breakdowns, reconciles."""

    def findings(
        self,
        division_prefix: str,
        as_of: date,
        known_at: datetime | None,
        state: str = "all",
        page: int = 1,
        page_size: int = 50,
    ) -> dict[str, Any]:
        """``counts`` of open and resolved findings and a page of them, each with its household."""

    def incidence(self, division_prefix: str, as_of: date, known_at: datetime | None) -> dict[str, Any]:
        """Poor persons, rural population and incidence for a division."""


class SqlReadModel:
    """The read models over the projection tables of a registry's store; ``catch_up``
    keeps them current."""

    def __init__(self, registry: Registry, store: ProjectionStore | None = None) -> None:
        self.context = ReadContext(registry, store or ProjectionStore(registry))
        self.households = HouseholdQueries(self.context)
        self.division_findings = FindingsQueries(self.context)
        self.rosters = RosterQueries(self.context)
        self.incidences = IncidenceQueries(self.context)
        self.reports = AdjustmentQueries(self.context)
        self.audits = AuditQueries(self.context)
        self._on_close: list[Callable[[], None]] = []

    @property
    def registry(self) -> Registry:
        return self.context.registry

    @property
    def store(self) -> ProjectionStore:
        return self.context.store

    @property
    def use_flows(self) -> bool:
        """Count counties and wider prefixes from the flow log (False: scan the timeline)."""
        return self.context.use_flows

    @use_flows.setter
    def use_flows(self, value: bool) -> None:
        self.context.use_flows = value

    @property
    def tz(self) -> Any:
        return self.registry.settings.tz

    # ------------------------------------------------------------- upkeep

    def catch_up(self, progress: ProgressCallback | None = None, wait: bool = True) -> int:
        return self.store.catch_up(progress, wait=wait)

    def behind(self, position: int) -> bool:
        return self.store.behind(position)

    def on_close(self, callback: Callable[[], None]) -> None:
        self._on_close.append(callback)

    def close(self) -> None:
        """Stop catching up after saves and close the connections."""
        while self._on_close:
            self._on_close.pop()()
        self.store.close()

    def position(self) -> int:
        """The last log position every projection has applied."""
        with self.store.db.read() as tx:
            marks = ", ".join("?" * len(self.store.projections))
            value = tx.scalar(
                f"SELECT min(position) FROM proj_tracking WHERE name IN ({marks})", list(self.store.projections)
            )
        return int(value or 0)

    # ------------------------------------------------------------- queries

    def household_divisions(self, household_id: str) -> set[str] | None:
        return self.households.household_divisions(household_id)

    def card(self, household_id: str, as_of: date, known_at: datetime | None) -> dict[str, Any] | None:
        return self.households.card(household_id, as_of, known_at)

    def timeline(self, household_id: str, known_at: datetime | None) -> list[dict[str, Any]] | None:
        return self.households.timeline(household_id, known_at)

    def household_findings(
        self, household_id: str, as_of: date | None, known_at: datetime | None, state: str = "all"
    ) -> list[dict[str, Any]]:
        return self.households.household_findings(household_id, as_of, known_at, state)

    def findings(
        self,
        division_prefix: str,
        as_of: date,
        known_at: datetime | None,
        state: str = "all",
        page: int = 1,
        page_size: int = 50,
    ) -> dict[str, Any]:
        return self.division_findings.findings(division_prefix, as_of, known_at, state, page, page_size)

    def roster(
        self,
        division_prefix: str,
        as_of: date,
        known_at: datetime | None,
        status: str | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> dict[str, Any]:
        return self.rosters.roster(division_prefix, as_of, known_at, status=status, page=page, page_size=page_size)

    def incidence(self, division_prefix: str, as_of: date, known_at: datetime | None) -> dict[str, Any]:
        return self.incidences.incidence(division_prefix, as_of, known_at)

    def village_codes(self, division_prefix: str) -> list[str]:
        return self.incidences.village_codes(division_prefix)

    def contributions(
        self, division_prefix: str, start: date, end: date, known_at: datetime | None,
        households: Sequence[str] | None = None,
    ) -> dict[str, Contribution]:
        return self.reports.contributions(division_prefix, start, end, known_at, households)

    def adjustments(self, division_prefix: str, start: date, end: date, known_at: datetime | None) -> dict[str, Any]:
        return self.reports.adjustments(division_prefix, start, end, known_at)

    def filed_at(self, end: date) -> datetime:
        return self.reports.filed_at(end)

    def adjustments_diff(
        self,
        division_prefix: str,
        start: date,
        end: date,
        filed_at: datetime | None = None,
        known_at: datetime | None = None,
    ) -> dict[str, Any]:
        return self.reports.adjustments_diff(division_prefix, start, end, filed_at, known_at)

    def audit(self, household_id: str) -> dict[str, Any] | None:
        return self.audits.audit(household_id)

    def audit_trail(
        self,
        *,
        household_id: str | None = None,
        division_prefix: str | None = None,
        actor: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        return self.audits.audit_trail(
            household_id=household_id, division_prefix=division_prefix, actor=actor, after=after, limit=limit
        )
