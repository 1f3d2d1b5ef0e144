"""``python -m bench`` (``make bench``): every benchmark, each with its baseline.

By default a small county (2,000 households, ~41,000 events) so the whole run
takes minutes; the recorded figures (docs/benchmarks.md) use
``--households 100000`` or ``--url`` a store already loaded with
``povreg simulate --households 100000``.

    python -m bench [--households N] [--only ingest,status,queries,rebuild,relay,load,scaleout]
                    [--backend sqlite|postgres|both] [--url URL] [--quick] [--json FILE]

``status``, ``queries`` and ``rebuild`` share one store per backend (loaded once);
``ingest`` loads its own scratch stores; ``relay`` runs ``bench.relay`` when it exists;
``load`` loads its own county per backend and runs 8 and 16 clients for 5 s each against
each server configuration (``python -m bench.load`` for 8, 16, 32 clients and 30 s);
``scaleout`` builds the read model from the topic with 1, then 2 projection consumers.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import time
import traceback
from pathlib import Path

from bench import common

SCRIPTS = ("ingest", "status", "queries", "rebuild", "relay", "load", "scaleout")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=None, help="households to simulate (default 2000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default=",".join(SCRIPTS), help="comma-separated benchmarks to run")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default=None,
                        help="default: both for ingest, postgres for the others (the targets' backend)")
    parser.add_argument("--url", default=None, help="an existing store holding a simulated county")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--json", type=Path, default=None, help="write every figure to this file")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SCRIPTS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(SCRIPTS)}")
    started = time.perf_counter()
    print(f"machine: {common.machine()}")
    results: list[common.Result] = []
    failed: list[str] = []
    shared = [s for s in chosen if s in ("status", "queries", "rebuild")]
    if "ingest" in chosen:
        results += importlib.import_module("bench.ingest").main(_argv(args, args.backend or "both", with_url=False))
    if shared:
        households = args.households or (60 if args.quick else 2_000)
        for backend in [common.backend_of(args.url)] if args.url else common.backends(args.backend or "postgres"):
            with common.county_store(backend, households, args.seed, args.url) as url:
                for name in shared:
                    module = importlib.import_module(f"bench.{name}")
                    results += module.main([*_argv(args, backend, with_url=False), "--url", url])
    if "relay" in chosen:
        if importlib.util.find_spec("bench.relay") is None:
            print("\n== relay: bench/relay.py is not there yet: skipped")
        else:
            relay = importlib.import_module("bench.relay").main
            try:
                if inspect.signature(relay).parameters:  # the common options, like the others
                    results += relay(_argv(args, args.backend or "both", with_url=False)) or []
                else:
                    relay()
            except Exception as exc:  # keep the other figures; fail at the end
                failed.append(f"relay: {type(exc).__name__}: {exc}")
                traceback.print_exc()
    if "load" in chosen:
        small = [] if args.quick else ["--clients", "8,16", "--seconds", "5"]
        results += importlib.import_module("bench.load").main(
            [*_argv(args, args.backend or "both", with_url=False), *small])
    if "scaleout" in chosen:
        try:
            results += importlib.import_module("bench.scaleout").main(
                [*_argv(args, args.backend or "postgres", with_url=False)])
        except Exception as exc:  # no broker here: keep the other figures; fail at the end
            failed.append(f"scaleout: {type(exc).__name__}: {exc}")
            traceback.print_exc()
    common.write_json(args.json, results)
    print(f"\nall benchmarks: {time.perf_counter() - started:.0f} s")
    if failed:
        raise SystemExit("failed: " + "; ".join(failed))


def _argv(args: argparse.Namespace, backend: str, with_url: bool) -> list[str]:
    out = ["--seed", str(args.seed), "--backend", backend]
    if args.households:
        out += ["--households", str(args.households)]
    if args.quick:
        out.append("--quick")
    if with_url and args.url:
        out += ["--url", args.url]
    return out


if __name__ == "__main__":
    main()
