"""The simulated county's fixed facts: its code and name, the period, the exit targets, and
how moments and local days are counted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain.policy_data import NATIONAL_POVERTY_LINES

COUNTY_CODE = "620422"
COUNTY_NAME = "会宁县"
FIRST_DAY = date(2014, 1, 1)
LAST_DAY = date(2021, 12, 31)
#: 会宁县委发〔2015〕53号 二、目标任务: persons to exit each year.
EXIT_TARGETS: dict[int, int] = {2015: 23_000, 2016: 42_000, 2017: 42_000, 2018: 12_500, 2019: 8_900, 2020: 4_200}
#: Late identification cohorts (dynamic adjustment) by year, as shares of all households.
LATE_COHORTS: dict[int, float] = {2015: 0.035, 2016: 0.025, 2017: 0.02, 2018: 0.012, 2019: 0.008}

_US = 1_000_000
_DAY_US = 86_400 * _US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_SHANGHAI_OFFSET_US = 8 * 3600 * _US  # Asia/Shanghai has no daylight saving time
META = ("EventCorrected", "EventRetracted")
#: Events recorded at least this many days after their effective date count as late.
LATE_DAYS = 14

ALL_SECURE = {k: True for k in ("food", "clothing", "education", "medical", "housing", "water")}


def poverty_line(year: int) -> float:
    """The national line in force in ``year`` (the latest published for later years)."""
    known = [y for y in NATIONAL_POVERTY_LINES if y <= year]
    return NATIONAL_POVERTY_LINES[max(known)] if known else NATIONAL_POVERTY_LINES[min(NATIONAL_POVERTY_LINES)]


def local_day(moment_us: int) -> int:
    """The Asia/Shanghai calendar day (as an ordinal) of a moment in µs since the epoch."""
    return (moment_us + _SHANGHAI_OFFSET_US) // _DAY_US + _EPOCH_ORDINAL


def moment(moment_us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=moment_us)


def _local_us(day: date, seconds: float) -> int:
    """µs since the epoch of ``seconds`` after local midnight of ``day`` in Asia/Shanghai."""
    return (day.toordinal() - _EPOCH_ORDINAL) * _DAY_US + int(seconds * _US) - _SHANGHAI_OFFSET_US
