"""Stored events name their classes by topic: every topic a store holds reads back to its class,
and new events are written under the same topics, wherever the classes live in the code."""

from __future__ import annotations

import pytest
from eventsourcing.utils import get_topic, resolve_topic

import service.registry  # noqa: F401  (imports every aggregate, as a registry does before it reads)

#: Every aggregate's and aggregate event's topic, as stores have kept them from the start.
STORED_TOPICS = [
    f"povreg.domain.household:{name}"
    for name in (
        "Household", "Household.Event", "Household.Identified", "Household.Recorded",
        "PersonIndex", "PersonIndex.Event", "PersonIndex.Opened", "PersonIndex.Listed",
        "QuotaLedger", "QuotaLedger.Event", "QuotaLedger.Opened", "QuotaLedger.Counted", "QuotaLedger.Released",
        "IdempotencyRecord", "IdempotencyRecord.Event", "IdempotencyRecord.Stored",
        "Division", "Division.Event", "Division.Registered", "Division.Updated",
        "DivisionDecisions", "DivisionDecisions.Event", "DivisionDecisions.Opened", "DivisionDecisions.Decided",
        "PolicyRegister", "PolicyRegister.Event", "PolicyRegister.Opened", "PolicyRegister.VersionRecorded",
        "AccessToken", "AccessToken.Event", "AccessToken.Issued", "AccessToken.Revoked",
        "TokenRegister", "TokenRegister.Event", "TokenRegister.Opened", "TokenRegister.Listed",
    )
]


@pytest.mark.parametrize("topic", STORED_TOPICS)
def test_a_stored_topic_reads_back_to_its_class_and_new_events_keep_it(topic: str) -> None:
    cls = resolve_topic(topic)
    assert isinstance(cls, type) and cls.__qualname__ == topic.partition(":")[2]
    assert get_topic(cls) == topic
