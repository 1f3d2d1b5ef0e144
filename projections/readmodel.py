"""The query side's interface, as the API and the CLI use it.

Every method answers from the projections (index lookups), never by replaying
events. Dates are ``date``; moments are timezone-aware ``datetime``; ``known_at``
None means "everything recorded". Results are JSON-ready dicts whose fields
follow ../shared/API.md; personal information comes unmasked and the entry
points mask it for the caller's role (:mod:`domain.masking`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol


class ReadModel(Protocol):
    def catch_up(self, progress: Any = None, wait: bool = True) -> int:
        """Apply every notification not yet projected; returns how many were applied.
        ``progress`` is called as they are; without ``wait``, skip it while another writer
        is catching up."""

    def behind(self, position: int) -> bool:
        """Whether the read model has not yet applied the log up to ``position``."""

    def card(self, household_id: str, as_of: date, known_at: datetime | None) -> dict[str, Any] | None:
        """The household card (API.md), or None if not on the register then."""

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
