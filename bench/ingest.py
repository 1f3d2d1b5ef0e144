"""Benchmark 1 — ingest: household events per second through the application service.

For SQLite and PostgreSQL: the simulated county's stream recorded one command per
transaction (``Registry.record``, the baseline) and in batches, one transaction per
batch, as ``povreg simulate`` loads (``Registry.bulk_writer``: ``record_many`` whose
save of a batch overlaps the check of the next, on PostgreSQL); the ratio is batched
over single. Events/s counts household events recorded; "stored events/s" also counts
what the registry writes beside them in the same transactions (the person index,
one event per new ID number). The stream is generated before the clock starts.

Then commands/s through HTTP: the first ``--http-events`` commands of the stream
posted one by one to a live uvicorn server (``POST /v1/households`` and
``/v1/households/{id}/events``, bearer token, the embedded mode's read model
caught up after every write), against the same commands through ``Registry.record``
in-process (the baseline).

    python -m bench.ingest [--households N] [--batch 1000] [--quick] [--profile FILE] [--no-http]
"""

from __future__ import annotations

import time
from contextlib import suppress
from datetime import date
from typing import Any

from bench.common import (
    PG_DB,
    County,
    Result,
    backends,
    base_parser,
    bench_settings,
    county,
    open_registry,
    reported,
    scratch_store,
    write_json,
)
from bench.processes import ServerCpu, serve_process
from bootstrap.settings import Settings
from simulation import load, put_divisions

HOUSEHOLDS = 20_000
QUICK_HOUSEHOLDS = 60
SINGLE_EVENTS = 3_000
QUICK_SINGLE_EVENTS = 200


def run_ingest(backend: str, households: int, batch: int, single_events: int, seed: int = 1,
               profile: str | None = None) -> dict[str, Any]:
    c = county(households, seed)
    figures: dict[str, Any] = {"backend": backend, "households": households, "events": c.events,
                               "batch_size": batch}
    # Batched: the whole stream, ``batch`` commands per transaction.
    with scratch_store(backend) as url:
        registry, clock = open_registry(url, cache_size=None)
        try:
            put_divisions(registry, clock, c.divisions)
            profiler = _start_profile(profile)
            with ServerCpu(enabled=backend == "postgres", database=PG_DB) as server:
                started, cpu = time.perf_counter(), time.process_time()
                report = load(registry, c.recordings, clock, batch_size=batch, window_days=3650)
                seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            _stop_profile(profiler, profile)
            stored = registry.recorder.max_notification_id() or 0
        finally:
            registry.close()
    figures["batched"] = {
        "recorded": report.recorded,
        "refused": report.refused,
        "seconds": round(seconds, 2),
        "events_per_s": round(report.recorded / seconds),
        "stored_events_per_s": round(stored / seconds),
        # CPU per event, what bounds the rate on a given number of cores whatever the load:
        # this process (all its threads) and the database's backends serving it.
        "cpu_us_per_event": round(1e6 * cpu / max(1, report.recorded), 1),
        "server_cpu_us_per_event": None if server.seconds is None
        else round(1e6 * server.seconds / max(1, report.recorded), 1),
    }
    if report.refusals:
        figures["batched"]["refusals"] = dict(report.refusals)
    figures["handover_us"] = handover_cost(c.recordings[:5000])
    # Single: the first events of the same stream, one command per transaction.
    sample = c.recordings[:single_events]
    single, seconds = _one_per_transaction(backend, c, sample)
    figures["single"] = {
        "recorded": single.recorded,
        "refused": single.refused,
        "seconds": round(seconds, 2),
        "events_per_s": round(single.recorded / seconds),
    }
    figures["ratio_batched_over_single"] = round(
        figures["batched"]["events_per_s"] / max(1, figures["single"]["events_per_s"]), 1
    )
    return figures


def handover_cost(sample: list[Any]) -> dict[str, float]:
    """What handing work to another process would cost per event, in pickling alone: a command
    there and back, and its checked event body (µs). Checking batches in several processes pays
    both for every event, on the same cores as the checks."""
    import pickle

    from domain.errors import DomainError
    from domain.events import parse_new_event

    commands = [rec.command for rec in sample]
    bodies = []
    for command in commands:
        with suppress(DomainError):
            bodies.append(parse_new_event(command.payload))

    def round_trip(items: list[Any]) -> float:
        started = time.perf_counter()
        pickle.loads(pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL))
        return round(1e6 * (time.perf_counter() - started) / max(1, len(items)), 1)

    return {"command": min(round_trip(commands) for _ in range(3)),
            "checked_event_body": min(round_trip(bodies) for _ in range(3))}


