"""Read models built from the notification log: each answers "as of D, known at K"
by an index lookup, never by replaying events per query.

Use :func:`open_read_model`; see docs/projections.md for the tables and decisions.
"""

from __future__ import annotations

import logging

from projections.readmodel import SqlReadModel
from service.registry import Registry

log = logging.getLogger(__name__)


def open_read_model(registry: Registry, inline: bool | None = None) -> SqlReadModel:
    """The read model of ``registry``'s database (tables created if missing).

    With ``inline`` (default: ``registry.settings.inline_projections``) the read
    model catches up after every save of this registry, so a write is visible to
    queries as soon as the command returns (the embedded mode). A projection that
    fails there is logged, not raised: the event is already recorded, and the
    next catch-up (or ``povreg projections status``) shows the lag.
    """
    model = SqlReadModel(registry)
    if registry.settings.inline_projections if inline is None else inline:

        def catch_up_after_save() -> None:
            try:
                model.catch_up()
            except Exception:
                log.exception("inline projection catch-up failed; the read model lags behind the log")

        registry.after_save.append(catch_up_after_save)
        model.on_close(lambda: registry.after_save.remove(catch_up_after_save))
        model.catch_up()
    return model


__all__ = ["SqlReadModel", "open_read_model"]
