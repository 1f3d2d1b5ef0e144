"""The mapper of the registry's store: the library's, with its write-path events encoded in Rust."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic
from pydantic_core import to_json

from domain.household import Household, IdempotencyRecord, PersonIndex, QuotaLedger

#: Event classes whose fields, but for ``timestamp``, are JSON data by construction
#: (strings, numbers, and bodies dumped with ``model_dump(mode="json")``).
JSON_DATA_EVENTS = frozenset({
    Household.Identified, Household.Recorded, PersonIndex.Opened, PersonIndex.Listed,
    QuotaLedger.Opened, QuotaLedger.Counted, QuotaLedger.Released, IdempotencyRecord.Stored,
})


class JsonDataMapper(Mapper[str]):
    """The library's mapper, encoding the registry's own write-path events in Rust.

    The library's transcoder runs ``json``'s encoder with a Python callback for the
    timestamp (~12 % of a batched save). For the events above the only value that
    needs a transcoding is the top-level ``timestamp``: it is wrapped as the
    library's ``datetime_iso`` transcoding would wrap it, and the rest is written by
    pydantic-core's ``to_json`` — the same JSON (keys in order, non-ASCII as UTF-8,
    ``Infinity``/``NaN`` as Python's ``json`` writes them), which the library's
    transcoder decodes to the same event; only a float's exponent may be spelled
    differently (``1e-7`` for ``1e-07``). Any other event goes the library's way.
    """

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        cls = type(domain_event)
        timestamp = getattr(domain_event, "timestamp", None)
        if (
            cls not in JSON_DATA_EVENTS
            or type(timestamp) is not datetime
            or not isinstance(self.transcoder, JSONTranscoder)
            or self.transcoder.types.get(datetime) is None
        ):
            return super().to_stored_event(domain_event)
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        state["timestamp"] = {"_type_": self.transcoder.types[datetime].name, "_data_": timestamp.isoformat()}
        data = to_json(state, inf_nan_mode="constants")
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(originator_id=originator_id, originator_version=originator_version,
                           topic=get_topic(cls), state=data)
