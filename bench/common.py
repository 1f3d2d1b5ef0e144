"""What the benchmarks share: scratch stores, a simulated county, timing and reporting."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bootstrap.settings import Settings, variable
from service.registry import Registry
from simulation import DivisionSpec, LoadReport, Recording, SimClock, Simulation, load

PG_HOST = os.environ.get("POVREG_BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("POVREG_BENCH_PG_PORT", "5432"))
PG_USER = os.environ.get("POVREG_BENCH_PG_USER", "postgres")
PG_DB = os.environ.get("POVREG_BENCH_PG_DB", "povreg_bench")
BACKENDS = ("sqlite", "postgres")


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    info: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["memory_gb"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        import psycopg

        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3) as c:
            row = c.execute("SHOW server_version").fetchone()
            info["postgresql"] = row[0] if row else None
            # The settings that decide how a bulk write is checkpointed and cached.
            info["postgresql_settings"] = dict(c.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
                (["shared_buffers", "max_wal_size", "checkpoint_timeout", "wal_compression"],),
            ).fetchall())
    except Exception:  # no PostgreSQL: the figures say so
        info["postgresql"] = None
    return info


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3):
            return True
    except Exception:
        return False


@contextmanager
def scratch_store(backend: str, keep: bool = False) -> Iterator[str]:
    """A fresh, empty store; yields its POVREG_DATABASE_URL and drops it afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="povreg-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    import psycopg

    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DB,)).fetchone():
            with suppress(psycopg.errors.DuplicateDatabase):
                admin.execute(f'CREATE DATABASE "{PG_DB}"')
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    conninfo = dict(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DB, autocommit=True)
    with psycopg.connect(**conninfo) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}?schema={schema}"
    try:
        yield url
    finally:
        if not keep:
            with psycopg.connect(**conninfo) as conn:  # type: ignore[arg-type]
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            # The schema's cipher key, made on first use (bootstrap.keys), goes with it.
            from bootstrap.keys import key_file

            key_file(Settings(database_url=url)).unlink(missing_ok=True)


def bench_settings(url: str, **fields: Any) -> Settings:
    """A bench store's settings: ``url`` and ``fields`` only, and ``POVREG_CIPHER_KEY`` if the
    environment sets it (``POVREG_CIPHER_KEY=none`` measures the plaintext store)."""
    key = os.environ.get(variable("cipher_key"))
    return Settings(database_url=url, **({"cipher_key": key} if key else {}), **fields)


def open_registry(url: str, cache_size: int | None = None) -> tuple[Registry, SimClock]:
    clock = SimClock()
    settings = bench_settings(url, inline_projections=False)
    return Registry(settings, clock=clock, cache_size=cache_size), clock


@dataclass
class County:
    """A simulated county, generated once per process and reused by every bench."""

    households: int
    seed: int
    divisions: list[DivisionSpec]
    recordings: list[Recording]
    seconds: float

    @property
    def events(self) -> int:
        return len(self.recordings)


_counties: dict[tuple[int, int], County] = {}


def county(households: int, seed: int = 1) -> County:
    key = (households, seed)
    if key not in _counties:
        started = time.perf_counter()
        sim = Simulation(households, seed)
        divisions = sim.divisions()
        recordings = list(sim.recordings())
        _counties[key] = County(households, seed, divisions, recordings, time.perf_counter() - started)
    return _counties[key]


