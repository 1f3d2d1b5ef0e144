"""Kafka client chores shared by the relay and the subscribers."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

log = logging.getLogger("povreg.consumers")


def close_now(producer: Any) -> None:
    """Close a kafka-python producer at once, abandoning what it has not sent (the subscribers' dead
    letters are sent again after a failure).

    kafka-python 3.0's ``close(timeout=0)`` raises from its flush while records
    are pending, before it stops the sender thread, which would then go on
    retrying in the background (and ``__del__`` tries the close again): stop
    that thread ourselves.
    """
    try:
        producer.close(timeout=0)
        return
    except Exception:
        log.debug("closing a producer with records pending", exc_info=True)
    sender = getattr(producer, "_sender", None)
    if sender is not None:
        with contextlib.suppress(Exception):
            sender.force_close()
            sender.join(5)
    with contextlib.suppress(Exception):
        producer._closed = True  # its resources are gone; spare __del__ a second failing close


def abandon(producer: Any) -> None:
    """Close a confluent-kafka (librdkafka) producer at once, dropping what is queued or in flight (the
    relay re-sends from its acknowledged position). Without the purge, closing would wait for them."""
    with contextlib.suppress(Exception):
        producer.purge(in_queue=True, in_flight=True, blocking=False)
        producer.poll(0)  # serve the purged messages' reports
    with contextlib.suppress(Exception):
        producer.close()
