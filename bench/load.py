"""Benchmark 6 — HTTP under load: N concurrent clients against a real ``povreg serve``.

A simulated county is loaded (read model built), then ``povreg serve`` is started as a
subprocess on loopback and N client threads (``--clients 8,16,32``), each with its own
keep-alive connection and a county-scoped recorder's token, send requests back to back
for ``--seconds`` (or until ``--max-requests`` in all), the mix:

- 60 % card reads (``GET /v1/households/{id}?as_of=D``, a random household, D a random
  day of the simulated years; "not on the register then" is an answer, not an error);
- 10 % county rosters (``GET /v1/rosters/{county}?as_of=D``);
- 30 % writes (``POST /v1/households/{id}/events`` of a ``HelperAssigned`` effective
  today, to a household whose status allows it).

Per kind it prints requests/s, p50 / p99 latency and errors (a transport error, a 5xx,
or any 4xx other than that 404), and what a request cost in CPU: the server's processes
and, on PostgreSQL on this machine, the database's. Each server configuration (``--configs``) is measured
with every client count in the same run, the first configuration being the baseline of
the others' ratios: ``single`` is one process, one transaction per write (what ``povreg
serve`` did before group commit); ``group`` adds group commit; ``group-wN`` runs N
worker processes too.

    python -m bench.load [--households N] [--clients 8,16,32] [--seconds 30]
                         [--configs single,group,group-w2] [--backend sqlite|postgres|both]
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlparse

from bench.common import (
    Result,
    base_parser,
    bench_settings,
    county,
    percentiles,
    run_per_backend,
)
from bench.processes import ServerCpu, process_tree_cpu, serve_process

HOUSEHOLDS = 2_000
QUICK_HOUSEHOLDS = 60
KINDS = ("card", "roster", "write", "floor")
#: ``floor`` (``GET /docs``, a static page: no token, no store) is the web stack's own cost
#: per request, for measuring alone (``--mix floor=1``).
MIX = {"card": 0.6, "roster": 0.1, "write": 0.3, "floor": 0.0}
WRITE_STATUSES = frozenset({"poor", "returned", "exit_pending", "exited"})  # HelperAssigned's MAINTAINABLE
FIRST_DAY, LAST_DAY = date(2014, 6, 1), date(2021, 12, 31)


@dataclass(frozen=True)
class ServerConfig:
    """How ``povreg serve`` runs: worker processes and group commit (0 ms: off)."""

    name: str
    workers: int = 1
    group_commit_ms: float = 0.0

    @classmethod
    def parse(cls, name: str) -> ServerConfig:
        workers = 1
        base, _, suffix = name.partition("-w")
        if suffix:
            workers = int(suffix)
        if base not in ("single", "group"):
            raise ValueError(f"unknown server configuration {name!r} (single, group, group-w2, …)")
        return cls(name, workers, 1.0 if base == "group" else 0.0)

    def env(self) -> dict[str, str]:
        if not self.group_commit_ms:
            return {"POVREG_GROUP_COMMIT": "false"}
        return {"POVREG_GROUP_COMMIT": "true", "POVREG_GROUP_COMMIT_WAIT_MS": str(self.group_commit_ms)}


@dataclass
class Target:
    """What the clients ask about: the county, its households, those a write may go to."""

    county: str
    households: list[str]
    writable: list[str]
    token: str


@dataclass
class Tally:
    """One client's answers per kind (latencies in seconds) and its errors."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    samples: list[str] = field(default_factory=list)


def prepare(url: str, households: int, seed: int) -> Target:
    """A county-scoped recorder's token, and which households a HelperAssigned may go to today."""
    from projections import open_read_model
    from service.registry import Registry

    c = county(households, seed)
    county_code = c.divisions[0].code
    ids = sorted({rec.command.household_id for rec in c.recordings if rec.command.household_id})
    registry = Registry(bench_settings(url, inline_projections=False))
    try:
        token = registry.create_token("recorder", county_code, name="bench-load")
        model = open_read_model(registry, inline=False)
        try:
            model.catch_up()
            today = registry.today()
            cards = {hid: model.card(hid, today, None) for hid in ids}
            writable = [hid for hid, card in cards.items() if card and card["status"] in WRITE_STATUSES]
        finally:
            model.close()
    finally:
        registry.close()
    if not writable:
        raise RuntimeError("no household of the county accepts a HelperAssigned today")
    return Target(county_code, ids, writable, token)


