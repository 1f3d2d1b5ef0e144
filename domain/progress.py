"""Divisions leaving poverty: yearly targets against the rosters, 回头看 due dates, helpers.

Pure functions over numbers the read models give (exits of a year, incidence at a date)
and over household cards; the queries that gather them are in :mod:`projections.lists`.

* **Progress** (会宁县委发〔2015〕53号 二、目标任务): each yearly target of a division — persons
  or households to exit, villages to 出列, an incidence ceiling — beside what the rosters
  show for that year, as of D (a year not over yet counts up to D), as known at K.
* **回头看 due** (《湖光镇持续开展打赢脱贫攻坚战两年行动方案(2020-2021年)》第20条): an exited
  household is due every ``revisit_interval_days`` after its exit or its latest revisit.
* **定责任人** (泰发〔2016〕5号 三(八)): a poor household without a responsible helper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from domain.policy import YearTarget
from domain.vocab import COUNTED_POOR, Status

#: Statuses a 定责任人 check covers: on the register and not yet exited.
NEEDS_HELPER = frozenset({*COUNTED_POOR, Status.EXIT_PENDING})


@dataclass(frozen=True)
class YearActual:
    """What the rosters show for one year of a division, up to ``through``."""

    year: int
    through: date
    exit_households: int
    exit_persons: int
    #: percent, None where the division has no rural population recorded
    incidence: float | None
    #: None: the registry does not record village 出列 for this division
    villages_exited: int | None = None


def progress(targets: Sequence[YearTarget], actuals: Mapping[int, YearActual]) -> list[dict[str, Any]]:
    """One line per target year up to the last one with an actual: each target, the actual,
    and whether it is met (None where the year is not over or the figure is unknown)."""
    lines = []
    for target in sorted(targets, key=lambda t: t.year):
        actual = actuals.get(target.year)
        if actual is None:
            continue
        over = actual.through >= date(target.year, 12, 31)
        items = []
        for name, wanted, got, at_least in (
            ("exit_persons", target.exit_persons, actual.exit_persons, True),
            ("exit_households", target.exit_households, actual.exit_households, True),
            ("villages_exited", target.villages_exited, actual.villages_exited, True),
            ("incidence_max", target.incidence_max, actual.incidence, False),
        ):
            if wanted is None:
                continue
            if got is None:
                met = None
            elif at_least:
                met = got >= wanted if over or got >= wanted else None
            else:
                met = got < wanted if over else None
            items.append({"target": name, "label": TARGET_LABELS_ZH[name], "wanted": wanted, "actual": got,
                          "met": met})
        lines.append({"year": target.year, "through": actual.through.isoformat(), "year_over": over,
                      "items": items})
    return lines


TARGET_LABELS_ZH = {
    "exit_persons": "脱贫人口",
    "exit_households": "脱贫户数",
    "villages_exited": "贫困村出列",
    "incidence_max": "贫困发生率(%)低于",
}


def revisit_due_on(exited_on: date, last_revisited_on: date | None, interval_days: int) -> date:
    """The day an exited household is next due for 回头看."""
    since = max(d for d in (exited_on, last_revisited_on) if d is not None)
    return since + timedelta(days=interval_days)


def needs_helper(card: Mapping[str, Any]) -> bool:
    """A poor household (poor, returned, exit_pending) with no responsible helper: none
    assigned (HelperAssigned) and no measure naming one (定对象、定项目、定责任人)."""
    if card.get("status") not in {s.value for s in NEEDS_HELPER}:
        return False
    if card.get("helpers"):
        return False
    return not any(m.get("helper") for m in card.get("measures") or [])


#: Division-level decisions: the event type, the code length it applies to, its setting.
DIVISION_DECISIONS: dict[str, tuple[int, str, str]] = {
    "VillageExited": (12, "village_exit_max_incidence", "贫困村出列"),
    "CountyDelisted": (6, "county_delist_max_incidence", "贫困县摘帽"),
}


def check_division_decision(
    kind: str, code: str, on: date, poor_persons: int, population: int | None, ceiling: float | None,
    already: Sequence[str] = (),
) -> float:
    """Refuse a 出列/摘帽 whose criterion the rosters do not meet on ``on``; return the
    incidence (percent) it was judged on. ``ceiling``: the policy's maximum incidence then."""
    from domain.errors import InvalidInput, RuleViolation

    if kind not in DIVISION_DECISIONS:
        raise InvalidInput(
            f"未知的区划决定 {kind!r};可用: {', '.join(DIVISION_DECISIONS)}",
            detail_en=f"unknown division decision {kind!r}; known: {', '.join(DIVISION_DECISIONS)}",
            rule="unknown_division_decision",
        )
    length, setting, name = DIVISION_DECISIONS[kind]
    if len(code) != length:
        raise InvalidInput(
            f"{name}只适用于 {length} 位区划代码,{code} 不是",
            detail_en=f"{kind} applies to {length}-digit division codes, not {code}",
            rule="division_level",
        )
    if kind in already:
        raise RuleViolation(f"{code} 已记录{name}", detail_en=f"{code} already has a {kind}",
                            rule="division_already_decided")
    if ceiling is None:
        raise InvalidInput(
            f"{on} 时没有{name}标准({setting})", detail_en=f"no {setting} is in force on {on}",
            rule="no_policy_in_force",
        )
    if not population:
        raise RuleViolation(
            f"{code} 于 {on} 没有农村户籍人口,无法计算贫困发生率",
            detail_en=f"{code} has no rural population on {on}: its incidence cannot be computed",
            rule="division_incidence_unknown",
        )
    incidence = poor_persons / population * 100
    if incidence >= ceiling:
        raise RuleViolation(
            f"{name}须贫困发生率低于 {ceiling:g}%;{code} 于 {on} 为 {incidence:.2f}%"
            f"({poor_persons} 人 / {population} 人)",
            detail_en=f"{kind} needs an incidence below {ceiling:g} %; {code} has {incidence:.2f} % on {on} "
            f"({poor_persons} of {population} persons)",
            rule="division_incidence_too_high",
            incidence=round(incidence, 4), ceiling=ceiling, poor_persons=poor_persons, population=population,
        )
    return incidence
