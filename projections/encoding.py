"""How the read models store time: dates as ISO text, moments as integer microseconds.

Projections live in the same database as the events, in tables of their own
(``proj_*``), reached through :mod:`persistence.db`. Dates are stored as ISO
text (``YYYY-MM-DD``, which sorts correctly) and moments as integer
microseconds since the Unix epoch (exact, index-friendly, no time zone to get
wrong); :func:`to_us` and :func:`from_us` convert.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
#: ``valid_to`` of an interval that is still open (valid time).
OPEN_DATE = "9999-12-31"
#: ``known_to`` of a row still believed (transaction time).
OPEN_US = 2**62


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact integer arithmetic)."""
    if moment.tzinfo is None:
        raise ValueError("moments must be timezone-aware")
    return (moment - EPOCH) // ONE_US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


#: Values bound in one ``IN (…)`` list at the most.
IN_LIST = 500


def chunks(items: Sequence[Any], size: int = IN_LIST) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most ``size``: one query each, ``… IN (?, ?, …)``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def known_us(known_at: datetime | None) -> int:
    """The transaction-time bound of a query: ``known_from <= K < known_to``."""
    return OPEN_US - 1 if known_at is None else to_us(known_at)

