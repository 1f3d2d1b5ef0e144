"""Benchmark 3 — rosters, the three-year adjustment and incidence, for random (as_of, known_at).

In a store holding the simulated county (with its read model built): roster counts
and a roster page (50 rows) for the county, a township and a village; the
three-year adjustment report (2014–2016, 2017–2019, 2019–2021 cycles) for the
county; incidence for the county. Each is asked for random (as_of, known_at) —
as_of over 2014–2021, known_at "as now known" or up to a year after as_of — and
timed in-process: p50/p99 in milliseconds.

The baseline, in the same process, answers the village questions the slow way:
every household of the village loaded from the event store and folded
(``Registry.state_as_of`` per household); the ratio is baseline over projection.

    python -m bench.queries [--households N] [--url URL] [--samples 200]
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from bench.common import (
    Result,
    add_arguments,
    backend_of,
    backends,
    base_parser,
    county_store,
    percentiles,
    questions,
    write_json,
)
from povreg.application import Registry
from povreg.config import Settings
from povreg.projections import SqlReadModel, open_read_model
from povreg.simulate import COUNTY_CODE

HOUSEHOLDS = 2_000
QUICK_HOUSEHOLDS = 60
CYCLES = ((date(2014, 1, 1), date(2016, 12, 31)), (date(2017, 1, 1), date(2019, 12, 31)),
          (date(2019, 1, 1), date(2021, 12, 31)))


def timed(fn: Callable[[date, datetime | None], Any], asked: list[tuple[date, datetime | None]]) -> dict[str, float]:
    for as_of, known_at in asked[:5]:  # warm the connection pool and the database's caches
        fn(as_of, known_at)
    samples = []
    for as_of, known_at in asked:
        started = time.perf_counter()
        fn(as_of, known_at)
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def measure(url: str, samples: int, seed: int) -> dict[str, Any]:
    registry = Registry(Settings(database_url=url, inline_projections=False))
    model = open_read_model(registry, inline=False)
    rng = random.Random(seed)
    try:
        with model.store.db.read() as tx:
            township = tx.scalar("SELECT min(code) FROM proj_divisions WHERE length(code) = 9")
            village = tx.scalar("SELECT min(code) FROM proj_divisions WHERE length(code) = 12 AND code LIKE ?",
                                (f"{township}%",))
            rows = tx.scalar("SELECT count(*) FROM proj_timeline")
            households = tx.scalar("SELECT count(DISTINCT household_id) FROM proj_timeline")
        asked = questions(rng, samples)
        figures: dict[str, Any] = {
            "backend": backend_of(url), "samples": samples, "households": households, "timeline_rows": rows,
        }
        for level, code in (("county", COUNTY_CODE), ("township", township), ("village", village)):
            figures[f"roster_counts/{level}"] = timed(
                lambda a, k, code=code: model.roster(code, a, k, page_size=1)["counts"], asked)
            figures[f"roster_page/{level}"] = timed(
                lambda a, k, code=code: model.roster(code, a, k, page=1 + rng.randrange(3), page_size=50), asked)
        figures["adjustment/county"] = timed(
            lambda a, k: model.adjustments(COUNTY_CODE, *rng.choice(CYCLES), k), asked)
        figures["incidence/county"] = timed(lambda a, k: model.incidence(COUNTY_CODE, a, k), asked)
        baseline = asked[: max(3, samples // 20)]
        figures["baseline_fold/village_roster_counts"] = _baseline(registry, model, village, baseline)
        figures["ratio_fold_over_projection/village_roster_counts_p50"] = round(
            figures["baseline_fold/village_roster_counts"]["p50_ms"]
            / max(figures["roster_counts/village"]["p50_ms"], 1e-6), 1)
    finally:
        model.close()
        registry.close()
    return figures


def _baseline(registry: Registry, model: SqlReadModel, village: str,
              asked: list[tuple[date, datetime | None]]) -> dict[str, float]:
    """Village roster counts by folding each of its households from the event store."""
    with model.store.db.read() as tx:
        ids = [r[0] for r in tx.query(
            "SELECT DISTINCT household_id FROM proj_timeline WHERE division_code = ?", (village,))]

    def counts(as_of: date, known_at: datetime | None) -> dict[str, int]:
        out: dict[str, int] = {}
        for hid in ids:
            try:
                state = registry.state_as_of(hid, as_of, known_at)
            except Exception:  # not on the register then
                continue
            if state.division_code == village:
                out[state.status.value] = out.get(state.status.value, 0) + 1
        return out

    return timed(counts, asked)


def main(argv: list[str] | None = None) -> list[Result]:
    parser = base_parser(__doc__ or "", HOUSEHOLDS, QUICK_HOUSEHOLDS)
    add_arguments(parser)
    parser.add_argument("--samples", type=int, default=200, help="questions per query")
    parser.set_defaults(backend="postgres")
    args = parser.parse_args(argv)
    households = args.households or (QUICK_HOUSEHOLDS if args.quick else HOUSEHOLDS)
    samples = 20 if args.quick else args.samples
    results = []
    for backend in [backend_of(args.url)] if args.url else backends(args.backend):
        with county_store(backend, households, args.seed, args.url) as url:
            result = Result(f"queries/{backend}", measure(url, samples, args.seed))
        result.notes.append("baseline: a village's roster counts by folding each household from the event store")
        result.print()
        results.append(result)
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
