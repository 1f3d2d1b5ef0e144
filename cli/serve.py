"""``povreg serve``: the HTTP API (../shared/API.md) under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from bootstrap.settings import ConfigError, Settings
from cli.common import err_console


def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Serve the HTTP API on the store of POVREG_DATABASE_URL (OpenAPI docs at /docs)."""
    import uvicorn

    from api import create_app

    try:
        settings = Settings.from_env()
        app = create_app(settings)
    except ConfigError as exc:
        err_console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None
    err_console.print(
        f"povreg API on http://{host}:{port} (docs: http://{host}:{port}/docs) — store {settings.database_url}"
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level)
