"""What a subscriber is: the class you write (:class:`Subscriber`), the error that asks for a
retry, a record as the runner sees it, and the runner's counters. :mod:`consumers.base` runs it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from consumers.messages import FeedMessage
from persistence.db import Database, Tx


class RetryableError(Exception):
    """Raise from ``handle`` for a temporary failure: the batch is rolled back and retried later."""


class Subscriber:
    """Override :attr:`name`, :attr:`tables` and :meth:`handle` (or :meth:`handle_batch`)."""

    #: the subscriber's identity: its de-duplication namespace and default consumer group.
    name: str = "subscriber"
    #: ``CREATE … IF NOT EXISTS`` statements for the subscriber's own tables.
    tables: Sequence[str] = ()
    #: apply a household's events strictly in version order (defer an event that runs ahead).
    strict_order: bool = True
    #: validate the event payload (pydantic) before ``handle``; invalid → dead-letter topic.
    validate: bool = True

    def setup(self, db: Database) -> None:
        if self.tables:
            db.ddl(*self.tables)

    def begin(self, tx: Tx) -> None:
        """Called first in every transaction, before the de-duplication reads (e.g. to take a lock
        that other writers of the same tables also take)."""

    def handle(self, message: FeedMessage, tx: Tx) -> None:
        raise NotImplementedError

    def handle_batch(self, messages: Sequence[FeedMessage], tx: Tx) -> None:
        """Apply several new events at once (default: :meth:`handle` each). If it raises a
        non-retryable error the runner retries the messages one by one to isolate the bad one."""
        for message in messages:
            self.handle(message, tx)

    def rolled_back(self) -> None:
        """Called when writes of ``handle``/``handle_batch`` were rolled back (drop any in-memory cache)."""

    #: also consume ``<topic>.restatements`` and pass its messages to :meth:`handle_restatements`.
    restatements: bool = False

    def handle_restatements(self, messages: Sequence[dict[str, Any]], tx: Tx) -> None:
        """Apply restatements (consumers/restatements.py): each once, in order per household."""


@dataclass
class Record:
    """The parts of a Kafka ConsumerRecord the runner uses (tests build these by hand)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class Stats:
    """The runner's counters (its metrics endpoint shows them): the messages by what became of
    them, where it last applied, how it went."""

    applied_total: int = 0
    #: restatement messages applied (``Subscriber.restatements``)
    restatements_total: int = 0
    duplicates_total: int = 0
    deferred_total: int = 0
    dead_letters_total: int = 0
    last_applied_at: float | None = None
    last_applied_position: int = 0
    retries_total: int = 0
    batches_total: int = 0
    last_error: str | None = None
