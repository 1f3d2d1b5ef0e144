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
#: Statuses counted as poor: in rosters' poor counts, the incidence and the adjustment report
#: (an exit is not final until confirmed).
COUNTED_POOR = frozenset({Status.POOR, Status.RETURNED, Status.EXIT_PENDING})
#: Statuses that accept the events that keep the status ("same" in docs/domain.md).
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

class EligibilityException(StrEnum):
    """Why a household whose income is not below the line may still be identified: the
    policy lists which it admits (国开办发〔2014〕24号: 两不愁三保障 not secured; 湖光镇
    方案 §20: 因灾因病新产生的贫困人口及时纳入)."""

    SUDDEN_DISASTER = "sudden_disaster"
    SUDDEN_ILLNESS = "sudden_illness"
    GUARANTEES_NOT_SECURED = "guarantees_not_secured"


#: Chinese labels, per vocabulary (the same code may read differently in two of them:
#: ``disability`` is 因残 as a cause and 残疾 as a member's health).
LABELS_ZH_BY_KIND: dict[str, dict[str, str]] = {
    "status": {
        "proposed": "拟识别",
        "poor": "在档未脱贫",
        "exit_pending": "拟退出",
        "exited": "已脱贫",
        "returned": "返贫",
        "rejected": "未通过识别",
        "removed": "清退",
        "closed": "销户",
    },
    "attribute": {"general": "一般贫困户", "dibao": "低保贫困户", "tekun": "特困供养贫困户"},
    "cause": {
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
    },
    "pathway": {
        "industry": "产业扶贫",
        "employment": "就业扶贫",
        "relocation": "易地扶贫搬迁",
        "ecological": "生态补偿",
        "education": "教育扶贫",
        "health": "健康扶贫",
        "social_assistance": "社会保障兜底",
        "asset_income": "资产收益扶贫",
        "other": "其他",
    },
    "measure": {
        "industry": "产业帮扶",
        "employment": "就业帮扶",
        "education": "教育帮扶",
        "health": "健康帮扶",
        "housing": "危房改造",
        "relocation": "易地扶贫搬迁",
        "social_assistance": "兜底保障",
        "microcredit": "小额信贷",
        "asset_income": "资产收益",
        "ecological": "生态扶贫",
        "training": "技能培训",
        "other": "其他",
    },
    "finding": {"stable": "稳定脱贫", "at_risk": "脱贫不稳定", "wrongly_exited": "错退"},
    "relation": {
        "head": "户主",
        "spouse": "配偶",
        "child": "子女",
        "parent": "父母",
        "grandchild": "孙子女",
        "sibling": "兄弟姐妹",
        "other": "其他",
    },
    "labour": {"full": "有劳动能力", "weak": "弱劳动力", "none": "无劳动能力"},
    "health": {
        "healthy": "健康",
        "chronic_illness": "长期慢性病",
        "serious_illness": "大病",
        "disability": "残疾",
    },
    "guarantee": {
        "food": "不愁吃",
        "clothing": "不愁穿",
        "education": "义务教育有保障",
        "medical": "基本医疗有保障",
        "housing": "住房安全有保障",
        "water": "饮水安全有保障",
    },
    "eligibility_exception": {
        "sudden_disaster": "突发因灾致贫",
        "sudden_illness": "突发因病致贫",
        "guarantees_not_secured": "两不愁三保障未达标",
    },
    "exit_policy": {"enjoying": "已脱贫(享受政策)", "not_enjoying": "已脱贫(不再享受政策)"},
}

#: One flat table (status, attribute, cause and the rest, first vocabulary wins):
#: for a code whose vocabulary the caller does not know.
LABELS_ZH: dict[str, str] = {}
for _labels in LABELS_ZH_BY_KIND.values():
    for _code, _label in _labels.items():
        LABELS_ZH.setdefault(_code, _label)


def label_zh(kind: str, code: str | None) -> str | None:
    """The Chinese label of ``code`` in vocabulary ``kind`` (the code itself if unknown)."""
    if code is None:
        return None
    return LABELS_ZH_BY_KIND.get(kind, {}).get(code, code)
