"""The read model the API and the CLI query: :class:`SqlReadModel` implements
:class:`~projections.readmodel.ReadModel` over the projection tables.

Every answer is a lookup in the projections, never a replay: "as of D, known at
K" is ``valid_from <= D < valid_to AND known_from <= K < known_to`` on
``proj_timeline``. Counts for a county or a wider prefix (roster counts,
incidence, the adjustment report) are sums over the flow log and its
checkpoints instead (:mod:`projections.flows`): a few thousand rows read
whatever the county's size. Each query runs in one read transaction (one
snapshot), and ``known_at`` None means everything recorded so far.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from domain.divisions import is_prefix
from domain.moments import end_of_day
from domain.policy import PolicyBook, PolicyVersion, RecordedPolicy
from domain.policy_data import STATUTORY
from domain.vocab import COUNTED_POOR, Status
from projections import adjustments as adj
from projections import findings, flows
from projections.audit import parse_row_json
from projections.cards import finish_card
from projections.db import OPEN_DATE, OPEN_US, Tx, chunks, from_us, known_us
from projections.integrity import GENESIS
from projections.sealing import Sealer
from projections.store import ProgressCallback, ProjectionStore
from service.registry import Registry

STATUSES = tuple(s.value for s in Status)
#: Prefixes this long or shorter are counted from the flow log (its divisions are counties).
FLOW_PREFIX = 6


def prefix_range(prefix: str) -> tuple[str, str]:
    """Bounds such that ``lo <= code < hi`` iff ``code`` starts with ``prefix`` (digit codes)."""
    return prefix, prefix + "~"


def check_prefix(prefix: str) -> None:
    if not is_prefix(prefix):
        raise ValueError("a division code is 2, 4, 6, 9 or 12 digits")


def _valid_to(text: str) -> str | None:
    return None if text == OPEN_DATE else text


def _audit_item(row: tuple[Any, ...], sealer: Sealer) -> dict[str, Any]:
    (position, household_id, version, event_id, type_, effective_date, recorded_at, _us, name, role, division,
     division_code, reason, evidence, data, changes, event_hash, household_chain, chain) = row
    name, reason, evidence, data, changes = (sealer.unseal(v) for v in (name, reason, evidence, data, changes))
    item: dict[str, Any] = {
        "position": position,
        "event_id": event_id,
        "household_id": household_id,
        "version": version,
        "type": type_,
        "effective_date": effective_date,
        "recorded_at": recorded_at,
        "recorded_by": {"name": name, "role": role, "division": division or ""} if name is not None else None,
        "division_code": division_code,
        "reason": reason,
        "evidence": parse_row_json(evidence) or [],
        "data": parse_row_json(data),
        "event_hash": event_hash,
        "household_chain": household_chain,
        "chain": chain,
    }
    if changes:
        item["changes"] = parse_row_json(changes)
    return item


_AUDIT_COLUMNS = (
    "a.position, a.household_id, a.version, a.event_id, a.type, a.effective_date, a.recorded_at, a.recorded_us, "
    "a.actor_label, a.actor_role, a.actor_division, a.division_code, a.reason, a.evidence, a.data, a.changes, "
    "a.event_hash, a.household_chain, c.chain"
)


class SqlReadModel:
    """Queries over the projections; ``catch_up`` keeps them current."""

    def __init__(self, registry: Registry, store: ProjectionStore | None = None) -> None:
        self.registry = registry
        self.store = store or ProjectionStore(registry)
        self._policy_cache: tuple[tuple[int, int], PolicyBook] | None = None
        self._flow_classes = flows.Classes()
        #: Count counties and wider prefixes from the flow log (False: scan the timeline,
        #: as townships and villages are; the tests and benchmarks compare the two).
        self.use_flows = True
        self._on_close: list[Callable[[], None]] = []

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

    @property
    def tz(self) -> Any:
        return self.registry.settings.tz

    # ------------------------------------------------------------- helpers

    def _policies(self, tx: Tx, known_at: datetime | None) -> PolicyBook:
        key = tx.one("SELECT count(*), coalesce(max(position), 0) FROM proj_policies")
        assert key is not None
        if self._policy_cache is None or self._policy_cache[0] != key:
            recorded = [RecordedPolicy(v, None) for v in STATUTORY]
            for recorded_us, version in tx.query("SELECT recorded_us, version FROM proj_policies ORDER BY position"):
                recorded.append(RecordedPolicy(PolicyVersion.model_validate_json(version), from_us(recorded_us)))
            self._policy_cache = ((int(key[0]), int(key[1])), PolicyBook(recorded))
        return self._policy_cache[1].known_at(known_at)

    def _flows_for(self, prefix: str) -> bool:
        return self.use_flows and len(prefix) <= FLOW_PREFIX

    def _stocks(self, tx: Tx, prefix: str, days: list[date], k: int) -> list[dict[tuple[str, str, str], list[int]]]:
        """Households and persons in ``prefix`` by (status, attribute, main cause) on each
        day, as known at ``k``, from the flow log (``prefix`` of at most 6 digits)."""
        sums = flows.sums_at(tx, [d.toordinal() for d in days], k)
        self._flow_classes.get(tx, {c for s in sums for c in s})
        keys = self._flow_classes.stock_keys(prefix)
        return [flows.stocks(s, keys) for s in sums]

    def village_codes(self, division_prefix: str) -> list[str]:
        """The registered villages (12 digits) under a division-code prefix."""
        check_prefix(division_prefix)
        lo, hi = prefix_range(division_prefix)
        with self.store.db.read() as tx:
            return sorted(self._division_versions(tx, "code >= ? AND code < ? AND length(code) = 12", [lo, hi]))

    @staticmethod
    def _division_versions(tx: Tx, where: str, params: list[Any]) -> dict[str, list[Any]]:
        from domain.household import DivisionVersion

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

    @staticmethod
    def _in_force(versions: list[Any], on: date, known_at: datetime | None) -> Any:
        """The division version in force on ``on`` as known at ``known_at`` (as the registry decides)."""

        class _Division:
            def __init__(self, v: list[Any]) -> None:
                self.versions = v

        return Registry.population_on(_Division(versions), on, known_at)  # type: ignore[arg-type]

    def _names(self, tx: Tx, codes: set[str], as_of: date, known_at: datetime | None) -> dict[str, str]:
        if not codes:
            return {}
        marks = ", ".join("?" * len(codes))
        names = {}
        for code, versions in self._division_versions(tx, f"code IN ({marks})", sorted(codes)).items():
            version = self._in_force(versions, as_of, known_at)
            known = [v for v in versions if known_at is None or v.recorded_at <= known_at]
            if version is None and known:
                version = known[0]
            if version is not None:
                names[code] = version.name
        return names

    def position(self) -> int:
        """The last log position every projection has applied."""
        with self.store.db.read() as tx:
            marks = ", ".join("?" * len(self.store.projections))
            value = tx.scalar(
                f"SELECT min(position) FROM proj_tracking WHERE name IN ({marks})", list(self.store.projections)
            )
        return int(value or 0)

    # --------------------------------------------------------------- scope

    def household_divisions(self, household_id: str) -> set[str] | None:
        """Every division the household has belonged to, as now known (what a token's
        scope is checked against); None when nothing of it was ever recorded."""
        with self.store.db.read() as tx:
            codes = {
                code
                for (code,) in tx.query(
                    "SELECT DISTINCT division_code FROM proj_timeline WHERE household_id = ? AND known_to = ?",
                    (household_id, OPEN_US),
                )
            }
            if codes:
                return codes
            recorded = tx.one("SELECT 1 FROM proj_events WHERE household_id = ? LIMIT 1", (household_id,))
        return codes if recorded else None

    # --------------------------------------------------------------- cards

    def card(self, household_id: str, as_of: date, known_at: datetime | None) -> dict[str, Any] | None:
        k = known_us(known_at)
        day = as_of.isoformat()
        # One statement: the card row known at K with the latest valid_from <= D; the
        # next such row's valid_from ends its interval; the version is what was recorded
        # by K; and the policy versions' key, to know whether the cached book still holds.
        row = self.store.db.one(
            "SELECT c.card, c.valid_from, "
            "(SELECT min(n.valid_from) FROM proj_cards n WHERE n.household_id = c.household_id "
            "AND n.valid_from > ? AND n.known_from <= ? AND n.known_to > ?), "
            "(SELECT count(*) FROM proj_events e WHERE e.household_id = c.household_id AND e.recorded_us <= ?), "
            "(SELECT count(*) FROM proj_policies), (SELECT coalesce(max(position), 0) FROM proj_policies), "
            "(SELECT count(*) FROM proj_reviews r WHERE r.household_id = c.household_id AND r.known_from <= ?) "
            "FROM proj_cards c WHERE c.household_id = ? AND c.valid_from <= ? AND c.known_from <= ? "
            "AND c.known_to > ? ORDER BY c.valid_from DESC LIMIT 1",
            (day, k, k, k, k, household_id, day, k, k),
        )
        if row is None:
            return None
        card, valid_from, valid_to, version, policy_count, policy_head, in_review = row
        cached = self._policy_cache
        if cached is not None and cached[0] == (int(policy_count), int(policy_head)):
            policies = cached[1].known_at(known_at)
        else:
            with self.store.db.read() as tx:
                policies = self._policies(tx, known_at)
        found = finish_card(
            json.loads(self.store.db.sealer.unseal(card)),  # type: ignore[arg-type]
            as_of=as_of,
            known_at=known_at,
            version=int(version),
            valid_from=valid_from,
            valid_to=valid_to,
            policies=policies,
        )
        found["findings"] = self.household_findings(household_id, as_of, known_at) if in_review else []
        return found

    # ------------------------------------------------------------ findings

    def household_findings(
        self, household_id: str, as_of: date | None, known_at: datetime | None, state: str = "all"
    ) -> list[dict[str, Any]]:
        """The household's findings (domain.findings) as of ``as_of`` (None: whatever the
        date), known at ``known_at``."""
        with self.store.db.read() as tx:
            policies = self._policies(tx, None)
            return findings.of_households(tx, [household_id], policies, as_of, known_at, state)[household_id]

    def findings(
        self,
        division_prefix: str,
        as_of: date,
        known_at: datetime | None,
        state: str = "all",
        page: int = 1,
        page_size: int = 50,
    ) -> dict[str, Any]:
        """Counts of open and resolved findings in a division and a page of them."""
        check_prefix(division_prefix)
        with self.store.db.read() as tx:
            policies = self._policies(tx, None)
            return findings.of_division(
                tx, division_prefix, prefix_range(division_prefix), policies, as_of, known_at, state, page, page_size
            )

    def timeline(self, household_id: str, known_at: datetime | None) -> list[dict[str, Any]] | None:
        k = known_us(known_at)
        with self.store.db.read() as tx:
            recorded = tx.scalar(
                "SELECT count(*) FROM proj_events WHERE household_id = ? AND recorded_us <= ?", (household_id, k)
            )
            if not recorded:
                return None
            rows = tx.query(
                "SELECT status, valid_from, valid_to FROM proj_timeline WHERE household_id = ? "
                "AND known_from <= ? AND known_to > ? ORDER BY valid_from",
                (household_id, k, k),
            )
            found = findings.of_households(tx, [household_id], self._policies(tx, None), None, known_at)
        out: list[dict[str, Any]] = []
        for status, valid_from, valid_to in rows:
            if out and out[-1]["status"] == status:
                out[-1]["to"] = _valid_to(valid_to)
            else:
                out.append({"status": status, "from": valid_from, "to": _valid_to(valid_to)})
        # Each finding shows on the interval its decision took effect in (an interval
        # without any keeps its three fields only).
        for interval in out:
            shown = [
                f for f in found[household_id]
                if interval["from"] <= f["decision_effective_date"]
                and (interval["to"] is None or f["decision_effective_date"] < interval["to"])
            ]
            if shown:
                interval["findings"] = shown
        return out

    # -------------------------------------------------------------- rosters

    def roster(
        self,
        division_prefix: str,
        as_of: date,
        known_at: datetime | None,
        status: str | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> dict[str, Any]:
        check_prefix(division_prefix)
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; statuses: {', '.join(STATUSES)}")
        if page < 1 or not 1 <= page_size <= 1000:
            raise ValueError("page is 1 or more and page_size 1–1000")
        lo, hi = prefix_range(division_prefix)
        k = known_us(known_at)
        day = as_of.isoformat()
        where = (
            "division_code >= ? AND division_code < ? AND valid_from <= ? AND valid_to > ? "
            "AND known_from <= ? AND known_to > ?"
        )
        params: list[Any] = [lo, hi, day, day, k, k]
        with self.store.db.read() as tx:
            counts = {s: {"households": 0, "persons": 0} for s in STATUSES}
            if self._flows_for(division_prefix):
                for (s, _, _), (households, persons, _) in self._stocks(tx, division_prefix, [as_of], k)[0].items():
                    counts[s]["households"] += households
                    counts[s]["persons"] += persons
            else:
                for s, households, persons in tx.query(
                    f"SELECT status, count(*), coalesce(sum(persons), 0) FROM proj_timeline WHERE {where} "
                    "GROUP BY status",
                    params,
                ):
                    counts[s] = {"households": int(households), "persons": int(persons)}
            row_where = where + (" AND status = ?" if status else "")
            row_params = params + ([status] if status else [])
            rows = tx.query(
                "SELECT household_id, status, division_code, attribute, main_cause, persons, valid_from, head_name, "
                f"head_id_number FROM proj_timeline WHERE {row_where} ORDER BY household_id LIMIT ? OFFSET ?",
                [*row_params, page_size, (page - 1) * page_size],
            )
            names = self._names(tx, {r[2] for r in rows} | {division_prefix}, as_of, known_at)
        matching = counts[status]["households"] if status else sum(c["households"] for c in counts.values())
        items = []
        unseal = self.store.db.sealer.unseal
        for hid, s, code, attribute, cause, persons, valid_from, head_name, head_id_number in rows:
            items.append(
                {
                    "household_id": hid,
                    "status": s,
                    "division_code": code,
                    "division_name": names.get(code),
                    "attribute": attribute,
                    "main_cause": cause,
                    "persons": persons,
                    "head_name": unseal(head_name),
                    "head_id_number": unseal(head_id_number),
                    "since": valid_from,
                }
            )
        return {
            "division_code": division_prefix,
            "division_name": names.get(division_prefix),
            "as_of": as_of.isoformat(),
            "known_at": known_at.isoformat(timespec="microseconds") if known_at else None,
            "counts": counts,
            "total": {
                "households": sum(c["households"] for c in counts.values()),
                "persons": sum(c["persons"] for c in counts.values()),
            },
            "status": status,
            "page": page,
            "page_size": page_size,
            "rows_total": matching,
            "pages": max(1, -(-matching // page_size)),
            "rows": items,
        }

    # ------------------------------------------------------------ incidence

    def incidence(self, division_prefix: str, as_of: date, known_at: datetime | None) -> dict[str, Any]:
        """Persons in poor, returned and exit_pending households ÷ rural population: the
        households the adjustment report counts as poor (an exit is not final until confirmed).

        The population of a registered division (6, 9 or 12 digits) is its own
        figure in force on ``as_of`` as known at ``known_at``; a province or
        prefecture prefix (2 or 4 digits) adds up its registered counties.
        """
        check_prefix(division_prefix)
        lo, hi = prefix_range(division_prefix)
        k = known_us(known_at)
        day = as_of.isoformat()
        poor = sorted(s.value for s in COUNTED_POOR)
        with self.store.db.read() as tx:
            if self._flows_for(division_prefix):
                households = persons = 0
                for (s, _, _), (h, p, _) in self._stocks(tx, division_prefix, [as_of], k)[0].items():
                    if s in poor:
                        households += h
                        persons += p
            else:
                households, persons = tx.one(
                    "SELECT count(*), coalesce(sum(persons), 0) FROM proj_timeline WHERE division_code >= ? "
                    "AND division_code < ? AND valid_from <= ? AND valid_to > ? AND known_from <= ? "
                    f"AND known_to > ? AND status IN ({', '.join('?' * len(poor))})",
                    (lo, hi, day, day, k, k, *poor),
                ) or (0, 0)
            if len(division_prefix) >= 6:
                versions = self._division_versions(tx, "code = ?", [division_prefix])
                basis = "division"
            else:
                versions = self._division_versions(
                    tx, "code >= ? AND code < ? AND length(code) = 6", [lo, hi]
                )
                basis = "counties"
            name = self._names(tx, {division_prefix}, as_of, known_at).get(division_prefix)
        in_force = [self._in_force(v, as_of, known_at) for v in versions.values()]
        counted = [v for v in in_force if v is not None]
        population = sum(v.rural_population for v in counted) if counted else None
        return {
            "division_code": division_prefix,
            "division_name": name,
            "as_of": as_of.isoformat(),
            "known_at": known_at.isoformat(timespec="microseconds") if known_at else None,
            "poor_households": int(households),
            "poor_persons": int(persons),
            "population": population,
            "population_basis": basis if counted else None,
            "population_divisions": len(counted),
            "incidence": (int(persons) / population) if population else None,
        }

    # ----------------------------------------------------------- adjustments

    def _spans(
        self, tx: Tx, prefix: str, start: date, end: date, k: int, households: Sequence[str] | None = None
    ) -> dict[str, list[adj.Span]]:
        """The cycle's timeline rows known at ``k`` of the households with one in the division
        (of those among ``households``, when given)."""
        lo, hi = prefix_range(prefix)
        s, e = start.isoformat(), end.isoformat()
        known = "known_from <= ? AND known_to > ?"
        sql = (
            "SELECT household_id, valid_from, valid_to, status, division_code, attribute, main_cause, persons, "
            f"exit_pathway FROM proj_timeline WHERE {known} AND valid_to > ? AND valid_from <= ? "
            "AND household_id IN (SELECT household_id FROM proj_timeline WHERE division_code >= ? "
            f"AND division_code < ? AND {known} AND valid_to > ? AND valid_from <= ?) "
        )
        params: list[Any] = [k, k, s, e, lo, hi, k, k, s, e]
        if households is None:
            rows = tx.query(sql + "ORDER BY household_id, valid_from", params)
        else:
            rows = []
            for chunk in chunks(sorted(households)):
                rows += tx.query(
                    f"{sql}AND household_id IN ({', '.join('?' * len(chunk))}) ORDER BY household_id, valid_from",
                    [*params, *chunk],
                )
        spans: dict[str, list[adj.Span]] = {}
        for hid, vf, vt, status, code, attribute, cause, persons, pathway in rows:
            spans.setdefault(hid, []).append(
                adj.Span(
                    date.fromisoformat(vf),
                    None if vt == OPEN_DATE else date.fromisoformat(vt),
                    status,
                    code,
                    attribute,
                    cause,
                    int(persons),
                    pathway,
                )
            )
        return spans

    def contributions(
        self, division_prefix: str, start: date, end: date, known_at: datetime | None,
        households: Sequence[str] | None = None,
    ) -> dict[str, adj.Contribution]:
        """Each household's share of the cycle report (of those among ``households``, when given)."""
        check_prefix(division_prefix)
        if end < start:
            raise ValueError("the cycle's end is before its start")
        with self.store.db.read() as tx:
            spans = self._spans(tx, division_prefix, start, end, known_us(known_at), households)
        out = {}
        for hid, rows in spans.items():
            c = adj.contribution(hid, rows, division_prefix, start, end)
            if c.opening or c.closing or c.flows:
                out[hid] = c
        return out

    def adjustments(
        self, division_prefix: str, start: date, end: date, known_at: datetime | None
    ) -> dict[str, Any]:
        """The cycle report, aggregated in the database.

        Each timeline row carries the interval before it (``prev_*``), so every
        flow is one row starting in ``(start, end]``, opening and closing are the
        rows covering ``start`` and ``end``; the rows are grouped by what
        classifies them and :func:`adjustments.report_from_groups` names the flows
        exactly as :func:`adjustments.contribution` does household by household.
        For a county or a wider prefix the groups are the flow log's sums at
        ``start`` and ``end`` (:mod:`projections.flows`); for a township or
        a village, one scan of its timeline rows.
        """
        check_prefix(division_prefix)
        if end < start:
            raise ValueError("the cycle's end is before its start")
        lo, hi = prefix_range(division_prefix)
        k = known_us(known_at)
        s, e = start.isoformat(), end.isoformat()
        if self._flows_for(division_prefix):
            with self.store.db.read() as tx:
                at_start, at_end = flows.sums_at(tx, [start.toordinal(), end.toordinal()], k)
                self._flow_classes.get(tx, set(at_start) | set(at_end))
            keys = self._flow_classes.stock_keys(division_prefix)
            return {
                "division_code": division_prefix,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "known_at": known_at.isoformat(timespec="microseconds") if known_at else None,
                **adj.report_from_flow_sums(
                    flows.stocks(at_start, keys),
                    flows.stocks(at_end, keys),
                    _flow_groups(at_start, at_end, self._flow_classes.group_keys(division_prefix)),
                ),
            }
        with self.store.db.read() as tx:
            # One pass: each row is flagged as covering start, covering end, or starting
            # in (start, end] (a flow), and grouped by what classifies it. The groups are
            # a few thousand at most, but PostgreSQL guesses far more and sorts 100,000s of
            # rows to group them: hashing them is 2–3× faster.
            if tx.dialect == "postgres":
                tx.execute("SET LOCAL enable_sort = off")
            groups = tx.query(
                "SELECT CASE WHEN t.valid_from <= ? AND t.valid_to > ? THEN 1 ELSE 0 END, "
                "CASE WHEN t.valid_from <= ? AND t.valid_to > ? THEN 1 ELSE 0 END, "
                "CASE WHEN t.valid_from > ? THEN 1 ELSE 0 END, "
                "t.status, t.attribute, t.main_cause, t.exit_pathway, "
                "CASE WHEN t.division_code >= ? AND t.division_code < ? THEN 1 ELSE 0 END, "
                "t.prev_status, t.prev_attribute, t.prev_main_cause, "
                "CASE WHEN t.prev_division_code >= ? AND t.prev_division_code < ? THEN 1 ELSE 0 END, "
                "CASE WHEN t.persons > t.prev_persons THEN 1 WHEN t.persons < t.prev_persons THEN -1 ELSE 0 END, "
                "count(*), sum(t.persons), coalesce(sum(t.prev_persons), 0) "
                "FROM proj_timeline t "
                "WHERE t.known_from <= ? AND t.known_to > ? AND t.valid_from <= ? AND t.valid_to > ? AND "
                "((t.division_code >= ? AND t.division_code < ?) OR "
                "(t.prev_division_code >= ? AND t.prev_division_code < ?)) "
                "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13",
                (s, s, e, e, s, lo, hi, lo, hi, k, k, e, s, lo, hi, lo, hi),
            )
        return {
            "division_code": division_prefix,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "known_at": known_at.isoformat(timespec="microseconds") if known_at else None,
            **adj.report_from_groups(adj.Group(*g) for g in groups),  # type: ignore[arg-type]
        }

    def filed_at(self, end: date) -> datetime:
        """"As filed at the cycle's close": the end of the cycle's last day, registry time."""
        return end_of_day(end, self.tz)

    def adjustments_diff(
        self,
        division_prefix: str,
        start: date,
        end: date,
        filed_at: datetime | None = None,
        known_at: datetime | None = None,
    ) -> dict[str, Any]:
        """The report as filed at ``filed_at`` versus as known at ``known_at``, and why they differ:
        the households whose contribution changed and the events recorded in between
        (late entries, corrections, retractions) that changed it."""
        filed_at = filed_at or self.filed_at(end)
        lo_us, hi_us = known_us(filed_at), known_us(known_at)
        # A county (or wider): only the households whose rows in the cycle changed between
        # the two moments can count otherwise, found in one scan of the rows that changed;
        # a township or village reads its own rows through the division index.
        candidates = (
            self._changed_households(division_prefix, start, end, min(lo_us, hi_us), max(lo_us, hi_us))
            if len(division_prefix) <= FLOW_PREFIX else None
        )
        before = self.contributions(division_prefix, start, end, filed_at, candidates)
        after = self.contributions(division_prefix, start, end, known_at, candidates)
        changed = sorted(
            hid for hid in set(before) | set(after)
            if _comparable(before.get(hid)) != _comparable(after.get(hid))
        )
        recorded: dict[str, list[tuple[Any, ...]]] = {}
        with self.store.db.read() as tx:
            for chunk in chunks(changed):
                for row in tx.query(
                    "SELECT household_id, event_id, version, type, effective_date, recorded_us, recorded_by, body "
                    f"FROM proj_events WHERE household_id IN ({', '.join('?' * len(chunk))}) "
                    "AND recorded_us > ? AND recorded_us <= ? ORDER BY household_id, version",
                    [*chunk, lo_us, hi_us],
                ):
                    recorded.setdefault(row[0], []).append(row[1:])
        households = [
            {
                "household_id": hid,
                "filed": before[hid].as_json() if hid in before else None,
                "known": after[hid].as_json() if hid in after else None,
                "events": _recorded_between(recorded.get(hid, []), end, self.store.db.sealer),
            }
            for hid in changed
        ]
        if candidates is None:  # every household's contribution: the reports are their sums
            filed_report, known_report = adj.report(before.values()), adj.report(after.values())
        else:
            filed_report = self._report(division_prefix, start, end, filed_at)
            known_report = self._report(division_prefix, start, end, known_at)
        return {
            "division_code": division_prefix,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "filed_at": filed_at.isoformat(timespec="microseconds"),
            "known_at": known_at.isoformat(timespec="microseconds") if known_at else None,
            "filed": filed_report,
            "known": known_report,
            "difference": _difference(filed_report, known_report),
            "households": households,
        }

    def _changed_households(self, division_prefix: str, start: date, end: date, k1: int, k2: int) -> list[str]:
        """Households of the division whose rows in the cycle, as :func:`adjustments.contribution`
        reads them (a start before the cycle is its start, an end after it is no end), are
        not the same at ``k1`` and at ``k2`` (k1 <= k2): the rows believed at k1 and no longer
        at k2 against those believed at k2 and not yet at k1, counted in one pass."""
        lo, hi = prefix_range(division_prefix)
        s, e = start.isoformat(), end.isoformat()
        clipped = (
            "household_id, CASE WHEN valid_from < ? THEN ? ELSE valid_from END AS vf, "
            "CASE WHEN valid_to <= ? THEN valid_to ELSE '' END AS vt, "
            "status, division_code, attribute, main_cause, persons, exit_pathway"
        )
        in_cycle = "valid_to > ? AND valid_from <= ?"
        with self.store.db.read() as tx:
            return [hid for (hid,) in tx.query(
                "SELECT DISTINCT household_id FROM ("
                f"SELECT {clipped}, -1 AS sign FROM proj_timeline "
                f"WHERE known_from <= ? AND known_to > ? AND known_to <= ? AND {in_cycle} "
                f"UNION ALL SELECT {clipped}, 1 AS sign FROM proj_timeline "
                f"WHERE known_from > ? AND known_from <= ? AND known_to > ? AND {in_cycle}"
                ") r WHERE household_id IN (SELECT household_id FROM proj_timeline "
                "WHERE division_code >= ? AND division_code < ?) "
                "GROUP BY household_id, vf, vt, status, division_code, attribute, main_cause, persons, exit_pathway "
                "HAVING sum(sign) <> 0",
                (s, s, e, k1, k1, k2, s, e, s, s, e, k1, k2, k2, s, e, lo, hi),
            )]

    def _report(self, division_prefix: str, start: date, end: date, known_at: datetime | None) -> dict[str, Any]:
        """The cycle report of the poor without its heading (:meth:`adjustments`): what the
        difference compares, household by household."""
        report = self.adjustments(division_prefix, start, end, known_at)
        heading = ("division_code", "start", "end", "known_at", "exited_stock")
        out = {k: v for k, v in report.items() if k not in heading}
        out["reconciles"] = all(c["ok"] for c in out["reconciliation"])
        return out

    # ----------------------------------------------------------------- audit

    def audit(self, household_id: str) -> dict[str, Any] | None:
        with self.store.db.read() as tx:
            rows = tx.query(
                f"SELECT {_AUDIT_COLUMNS} FROM proj_audit a JOIN proj_chain c ON c.position = a.position "
                "WHERE a.household_id = ? ORDER BY a.version",
                (household_id,),
            )
            head = tx.one("SELECT position, chain FROM proj_chain ORDER BY position DESC LIMIT 1")
            trail_findings = findings.of_households(tx, [household_id], self._policies(tx, None), None, None)
        if not rows:
            return None
        events = [_audit_item(r, self.store.db.sealer) for r in rows]
        found = trail_findings[household_id]
        # Each event lists the findings it bears on: as their decision, as evidence, as resolution.
        for event in events:
            eid = event["event_id"]
            event["findings"] = [
                f["finding_id"] for f in found
                if eid == f["decision_event_id"] or eid in f["shown_by"] or eid == f["resolved_by"]
            ]
        return {
            "household_id": household_id,
            "findings": found,
            "events": events,
            "integrity": {
                "algorithm": "sha256",
                "canonical_form": (
                    "JSON of event_id, household_id, version, type, effective_date, recorded_at (UTC, "
                    "microseconds), recorded_by, data; keys sorted, separators ',' ':', UTF-8"
                ),
                "household_chain": "h_v = sha256(h_(v-1) + '|' + event_hash_v), h_0 = '0' * 64",
                "genesis": GENESIS,
                "household_head": events[-1]["household_chain"],
                "log_head": {"position": head[0], "chain": head[1]} if head else None,
            },
        }

    def audit_trail(
        self,
        *,
        household_id: str | None = None,
        division_prefix: str | None = None,
        actor: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        """Events of a household, a division (every household that was ever in it as now
        known, plus the division's and its jurisdictions' reference data) or an actor,
        in recording order, after position ``after``."""
        if sum(x is not None for x in (household_id, division_prefix, actor)) != 1:
            raise ValueError("give exactly one of household, division, actor")
        if not 1 <= limit <= 10_000:
            raise ValueError("limit is 1–10000")
        params: list[Any]
        if household_id is not None:
            where, params = "a.household_id = ?", [household_id]
        elif actor is not None:
            where, params = "a.actor_name = ?", [self.store.db.sealer.ref(actor)]
        else:
            assert division_prefix is not None
            check_prefix(division_prefix)
            lo, hi = prefix_range(division_prefix)
            where = (
                "(a.household_id IN (SELECT household_id FROM proj_timeline WHERE division_code >= ? "
                "AND division_code < ? AND known_to = ?) "
                "OR (a.household_id IS NULL AND a.division_code >= ? AND a.division_code < ?) "
                "OR (a.type = 'PolicyVersionRecorded' AND substr(?, 1, length(a.division_code)) = a.division_code))"
            )
            params = [lo, hi, OPEN_US, lo, hi, division_prefix]
        with self.store.db.read() as tx:
            rows = tx.query(
                f"SELECT {_AUDIT_COLUMNS} FROM proj_audit a JOIN proj_chain c ON c.position = a.position "
                f"WHERE {where} AND a.position > ? ORDER BY a.position LIMIT ?",
                [*params, after, limit],
            )
        events = [_audit_item(r, self.store.db.sealer) for r in rows]
        return {
            "household_id": household_id,
            "division_code": division_prefix,
            "actor": actor,
            "events": events,
            "next_after": events[-1]["position"] if len(events) == limit else None,
        }


def _flow_groups(
    at_start: dict[int, list[int]], at_end: dict[int, list[int]], keys: dict[int, tuple[Any, ...]]
) -> list[adj.Group]:
    """The row starts in ``(start, end]`` by class, as the timeline query groups them."""
    groups = []
    none = (0, 0, 0)
    for cid, (h, p, pp) in at_end.items():
        h0, p0, pp0 = at_start.get(cid, none)
        if h == h0 and p == p0 and pp == pp0:
            continue
        groups.append(adj.Group(0, 0, 1, *keys[cid], h - h0, p - p0, pp - pp0))  # type: ignore[call-arg]
    return groups


def _comparable(c: adj.Contribution | None) -> Any:
    return None if c is None else (c.opening, c.flows, c.closing)


def _recorded_between(rows: Sequence[tuple[Any, ...]], end: date, sealer: Sealer) -> list[dict[str, Any]]:
    """What, of a household's events recorded between the two moments, changed its part of
    a cycle ending ``end``: late entries (effective by then), corrections and retractions.
    ``rows``: (event_id, version, type, effective_date, recorded_us, recorded_by, body)."""
    events = []
    for event_id, version, type_, effective, recorded_us, actor, body in rows:
        if type_ == "EventCorrected":
            kind = "correction"
        elif type_ == "EventRetracted":
            kind = "retraction"
        elif effective <= end.isoformat():
            kind = "late_entry"
        else:
            continue
        data = json.loads(sealer.unseal(body))  # type: ignore[arg-type]
        events.append(
            {
                "kind": kind,
                "event_id": event_id,
                "version": version,
                "type": type_,
                "effective_date": effective,
                "recorded_at": from_us(recorded_us).isoformat(timespec="microseconds"),
                "recorded_by": json.loads(sealer.unseal(actor)),  # type: ignore[arg-type]
                "reason": data.get("reason"),
                "target_event_id": data.get("target_event_id"),
            }
        )
    return events


def _difference(filed: dict[str, Any], known: dict[str, Any]) -> dict[str, Any]:
    def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, int]:
        return {"households": b["households"] - a["households"], "persons": b["persons"] - a["persons"]}

    return {
        "opening": delta(filed["opening"], known["opening"]),
        "inflows": {k: delta(filed["inflows"][k], known["inflows"][k]) for k in known["inflows"]},
        "outflows": {k: delta(filed["outflows"][k], known["outflows"][k]) for k in known["outflows"]},
        "closing": delta(filed["closing"], known["closing"]),
    }



