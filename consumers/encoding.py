"""The relay's messages of a page of the notification log.

Each household event is read once (:func:`consumers.messages.stored_item`: straight from the
stored JSON where that is exact), given its past changes (consumers/folds.py: the findings it
opened or resolved, the restatements it causes) and written once per topic: masked for the
household topic, whole for the opt-in personal-data topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from consumers.folds import HouseholdFolds
from consumers.messages import encode_values, stored_item
from consumers.restatements import values
from service.registry import Registry


@dataclass(frozen=True, slots=True)
class Encoded:
    """The values of one household event: the household topic's, the personal-data topic's (None
    when it is off) and its restatements' (published when restating)."""

    masked: bytes
    full: bytes | None
    restatements: list[bytes]


class PageEncoder:
    def __init__(self, registry: Registry, ref_key: bytes, full: bool = False,
                 folds: HouseholdFolds | None = None) -> None:
        self.mapper = registry.mapper
        self.ref_key = ref_key
        self.full = full
        self.folds = folds or HouseholdFolds(registry)

    def encode(self, notifications: Sequence[Any], restating: bool) -> list[Encoded]:
        """The values of ``notifications`` (household events, in log order)."""
        read = [stored_item(n, self.mapper) for n in notifications]
        past = self.folds.page([item for item, _ in read], restating)
        ref_key, full = self.ref_key, self.full
        out = []
        for n, (item, dumps), changes in zip(notifications, read, past, strict=True):
            masked, whole = encode_values(item, dumps, ref_key, full, changes.findings)
            out.append(Encoded(masked, whole, values(changes.restatements, n.id) if changes.restatements else []))
        return out
