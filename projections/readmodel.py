"""The query side, as the API and the CLI use it: :class:`SqlReadModel`, every read model's
queries in one object. Each read model's queries live beside it —
:mod:`projections.household_queries` (card, timeline, findings), :mod:`projections.rosters`,
:mod:`projections.incidence`, :mod:`projections.findings`, :mod:`projections.adjustment_report` and
:mod:`projections.audit_trail` — as a :class:`~projections.reading.Queries` class; the read
model derives from all of them, over one shared :class:`~projections.reading.ReadContext`.

Every method answers from the projections (index lookups), never by replaying
events. Dates are ``date``; moments are timezone-aware ``datetime``; ``known_at``
None means "everything recorded". Results are JSON-ready dicts whose fields
follow docs/api.md; personal information comes unmasked and the entry points mask
it for the caller's role (:mod:`domain.masking`).
"""

from __future__ import annotations

from collections.abc import Callable

from projections.adjustment_report import AdjustmentQueries
from projections.audit_trail import AuditQueries
from projections.findings import FindingsQueries
from projections.household_queries import HouseholdQueries
from projections.incidence import IncidenceQueries
from projections.reading import ReadContext
from projections.rosters import RosterQueries
from projections.runner import ProgressCallback, ProjectionStore
from service.registry import Registry


class SqlReadModel(
    HouseholdQueries, FindingsQueries, RosterQueries, IncidenceQueries, AdjustmentQueries, AuditQueries
):
    """The read models over the projection tables of a registry's store; ``catch_up``
    keeps them current."""

    def __init__(self, registry: Registry, store: ProjectionStore | None = None) -> None:
        super().__init__(ReadContext(store or ProjectionStore(registry), registry.settings.tz))
        self.registry = registry
        self._on_close: list[Callable[[], None]] = []

    @property
    def use_flows(self) -> bool:
        """Count counties and wider prefixes from the flow log (False: scan the timeline)."""
        return self.context.use_flows

    @use_flows.setter
    def use_flows(self, value: bool) -> None:
        self.context.use_flows = value

    def catch_up(self, progress: ProgressCallback | None = None, wait: bool = True) -> int:
        """Apply every notification not yet projected; returns how many were applied.
        ``progress`` is called as they are; without ``wait``, skip it while another writer
        is catching up."""
        return self.store.catch_up(progress, wait=wait)

    def behind(self, position: int) -> bool:
        """Whether the read model has not yet applied the log up to ``position``."""
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
