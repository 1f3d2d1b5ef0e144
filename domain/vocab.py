"""Closed vocabularies of the registry (English codes; Chinese labels for display)."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PROPOSED = "proposed"
    POOR = "poor"
    EXIT_PENDING = "exit_pending"
    EXITED = "exited"
    RETURNED = "returned"
    REJECTED = "rejected"
    REMOVED = "removed"
    CLOSED = "closed"


#: Statuses in which a household is on the register and may take "same" events.
ACTIVE = frozenset(
    {Status.PROPOSED, Status.POOR, Status.EXIT_PENDING, Status.EXITED, Status.RETURNED}
)
#: Statuses counted as poor (incidence, rosters of the poor).
#: Statuses counted as poor: in rosters' poor counts, the incidence and the adjustment report
#: (an exit is not final until confirmed).
COUNTED_POOR = frozenset({Status.POOR, Status.RETURNED, Status.EXIT_PENDING})
#: Statuses that accept the events DOMAIN.md marks "same".
MAINTAINABLE = frozenset({Status.POOR, Status.RETURNED, Status.EXIT_PENDING, Status.EXITED})


class Attribute(StrEnum):
    GENERAL = "general"
    DIBAO = "dibao"
    TEKUN = "tekun"


class Cause(StrEnum):
    ILLNESS = "illness"
    DISABILITY = "disability"
    SCHOOLING = "schooling"
    DISASTER = "disaster"
    LACK_OF_LAND = "lack_of_land"
    LACK_OF_WATER = "lack_of_water"
    LACK_OF_SKILLS = "lack_of_skills"
    LACK_OF_LABOUR = "lack_of_labour"
    LACK_OF_CAPITAL = "lack_of_capital"
    POOR_TRANSPORT = "poor_transport"
    LOW_MOTIVATION = "low_motivation"
    OTHER = "other"


class Pathway(StrEnum):
    INDUSTRY = "industry"
    EMPLOYMENT = "employment"
    RELOCATION = "relocation"
    ECOLOGICAL = "ecological"
    EDUCATION = "education"
    HEALTH = "health"
    SOCIAL_ASSISTANCE = "social_assistance"
    ASSET_INCOME = "asset_income"
    OTHER = "other"


class MeasureCategory(StrEnum):
    INDUSTRY = "industry"
    EMPLOYMENT = "employment"
    EDUCATION = "education"
    HEALTH = "health"
    HOUSING = "housing"
    RELOCATION = "relocation"
    SOCIAL_ASSISTANCE = "social_assistance"
    MICROCREDIT = "microcredit"
    ASSET_INCOME = "asset_income"
    ECOLOGICAL = "ecological"
    TRAINING = "training"
    OTHER = "other"


class Finding(StrEnum):
    STABLE = "stable"
    AT_RISK = "at_risk"
    WRONGLY_EXITED = "wrongly_exited"


class Relation(StrEnum):
    HEAD = "head"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    GRANDCHILD = "grandchild"
    SIBLING = "sibling"
    OTHER = "other"


class Labour(StrEnum):
    FULL = "full"
    WEAK = "weak"
    NONE = "none"


class Health(StrEnum):
    HEALTHY = "healthy"
    CHRONIC_ILLNESS = "chronic_illness"
    SERIOUS_ILLNESS = "serious_illness"
    DISABILITY = "disability"


GUARANTEE_KEYS = ("food", "clothing", "education", "medical", "housing", "water")

LABELS_ZH: dict[str, str] = {
    "proposed": "拟识别",
    "poor": "在档未脱贫",
    "exit_pending": "拟退出",
    "exited": "已脱贫",
    "returned": "返贫",
    "rejected": "未通过识别",
    "removed": "清退",
    "closed": "销户",
    "general": "一般贫困户",
    "dibao": "低保贫困户",
    "tekun": "特困供养贫困户",
    "illness": "因病",
    "disability": "因残",
    "schooling": "因学",
    "disaster": "因灾",
    "lack_of_land": "缺土地",
    "lack_of_water": "缺水",
    "lack_of_skills": "缺技术",
    "lack_of_labour": "缺劳力",
    "lack_of_capital": "缺资金",
    "poor_transport": "交通条件落后",
    "low_motivation": "自身发展动力不足",
    "other": "其他",
}
