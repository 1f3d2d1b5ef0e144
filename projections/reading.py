"""What every read-model query shares: the projections' store, a cache of the policy
book, the flow log's classes, and the helpers that read divisions' names and counts.

Each read model's queries live beside it and derive from :class:`Queries`;
:class:`projections.readmodel.SqlReadModel` derives from them all. They need nothing of the
command side: the context holds the projections' store and the registry's time zone, and
a division's version in force is the domain's rule (:func:`domain.reference.version_in_force`),
as the registry's. Every answer is a lookup
in the projections, never a replay: "as of D, known at K" is ``valid_from <= D <
valid_to AND known_from <= K < known_to``. Counts for a county or a wider prefix are
sums over the flow log and its checkpoints (:mod:`projections.flows`). Each query
runs in one read transaction (one snapshot), and ``known_at`` None means everything
recorded so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from domain.divisions import is_prefix
from domain.policy import PolicyBook, PolicyVersion, RecordedPolicy
from domain.policy_data import STATUTORY
from domain.reference import DivisionVersion, version_in_force
from domain.vocab import Status
from persistence.db import Tx
from projections import flow_reading
from projections.encoding import from_us

if TYPE_CHECKING:
    from projections.runner import ProjectionStore

STATUSES = tuple(s.value for s in Status)
#: Prefixes this long or shorter are counted from the flow log (its divisions are counties).
FLOW_PREFIX = 6


def prefix_range(prefix: str) -> tuple[str, str]:
    """Bounds such that ``lo <= code < hi`` iff ``code`` starts with ``prefix`` (digit codes)."""
    return prefix, prefix + "~"


def check_prefix(prefix: str) -> None:
    if not is_prefix(prefix):
        raise ValueError("a division code is 2, 4, 6, 9 or 12 digits")


@dataclass
class ReadContext:
    """The state the queries of one read model share."""

    store: ProjectionStore
    #: the registry's time zone (its days end at midnight there)
    tz: ZoneInfo
    policy_cache: tuple[tuple[int, int], PolicyBook] | None = None
    flow_classes: flow_reading.Classes = field(default_factory=flow_reading.Classes)
    #: Count counties and wider prefixes from the flow log (False: scan the timeline,
    #: as townships and villages are; the tests and benchmarks compare the two).
    use_flows: bool = True


class Queries:
    """A read model's queries over the shared :class:`ReadContext`, with the helpers they share."""

    def __init__(self, context: ReadContext) -> None:
        self.context = context

    @property
    def store(self) -> ProjectionStore:
        return self.context.store

    @property
    def tz(self) -> ZoneInfo:
        return self.context.tz

    def _policies(self, tx: Tx, known_at: datetime | None) -> PolicyBook:
        key = tx.one("SELECT count(*), coalesce(max(position), 0) FROM proj_policies")
        assert key is not None
        if self.context.policy_cache is None or self.context.policy_cache[0] != key:
            recorded = [RecordedPolicy(v, None) for v in STATUTORY]
            for recorded_us, version in tx.query("SELECT recorded_us, version FROM proj_policies ORDER BY position"):
                recorded.append(RecordedPolicy(PolicyVersion.model_validate_json(version), from_us(recorded_us)))
            self.context.policy_cache = ((int(key[0]), int(key[1])), PolicyBook(recorded))
        return self.context.policy_cache[1].known_at(known_at)

    def _flows_for(self, prefix: str) -> bool:
        return self.context.use_flows and len(prefix) <= FLOW_PREFIX

    def _stocks(self, tx: Tx, prefix: str, days: list[date], k: int) -> list[dict[tuple[str, str, str], list[int]]]:
        """Households and persons in ``prefix`` by (status, attribute, main cause) on each
        day, as known at ``k``, from the flow log (``prefix`` of at most 6 digits)."""
        sums = flow_reading.sums_at(tx, [d.toordinal() for d in days], k)
        self.context.flow_classes.get(tx, {c for s in sums for c in s})
        keys = self.context.flow_classes.stock_keys(prefix)
        return [flow_reading.stocks(s, keys) for s in sums]

    def village_codes(self, division_prefix: str) -> list[str]:
        """The registered villages (12 digits) under a division-code prefix."""
        check_prefix(division_prefix)
        lo, hi = prefix_range(division_prefix)
        with self.store.db.read() as tx:
            return sorted(self._division_versions(tx, "code >= ? AND code < ? AND length(code) = 12", [lo, hi]))

    @staticmethod
    def _division_versions(tx: Tx, where: str, params: list[Any]) -> dict[str, list[DivisionVersion]]:
        versions: dict[str, list[DivisionVersion]] = {}
        for code, name, population, effective, recorded_us in tx.query(
            f"SELECT code, name, rural_population, effective_date, recorded_us FROM proj_divisions WHERE {where} "
            "ORDER BY code, position",
            params,
        ):
            versions.setdefault(code, []).append(
                DivisionVersion(name, int(population), date.fromisoformat(effective), from_us(recorded_us))
            )
        return versions

    def _names(self, tx: Tx, codes: set[str], as_of: date, known_at: datetime | None) -> dict[str, str]:
        if not codes:
            return {}
        marks = ", ".join("?" * len(codes))
        names = {}
        for code, versions in self._division_versions(tx, f"code IN ({marks})", sorted(codes)).items():
            version = version_in_force(versions, as_of, known_at)
            known = [v for v in versions if known_at is None or v.recorded_at <= known_at]
            if version is None and known:
                version = known[0]
            if version is not None:
                names[code] = version.name
        return names
