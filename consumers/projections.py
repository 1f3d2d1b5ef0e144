"""The projection consumer (``povreg consume projections``): the scaled mode.

Builds the household read models (:class:`~projections.households.HouseholdProjection`:
the events, cards and bitemporal timeline behind cards, rosters, adjustments
and incidence) from the topic instead of from the notification log, so they
can be built on other machines — as many consumers in one group as the topic
has partitions. A household's events are all on one partition, in version
order, which is all that projection needs (it re-folds one household at a
time). The projecting itself is the in-process code, called with the events
of the messages: there is no second implementation to drift.

The projection's rows, the subscriber base's de-duplication records and the
per-partition tracking row (``proj_tracking``: ``kafka:<topic>:<partition>``,
the next offset) are written in one transaction on the read model's own
connection, then the Kafka offsets are committed: each event applied once.

Divisions, policies and the audit chain are not household events on the topic:
they stay with the log's catch-up (``povreg projections catch-up``, or the
API's). That catch-up projects household events too; both writers take the
``households`` tracking row's lock first (PostgreSQL; SQLite serialises writers
anyway) and the projection is idempotent by ``(household_id, version)``, so
whichever comes first applies an event and the other skips it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bootstrap.settings import Settings
from consumers.base import Subscriber, SubscriberRunner
from consumers.messages import FeedMessage
from persistence.db import Tx
from service.registry import Registry


class ProjectionSubscriber(Subscriber):
    """Feeds the household projection from the topic."""

    name = "projections"

    def __init__(self, store: Any, topic: str) -> None:
        self.store = store
        self.topic = topic

    def begin(self, tx: Tx) -> None:
        # The lock the log's catch-up takes on the same tables (ProjectionStore.lock_positions).
        if tx.backend == "postgres":
            tx.execute("SELECT position FROM proj_tracking WHERE name = ? FOR UPDATE", (self.store.households.name,))

    def handle(self, message: FeedMessage, tx: Tx) -> None:
        self.handle_batch([message], tx)

    def rolled_back(self) -> None:
        self.store.households.reset()

    def handle_batch(self, messages: Sequence[FeedMessage], tx: Tx) -> None:
        # The runner's transactions are the projection store's (one database, its sealer).
        self.store.households.apply(tx, [(m.position, m.event) for m in messages])
        # Where each partition got to, in the same transaction as the rows.
        last: dict[int, int] = {}
        for m in messages:
            last[m.partition] = max(last.get(m.partition, -1), m.offset)
        for partition, offset in last.items():
            name = f"kafka:{self.topic}:{partition}"
            tx.execute("INSERT INTO proj_tracking (name, position, updated_us) VALUES (?, 0, 0) "
                       "ON CONFLICT DO NOTHING", (name,))
            tx.execute("UPDATE proj_tracking SET position = ? WHERE name = ? AND position < ?",
                       (offset + 1, name, offset + 1))


def projection_runner(settings: Settings, registry: Registry | None = None, **runner_kw: Any
                      ) -> tuple[SubscriberRunner, Registry]:
    """A runner for the projection consumer; returns it and the registry it opened (close both)."""
    from projections.runner import ProjectionStore

    registry = registry or Registry(settings)
    store = ProjectionStore(registry)
    # The read models hold personal data: the projection consumers read the full events.
    topic = runner_kw.pop("topic", None) or settings.kafka_pii_topic
    if not topic:
        raise ValueError("the projection consumers read the full events: set POVREG_KAFKA_PII_TOPIC")
    subscriber = ProjectionSubscriber(store, topic)
    runner = SubscriberRunner(subscriber, settings, topic=topic, db=store.db, **runner_kw)
    return runner, registry