def load_county(registry: Registry, clock: SimClock, c: County, batch_size: int = 1000,
                window_days: int = 3650, recordings: Sequence[Recording] | None = None) -> LoadReport:
    return load(registry, c.recordings if recordings is None else recordings, clock, divisions=c.divisions,
                batch_size=batch_size, window_days=window_days)


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / mean in milliseconds of samples in seconds."""
    ordered = sorted(samples)
    if not ordered:
        return {"p50_ms": 0.0, "p99_ms": 0.0, "mean_ms": 0.0, "n": 0}

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"p50_ms": round(at(0.50), 3), "p99_ms": round(at(0.99), 3),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 3), "n": len(ordered)}


def timed_each(fn: Callable[..., Any], asked: Sequence[tuple[Any, ...]], warm: int) -> list[float]:
    """Seconds ``fn(*question)`` took for each question ``asked``, after ``warm`` of them untimed
    (the connection pool and the database's caches warm up)."""
    for question in asked[:warm]:
        fn(*question)
    out = []
    for question in asked:
        started = time.perf_counter()
        fn(*question)
        out.append(time.perf_counter() - started)
    return out


@dataclass
class Result:
    """One benchmark's figures: what was measured, the figures, the baseline ratio."""

    name: str
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def print(self) -> None:
        print(f"\n== {self.name}")
        print(json.dumps(self.figures, indent=2, ensure_ascii=False, default=str))
        for note in self.notes:
            print(f"   note: {note}")


def base_parser(description: str, households: int, quick_households: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--households", type=int, default=None,
                        help=f"households to simulate (default {households}; --quick {quick_households})")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for smoke tests and CI")
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    return parser


def backends(choice: str) -> list[str]:
    chosen = list(BACKENDS) if choice == "both" else [choice]
    if "postgres" in chosen and not postgres_available():
        print("PostgreSQL is not reachable: skipping its figures")
        chosen.remove("postgres")
    return chosen


def write_json(path: Path | None, results: list[Result]) -> None:
    if path is None:
        return
    path.write_text(json.dumps({"machine": machine(), "results": [{"name": r.name, "figures": r.figures,
                                                                     "notes": r.notes} for r in results]},
                               indent=2, ensure_ascii=False, default=str))


# ------------------------------------------------------------------ prepared stores


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--url``: benchmark a store that already holds a simulated county (e.g. one loaded
    with ``povreg simulate --households 100000``) instead of loading a scratch one."""
    parser.add_argument("--url", default=None, help="an existing store with a simulated county (not dropped)")


@contextmanager
def county_store(backend: str, households: int, seed: int = 1, url: str | None = None) -> Iterator[str]:
    """A store holding the simulated county with its read model built; yields its URL.

    With ``url`` that store is used as it is (caught up first); otherwise a scratch
    store is loaded through the application service and dropped afterwards.
    """
    if url:
        _catch_up(url)
        yield url
        return
    c = county(households, seed)
    with scratch_store(backend) as scratch:
        registry, clock = open_registry(scratch, cache_size=None)
        try:
            report = load_county(registry, clock, c)
            if report.refused:
                raise RuntimeError(f"the simulated county was refused in part: {report.refusals}")
        finally:
            registry.close()
        _catch_up(scratch)
        yield scratch


def _catch_up(url: str) -> None:
    from projections import open_read_model

    registry = Registry(bench_settings(url, inline_projections=False))
    try:
        model = open_read_model(registry, inline=False)
        try:
            if model.store.tracked("households") == 0:
                model.store.rebuild()  # a fresh load: one rebuild beats paging the catch-up
            else:
                model.catch_up()
        finally:
            model.close()
    finally:
        registry.close()


def run_per_backend(args: argparse.Namespace, households: int, name: str,
                    measure: Callable[[str, str], dict[str, Any]], note: str) -> list[Result]:
    """For each backend asked for (or the store ``--url`` names): a county store, ``measure(backend,
    url)``, the figures printed with the baseline's ``note``; all written to ``--json``."""
    results: list[Result] = []
    for backend in [backend_of(args.url)] if args.url else backends(args.backend):
        with county_store(backend, households, args.seed, args.url) as url:
            figures = measure(backend, url)
        reported(results, f"{name}/{backend}", figures, note)
    write_json(args.json, results)
    return results


def reported(results: list[Result], name: str, figures: dict[str, Any], note: str) -> None:
    """``figures`` as the result ``name`` with its baseline's ``note``: printed, and added to ``results``."""
    result = Result(name, figures, [note])
    result.print()
    results.append(result)


def backend_of(url: str) -> str:
    return bench_settings(url).backend


def questions(rng: Any, n: int, first: date = date(2014, 6, 1), last: date = date(2021, 12, 31),
              tz: Any = None) -> list[tuple[date, datetime | None]]:
    """``n`` random (as_of, known_at): as_of uniform over the simulated years; known_at
    "as now known" for a quarter, else the end of a day up to a year after as_of."""
    from zoneinfo import ZoneInfo

    from domain.moments import end_of_day

    zone = tz or ZoneInfo("Asia/Shanghai")
    out: list[tuple[date, datetime | None]] = []
    span = (last - first).days
    for _ in range(n):
        as_of = first + timedelta(days=rng.randrange(span + 1))
        known_at = None if rng.random() < 0.25 else end_of_day(as_of + timedelta(days=rng.randrange(366)), zone)
        out.append((as_of, known_at))
    return out