@contextmanager
def served(url: str, config: ServerConfig) -> Iterator[tuple[int, int]]:
    """``povreg serve`` on a free loopback port with ``config``; yields its port and pid."""
    with serve_process(url, config.env(), config.workers) as (port, pid):
        time.sleep(0.5 * config.workers)  # every worker up (each opens its read model)
        yield port, pid


def parse_mix(text: str) -> dict[str, float]:
    """``card=60,roster=10,write=30`` as shares of one (kinds left out: none of them)."""
    weights: dict[str, float] = dict.fromkeys(KINDS, 0.0)
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, weight = part.partition("=")
        if kind not in weights or not weight.replace(".", "", 1).isdigit():
            raise ValueError(f"not a mix: {text!r} (e.g. card=60,roster=10,write=30)")
        weights[kind] = float(weight)
    total = sum(weights.values())
    if total <= 0:
        raise ValueError(f"not a mix: {text!r} (every weight is 0)")
    return {kind: weight / total for kind, weight in weights.items()}


def _client(port: int, target: Target, seed: int, stop: threading.Event, budget: list[int],
            budget_lock: threading.Lock, tally: Tally, mix: dict[str, float]) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {target.token}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    span = (LAST_DAY - FIRST_DAY).days
    today = datetime.now(UTC).astimezone(_tz()).date().isoformat()
    weights = [mix[kind] for kind in KINDS]
    while not stop.is_set():
        with budget_lock:
            if budget[0] <= 0:
                return
            budget[0] -= 1
        kind = rng.choices(KINDS, weights)[0]
        day = (FIRST_DAY + timedelta(days=rng.randrange(span + 1))).isoformat()
        body: bytes | None = None
        method = "GET"
        if kind == "card":
            path = f"/v1/households/{rng.choice(target.households)}?{urlencode({'as_of': day})}"
        elif kind == "roster":
            path = f"/v1/rosters/{target.county}?{urlencode({'as_of': day})}"
        elif kind == "write":
            method = "POST"
            path = f"/v1/households/{rng.choice(target.writable)}/events"
            body = json.dumps({"type": "HelperAssigned", "effective_date": today,
                               "helper_name": f"帮扶干部{rng.randrange(1000)}", "unit": "县农业农村局"},
                              ensure_ascii=False).encode()
        else:
            path = "/docs"
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            payload = answer.read()
            elapsed = time.perf_counter() - started
        except (OSError, http.client.HTTPException) as exc:
            tally.errors[kind] += 1
            _sample(tally, f"{kind}: {type(exc).__name__}: {exc}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        ok = answer.status < 300 or (kind == "card" and answer.status == 404 and b"not_on_register" in payload)
        if ok:
            tally.latencies[kind].append(elapsed)
        else:
            tally.errors[kind] += 1
            _sample(tally, f"{kind}: {answer.status} {payload[:300].decode(errors='replace')}")
    conn.close()


def _sample(tally: Tally, text: str) -> None:
    if len(tally.samples) < 5:
        tally.samples.append(text)


def _tz() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(os.environ.get("POVREG_TIMEZONE") or "Asia/Shanghai")


def drive(port: int, target: Target, clients: int, seconds: float, max_requests: int, seed: int,
          mix: dict[str, float] = MIX) -> dict[str, Any]:
    """``clients`` threads for ``seconds`` or ``max_requests`` in all; figures per kind."""
    stop = threading.Event()
    budget, lock = [max_requests], threading.Lock()
    tallies = [Tally() for _ in range(clients)]
    threads = [threading.Thread(target=_client, args=(port, target, seed * 1000 + i, stop, budget, lock, t, mix),
                                daemon=True) for i, t in enumerate(tallies)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    out: dict[str, Any] = {"clients": clients, "seconds": round(wall, 2)}
    total = 0
    for kind in KINDS:
        samples = [s for t in tallies for s in t.latencies[kind]]
        errors = sum(t.errors[kind] for t in tallies)
        total += len(samples)
        p = percentiles(samples)
        out[kind] = {"per_s": round(len(samples) / wall, 1), "p50_ms": round(p["p50_ms"], 1),
                     "p99_ms": round(p["p99_ms"], 1), "n": len(samples), "errors": errors}
    out["requests_per_s"] = round(total / wall, 1)
    out["errors"] = sum(out[k]["errors"] for k in KINDS)
    failures = [s for t in tallies for s in t.samples][:5]
    if failures:
        out["error_samples"] = failures
    return out


def run_load(backend: str, url: str, households: int, seed: int, configs: list[ServerConfig],
             clients: list[int], seconds: float, max_requests: int, mix: dict[str, float] = MIX) -> dict[str, Any]:
    target = prepare(url, households, seed)
    figures: dict[str, Any] = {"backend": backend, "households": len(target.households),
                               "writable": len(target.writable), "mix": mix, "runs": {}}
    for config in configs:
        runs: dict[str, Any] = {}
        with served(url, config) as (port, pid):
            drive(port, target, 4, min(2.0, seconds), 200, seed, mix)  # warm up: connections, caches
            for n in clients:
                server_cpu = process_tree_cpu(pid)
                with ServerCpu(enabled=backend == "postgres", database=urlparse(url).path.lstrip("/")) as database_cpu:
                    runs[str(n)] = run = drive(port, target, n, seconds, max_requests, seed + n, mix)
                answered = sum(run[k]["n"] for k in KINDS) or 1
                # What a request costs: the server's processes, and PostgreSQL's (same machine).
                run["server_cpu_ms_per_request"] = round(
                    (process_tree_cpu(pid) - server_cpu) * 1000 / answered, 2)
                if database_cpu.seconds is not None:
                    run["postgres_cpu_ms_per_request"] = round(database_cpu.seconds * 1000 / answered, 2)
                print(f"  {backend} {config.name} {n} clients: " + _line(runs[str(n)]), flush=True)
        figures["runs"][config.name] = {"workers": config.workers, "group_commit_ms": config.group_commit_ms,
                                        "clients": runs}
    base = configs[0].name
    for config in configs[1:]:
        ratios = {}
        for n in clients:
            b, r = figures["runs"][base]["clients"][str(n)], figures["runs"][config.name]["clients"][str(n)]
            ratios[str(n)] = {"writes_per_s": _ratio(r["write"]["per_s"], b["write"]["per_s"]),
                              "write_p99": _ratio(r["write"]["p99_ms"], b["write"]["p99_ms"]),
                              "card_p99": _ratio(r["card"]["p99_ms"], b["card"]["p99_ms"])}
        figures["runs"][config.name][f"ratio_over_{base}"] = ratios
    return figures


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def _line(run: dict[str, Any]) -> str:
    line = "; ".join(f"{k} {run[k]['per_s']}/s p50 {run[k]['p50_ms']} p99 {run[k]['p99_ms']} ms"
                     + (f" ERR {run[k]['errors']}" if run[k]["errors"] else "")
                     for k in KINDS if run[k]["n"] or run[k]["errors"])
    if "server_cpu_ms_per_request" in run:
        line += f"; CPU per request: server {run['server_cpu_ms_per_request']} ms"
        if "postgres_cpu_ms_per_request" in run:
            line += f", PostgreSQL {run['postgres_cpu_ms_per_request']} ms"
    return line


def main(argv: list[str] | None = None) -> list[Result]:
    parser = base_parser(__doc__ or "", HOUSEHOLDS, QUICK_HOUSEHOLDS)
    parser.add_argument("--url", default=None, help="an existing store with a simulated county (not dropped)")
    parser.add_argument("--clients", default=None, help="client counts, comma-separated (default 8,16,32)")
    parser.add_argument("--seconds", type=float, default=None, help="per client count (default 30; --quick 3)")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="per client count, in all")
    parser.add_argument("--mix", default="card=60,roster=10,write=30",
                        help="the requests' kinds and weights (e.g. write=1 for writes alone)")
    parser.add_argument("--configs", default="single,group,group-w2",
                        help="server configurations; the first is the baseline (single, group, group-wN)")
    args = parser.parse_args(argv)
    households = args.households or (QUICK_HOUSEHOLDS if args.quick else HOUSEHOLDS)
    clients = [int(n) for n in (args.clients or ("4" if args.quick else "8,16,32")).split(",")]
    seconds = args.seconds or (3.0 if args.quick else 30.0)
    configs = [ServerConfig.parse(name.strip()) for name in args.configs.split(",") if name.strip()]
    try:
        mix = parse_mix(args.mix)
    except ValueError as exc:
        parser.error(str(exc))
    return run_per_backend(
        args, households, "load",
        lambda backend, url: run_load(backend, url, households, args.seed, configs, clients, seconds,
                                      args.max_requests, mix),
        f"baseline: the '{configs[0].name}' server; clients are threads of this process on the same machine as "
        "the server and the database")


if __name__ == "__main__":
    main()
