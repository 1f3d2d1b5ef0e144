"""Retrying a transaction that failed for a passing reason (a locked or lost database, a
broker away): exponential backoff with jitter, for as long as it takes, unless stopped."""

from __future__ import annotations

import random
import threading
import time


class Backoff:
    """Delays that double from ``initial`` up to ``maximum``, each jittered to 50–150 %."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.delay = initial
        self.maximum = maximum

    def wait(self, stop: threading.Event | None = None) -> bool:
        """Sleep the next delay; False if ``stop`` was set meanwhile."""
        delay = self.delay * (0.5 + random.random())
        self.delay = min(self.delay * 2, self.maximum)
        if stop is not None:
            return not stop.wait(delay)
        time.sleep(delay)
        return True
