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

With ``--compare`` the county questions (roster counts, adjustment, incidence) are
also answered by a scan of the timeline (``SqlReadModel.use_flows = False``, what
they were before the flow log), interleaved question by question with the flow
log's answers, which must be identical.

    python -m bench.queries [--households N] [--url URL] [--samples 200] [--compare] [--no-baseline]
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
    base_parser,
    bench_settings,
    percentiles,
    questions,
    run_per_backend,
    timed_each,
)
from projections import SqlReadModel, open_read_model
from service.registry import Registry
from simulation import COUNTY_CODE

HOUSEHOLDS = 2_000
QUICK_HOUSEHOLDS = 60
CYCLES = ((date(2014, 1, 1), date(2016, 12, 31)), (date(2017, 1, 1), date(2019, 12, 31)),
          (date(2019, 1, 1), date(2021, 12, 31)))


def timed(fn: Callable[[date, datetime | None], Any], asked: list[tuple[date, datetime | None]]) -> dict[str, float]:
    return percentiles(timed_each(fn, asked, warm=5))


def timed_pair(model: SqlReadModel, fn: Callable[[date, datetime | None], Any],
               asked: list[tuple[date, datetime | None]]) -> tuple[dict[str, float], dict[str, float]]:
    """The flow log's answers and the timeline scan's, alternating which goes first; equal."""
    for as_of, known_at in asked[:3]:
        for flag in (True, False):
            model.use_flows = flag
            fn(as_of, known_at)
    samples: dict[bool, list[float]] = {True: [], False: []}
    for i, (as_of, known_at) in enumerate(asked):
        answers = {}
        for flag in ((True, False) if i % 2 else (False, True)):
            model.use_flows = flag
            started = time.perf_counter()
            answers[flag] = fn(as_of, known_at)
            samples[flag].append(time.perf_counter() - started)
        if answers[True] != answers[False]:
            raise AssertionError(f"the flow log and the timeline differ for {as_of}, {known_at}")
    model.use_flows = True
    return percentiles(samples[True]), percentiles(samples[False])


def measure(url: str, samples: int, seed: int, compare: bool = False, baseline: bool = True) -> dict[str, Any]:
    registry = Registry(bench_settings(url, inline_projections=False))
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
            def counts(a: date, k: datetime | None, code: str = code) -> Any:
                return model.roster(code, a, k, page_size=1)["counts"]

            def page(a: date, k: datetime | None, code: str = code) -> Any:
                return model.roster(code, a, k, page=1 + rng.randrange(3), page_size=50)

            figures[f"roster_counts/{level}"] = timed(counts, asked)
            figures[f"roster_page/{level}"] = timed(page, asked)
        figures["adjustment/county"] = timed(
            lambda a, k: model.adjustments(COUNTY_CODE, *rng.choice(CYCLES), k), asked)
        figures["incidence/county"] = timed(lambda a, k: model.incidence(COUNTY_CODE, a, k), asked)
        if compare:
            cycles = [rng.choice(CYCLES) for _ in asked]
            for name, fn in (
                ("roster_counts/county", lambda a, k: model.roster(COUNTY_CODE, a, k, page_size=1)["counts"]),
                ("adjustment/county", lambda a, k: model.adjustments(COUNTY_CODE, *cycles[asked.index((a, k))], k)),
                ("incidence/county", lambda a, k: model.incidence(COUNTY_CODE, a, k)),
            ):
                flows_figures, timeline_figures = timed_pair(model, fn, asked)
                figures[f"interleaved/{name}/flows"] = flows_figures
                figures[f"interleaved/{name}/timeline_scan"] = timeline_figures
        if not baseline:
            return figures
        figures["baseline_fold/village_roster_counts"] = _baseline(
            registry, model, village, asked[: max(3, samples // 20)])
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
    parser.add_argument("--compare", action="store_true",
                        help="also answer the county questions by a timeline scan, interleaved (must be equal)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the fold-from-the-store baseline")
    parser.set_defaults(backend="postgres")
    args = parser.parse_args(argv)
    households = args.households or (QUICK_HOUSEHOLDS if args.quick else HOUSEHOLDS)
    samples = 20 if args.quick else args.samples
    return run_per_backend(
        args, households, "queries",
        lambda _, url: measure(url, samples, args.seed, args.compare, not args.no_baseline),
        "baseline: a village's roster counts by folding each household from the event store",
    )

if __name__ == "__main__":
    main()