def _one_per_transaction(backend: str, c: Any, sample: list[Any]) -> tuple[Any, float]:
    """The baseline of both ingest figures: ``sample`` recorded one command per transaction into a
    fresh store holding the county's divisions; the load's report and its seconds."""
    with scratch_store(backend) as url:
        registry, clock = open_registry(url)
        try:
            put_divisions(registry, clock, c.divisions)
            started = time.perf_counter()
            report = load(registry, sample, clock, batch_size=1, window_days=3650)
            return report, time.perf_counter() - started
        finally:
            registry.close()


def _divisions_and_token(settings: Settings, c: County) -> str:
    """A store for the HTTP figures: the county's divisions, and an approver's token for the county."""
    from service.registry import Registry

    setup = Registry(settings)
    try:
        for spec in c.divisions:
            setup.put_division(spec.code, spec.name, spec.rural_population, date(2014, 1, 1))
        return setup.create_token("approver", c.divisions[0].code)
    finally:
        setup.close()


def run_http(backend: str, households: int, events: int, seed: int = 1) -> dict[str, Any]:
    """Commands/s through the HTTP API versus in-process, for the first ``events`` commands."""
    import threading

    import httpx2
    import uvicorn

    from api import create_app

    c = county(households, seed)
    sample = c.recordings[:events]
    figures: dict[str, Any] = {"backend": backend, "commands": len(sample)}
    with scratch_store(backend) as url:
        settings = bench_settings(url)
        token = _divisions_and_token(settings, c)
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        ids: dict[str, str] = {}
        refused = 0
        try:
            with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                              headers={"Authorization": f"Bearer {token}"}) as client:
                started = time.perf_counter()
                for rec in sample:
                    payload = dict(rec.command.payload)
                    for name, key in (rec.refs or {}).items():
                        payload[name] = ids.get(key, payload[name])
                    hid = rec.command.household_id
                    if payload["type"] == "IdentificationProposed":
                        answer = client.post("/v1/households", json={**payload, "household_id": hid})
                    else:
                        answer = client.post(f"/v1/households/{hid}/events", json=payload)
                    if answer.status_code != 201:
                        refused += 1
                    elif rec.key:
                        ids[rec.key] = answer.json()["event_id"]
                seconds = time.perf_counter() - started
        finally:
            server.should_exit = True
            thread.join(timeout=30)
    figures["http"] = {"refused": refused, "seconds": round(seconds, 2),
                       "commands_per_s": round((len(sample) - refused) / seconds)}
    single, seconds = _one_per_transaction(backend, c, sample)
    figures["in_process"] = {"refused": single.refused, "seconds": round(seconds, 2),
                             "commands_per_s": round(single.recorded / seconds)}
    figures["ratio_http_over_in_process"] = round(
        figures["http"]["commands_per_s"] / max(1, figures["in_process"]["commands_per_s"]), 2)
    return figures


