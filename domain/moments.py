"""Reading ``as_of`` dates and ``known_at`` moments from users."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo


def parse_as_of(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"as_of must be a date YYYY-MM-DD, not {value!r}") from None


def parse_known_at(value: str, tz: ZoneInfo) -> datetime:
    """An ISO 8601 moment with offset; a bare date means the end of that day in ``tz``
    (docs/domain.md: "known on 2018-01-15" includes everything recorded that day)."""
    try:
        if len(value) == 10:
            return end_of_day(date.fromisoformat(value), tz)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"known_at must be an ISO 8601 moment (or a date), not {value!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"known_at needs a UTC offset, e.g. {value}+08:00")
    return moment


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.max, tzinfo=tz)
