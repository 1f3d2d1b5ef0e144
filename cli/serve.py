"""``povreg serve``: the HTTP API under uvicorn, in one process or several."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Annotated

import typer

from bootstrap.settings import ConfigError, Settings
from cli.common import err_console

if TYPE_CHECKING:
    from fastapi import FastAPI


def collect_rarely() -> None:
    """Young collections every 50,000 allocations instead of 700, and older ones rarer too.

    A server keeps many objects alive (the registry's cache of households, the read
    model's), and under load the cyclic collector walked them again and again: ~12 %
    of a server's CPU in the load benchmark, and most of its p99 (a full collection
    stops every thread). With these thresholds it took ~2 %, and the p99 of writes,
    cards and rosters fell by half or more. Reference counting still frees nearly all
    that a request allocates."""
    gc.set_threshold(50_000, 50, 100)


def worker_app() -> FastAPI:
    """The app of one worker process (``--workers N``): built from the environment."""
    from api import create_app

    collect_rarely()
    return create_app()


def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="worker processes sharing the port and the store (the write gate keeps recording order "
            "across them)",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API on the store of POVREG_DATABASE_URL (OpenAPI docs at /docs)."""
    import uvicorn

    from api import create_app

    try:
        settings = Settings.from_env()
        _ = settings.backend  # a bad URL is refused here, not in every worker
        # One process: the app is built here. Several: each worker builds its own from the
        # same environment (a registry and read model per process, one store).
        app = create_app(settings) if workers == 1 else None
    except ConfigError as exc:
        err_console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None
    err_console.print(
        f"povreg API on http://{host}:{port} (docs: http://{host}:{port}/docs) — store {settings.database_url}"
        + (f", {workers} workers" if workers > 1 else "")
    )
    if app is not None:
        collect_rarely()
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    else:
        uvicorn.run("cli.serve:worker_app", factory=True, host=host, port=port, log_level=log_level,
                    workers=workers)
