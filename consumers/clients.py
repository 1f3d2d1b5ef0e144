"""The Kafka clients (kafka-python) of the relay and the subscribers: how they connect, how they close."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from bootstrap.settings import Settings

log = logging.getLogger("povreg.consumers")


def client_config(settings: Settings, bootstrap: str | None = None) -> dict[str, Any]:
    """kafka-python's connection arguments for ``settings``: the brokers, TLS and SASL.

    Every producer, consumer and admin client of povreg is built from these, so
    ``POVREG_KAFKA_SECURITY_PROTOCOL`` and the SASL/TLS settings reach all of them.
    """
    servers = bootstrap or settings.kafka_bootstrap
    if not servers:
        raise ValueError("Kafka is off: set POVREG_KAFKA_BOOTSTRAP (e.g. 127.0.0.1:9092)")
    config: dict[str, Any] = {
        "bootstrap_servers": [server.strip() for server in servers.split(",")],
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism is not None:
        # kafka-python takes the SASL/SCRAM credentials under the PLAIN names too.
        config.update(sasl_mechanism=settings.kafka_sasl_mechanism,
                      sasl_plain_username=settings.kafka_sasl_username,
                      sasl_plain_password=settings.kafka_sasl_password)
    if settings.kafka_ssl_cafile is not None:
        config["ssl_cafile"] = settings.kafka_ssl_cafile
    return config


def close_producer(producer: Any, futures: Iterable[Any] = (), timeout: float = 40.0) -> None:
    """Close a kafka-python producer once the records it was given are done.

    kafka-python's ``close`` flushes first and raises if anything is still pending, before it
    stops its sender thread. Every record completes — acknowledged, refused, or expired after
    ``delivery_timeout_ms`` — so waiting for ``futures`` (at most ``timeout`` seconds) makes the
    close clean: nothing of this producer reaches the broker after it returns.
    """
    deadline = time.monotonic() + timeout
    for future in futures:
        if future is None or future.is_done:
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            future.get(timeout=remaining)
        except Exception:  # failed or expired: done either way
            log.debug("a record failed while its producer was closing", exc_info=True)
    try:
        producer.close(timeout=max(1.0, deadline - time.monotonic()))
    except Exception:
        log.warning("a Kafka producer did not close cleanly", exc_info=True)
