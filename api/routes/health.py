"""``GET /health``: for compose health checks and probes (no token needed).

It reads the store (the log head and the read models' position) without catching
up: a probe must not do the work it watches. ``503`` when the store cannot be read.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response

from api.auth import registry_of
from api.deps import open_read_model_of
from api.schemas.admin import Health, ProjectionsHealth

log = logging.getLogger("povreg.api")

router = APIRouter(prefix="/health", tags=["health"])


@router.get(
    "",
    response_model=Health,
    responses={503: {"model": Health, "description": "the store cannot be read"}},
    summary="Liveness and the read models' lag",
)
def health(request: Request, response: Response) -> Health:
    registry = registry_of(request)
    backend = registry.settings.backend
    try:
        read_model = request.app.state.read_model or open_read_model_of(request.app)
        head = registry.recorder.max_notification_id() or 0
        position = read_model.position()
    except Exception:
        log.exception("health check: the store cannot be read")
        response.status_code = 503
        return Health(status="unavailable", store=backend, projections=None)
    return Health(
        status="ok",
        store=backend,
        projections=ProjectionsHealth(position=position, head=head, lag=max(0, head - position)),
    )
