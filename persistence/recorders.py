"""What the registry asks of its store beyond the eventsourcing library's recorder interface.

The recorders of :mod:`persistence.sqlite` and :mod:`persistence.postgres` (the
persistence modules the settings name) provide it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from eventsourcing.persistence import StoredEvent

#: ``(position, originator_id, originator_version, topic, state)``
NotificationRow = tuple[int, str, int, str, bytes]


class RegistryRecorder(Protocol):
    def select_stored_events(self, ids: Sequence[str]) -> list[StoredEvent]:
        """The stored events of several aggregates, by id and version, in one query."""

    def notification_rows(self, after: int, limit: int) -> list[NotificationRow]:
        """Up to ``limit`` rows of the notification log after position ``after``."""