def run_http_batch(backend: str, households: int, batch: int, seed: int = 1, events: int | None = None,
                   inline: bool = False, request_lines: int | None = None) -> dict[str, Any]:
    """Events/s through ``POST /v1/events:batch`` (``request_lines`` lines per request, default four
    transactions' worth, to a ``povreg serve`` process) against the in-process batched ingest
    (``Registry.bulk_writer``, ``batch`` commands per transaction) of the same commands, one after the
    other in this run. References to earlier
    events (``@key``) are resolved from earlier answers, as an integration would; a request ends
    never early: the server runs without inline projections
    (the scaled mode: read models from Kafka), as the in-process figure has none, unless ``inline``.
    References to events of the same request go as ``refs`` (field → line number)."""

    import httpx2
    import orjson


    c = county(households, seed)
    sample = c.recordings[:events] if events else c.recordings
    request_lines = request_lines or 4 * batch
    figures: dict[str, Any] = {"backend": backend, "commands": len(sample), "batch_size": batch,
                               "request_lines": request_lines, "server_inline_projections": inline}
    with scratch_store(backend) as url:
        registry, clock = open_registry(url, cache_size=None)
        try:
            put_divisions(registry, clock, c.divisions)
            started = time.perf_counter()
            report = load(registry, sample, clock, batch_size=batch, window_days=3650)
            seconds = time.perf_counter() - started
        finally:
            registry.close()
    figures["in_process_batched"] = {"recorded": report.recorded, "refused": report.refused,
                                     "seconds": round(seconds, 2), "events_per_s": round(report.recorded / seconds)}

    with scratch_store(backend) as url:
        token = _divisions_and_token(bench_settings(url), c)
        env = {"POVREG_INLINE_PROJECTIONS": "true" if inline else "false",
               "POVREG_MAX_BODY_BYTES": str(64 * 1024 * 1024)}
        recorded = refused = requests = 0
        with serve_process(url, env) as (port, _pid):
            base = f"http://127.0.0.1:{port}"
            lines = [{"household_id": rec.command.household_id, **rec.command.payload} for rec in sample]
            ids: dict[str, str] = {}
            with httpx2.Client(base_url=base, timeout=600, headers={
                    "Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}) as client:
                started = time.perf_counter()
                at = 0
                while at < len(sample):
                    chunk: list[bytes] = []
                    keys: dict[int, str] = {}
                    pending: dict[str, int] = {}  # key → its line in this request
                    while at < len(sample) and len(chunk) < request_lines:
                        rec = sample[at]
                        line = lines[at]
                        if rec.refs:
                            line = {**line, **{name: ids[key] for name, key in rec.refs.items() if key in ids}}
                            inside = {name: pending[key] for name, key in rec.refs.items() if key in pending}
                            if inside:
                                line["refs"] = inside
                        if rec.key:
                            keys[len(chunk)] = rec.key
                            pending[rec.key] = len(chunk) + 1
                        chunk.append(orjson.dumps(line))
                        at += 1
                    answer = client.post("/v1/events:batch", content=b"\n".join(chunk))
                    answer.raise_for_status()
                    requests += 1
                    results = answer.json()["results"]
                    for i, key in keys.items():
                        if results[i]["outcome"] == "recorded":
                            ids[key] = results[i]["event_id"]
                    recorded += sum(1 for r in results if r["outcome"] == "recorded")
                    refused += sum(1 for r in results if r["outcome"] == "refused")
                seconds = time.perf_counter() - started
    figures["http_batch"] = {"recorded": recorded, "refused": refused, "requests": requests,
                             "seconds": round(seconds, 2), "events_per_s": round(recorded / seconds)}
    figures["ratio_http_batch_over_in_process_batched"] = round(
        figures["http_batch"]["events_per_s"] / max(1, figures["in_process_batched"]["events_per_s"]), 2)
    return figures


def _start_profile(path: str | None) -> Any:
    if not path:
        return None
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def _stop_profile(profiler: Any, path: str | None) -> None:
    if profiler is None or path is None:
        return
    profiler.disable()
    profiler.dump_stats(path)
    print(f"profile written to {path} (python -m pstats {path})")


def main(argv: list[str] | None = None) -> list[Result]:
    parser = base_parser(__doc__ or "", HOUSEHOLDS, QUICK_HOUSEHOLDS)
    parser.add_argument("--batch", type=int, default=1000, help="commands per transaction when batched")
    parser.add_argument("--profile", default=None, help="cProfile the batched load into this file")
    parser.add_argument("--http-events", type=int, default=1500, help="commands posted through HTTP")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP figures")
    parser.add_argument("--batch-events", type=int, default=None,
                        help="commands sent through POST /v1/events:batch (default: the whole county)")
    args = parser.parse_args(argv)
    households = args.households or (QUICK_HOUSEHOLDS if args.quick else HOUSEHOLDS)
    single = QUICK_SINGLE_EVENTS if args.quick else SINGLE_EVENTS
    results: list[Result] = []
    c = county(households, args.seed)
    print(f"simulated {households} households: {c.events} events in {c.seconds:.1f} s "
          f"({c.events / c.seconds:,.0f} events/s generated)")
    for backend in backends(args.backend):
        reported(results, f"ingest/{backend}",
                 run_ingest(backend, households, args.batch, single, args.seed, args.profile),
                 "baseline: one command per transaction (Registry.record); batched: Registry.bulk_writer().record_many")
        if not args.no_http:
            reported(results, f"ingest-http/{backend}",
                     run_http(backend, households, 150 if args.quick else args.http_events, args.seed),
                     "baseline: the same commands through Registry.record in-process (no read model)")
            reported(results, f"ingest-http-batch/{backend}",
                     run_http_batch(backend, households, args.batch, args.seed, args.batch_events),
                     "baseline: the same commands through Registry.bulk_writer in-process, same run")
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
