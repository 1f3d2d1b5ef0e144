"""The FastAPI application: ``create_app(registry | settings)``.

Endpoints that touch the store are plain ``def`` (the eventsourcing library is
synchronous; FastAPI runs them in its thread pool).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version as _dist_version
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi

from api import logs, problems
from api.deps import open_read_model_of
from api.limits import BodyLimit
from api.routes import (
    adjustments,
    audit,
    batch,
    cards,
    console,
    divisions,
    events_feed,
    explain,
    findings,
    health,
    households,
    policies,
    progress,
    rosters,
    tokens,
)
from bootstrap.settings import Settings
from service.registry import Registry

DESCRIPTION = """\
Event-sourced registry of poor households (建档立卡动态管理).

Commands record immutable events; queries answer *as of* a valid date (`as_of`) and
*as known at* a transaction moment (`known_at`). Authenticate with
`Authorization: Bearer <token>` (`povreg token create --role ROLE [--division PREFIX]`).
Every error is an RFC 9457 problem (`application/problem+json`) whose `rule` names the
rule that refused the request.
"""


def create_app(source: Registry | Settings | None = None) -> FastAPI:
    """The API over ``source``: a registry (the caller closes it), or settings (the
    app opens the registry and closes it on shutdown; default: from the environment)."""
    owned = not isinstance(source, Registry)
    registry = source if isinstance(source, Registry) else Registry(source or Settings.from_env())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Open the read models at start-up, so that writes project as they happen.
        await run_in_threadpool(open_read_model_of, app)
        try:
            yield
        finally:
            if app.state.read_model is not None and hasattr(app.state.read_model, "close"):
                app.state.read_model.close()
            if owned:
                registry.close()

    app = FastAPI(
        title="povreg",
        version=_dist_version("povreg"),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.registry = registry
    app.state.read_model = None
    app.state.read_model_head = 0
    app.state.read_model_lock = threading.Lock()
    problems.install(app)
    logs.install()  # no query string (a search by name, say) in the access log
    # Outside everything else: an oversized body is refused before anyone reads it.
    app.add_middleware(BodyLimit, limit=registry.settings.max_body_bytes)
    for module in (households, batch, cards, explain, findings, rosters, adjustments, divisions, progress, audit,
                   events_feed, tokens, policies, health, console):
        app.include_router(module.router)
    console.mount_console(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with every error response as ``application/problem+json``."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for url, path in doc.get("paths", {}).items():
        if not url.startswith("/v1/"):
            continue  # /health answers its own JSON, a 503 included
        for operation in path.values():
            responses = operation.get("responses", {})
            if "requestBody" in operation:  # the body limit (api/limits.py) answers before the route
                responses.setdefault("413", {"description": "the request body is over POVREG_MAX_BODY_BYTES"})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {problems.PROBLEM_JSON: {"schema": problem_ref}}
            if "422" in responses:
                responses["422"]["description"] = "invalid input (the problem's `errors` lists the fields)"
    schemas = doc.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    app.openapi_schema = doc
    return doc
