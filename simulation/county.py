"""A realistic synthetic county: divisions and a time-ordered stream of recordings.

:class:`Simulation` is a pure generator. For a number of households and a seed it
builds a county modelled on 会宁县 (Huining, Gansu; 会宁县委发〔2015〕53号) — townships,
villages with rural populations — and the registry's history of its poor
households from 2014 through 2021, as a stream of :class:`Recording` items in
recording order: ``(recording moment, Command)``. The same seed gives the same
stream, item for item.

What the history holds (DOMAIN.md; the shares are parameters of :class:`Simulation`):

- identification in the 2014 campaign (建档立卡, April–September), a smaller
  cohort in the yearly dynamic adjustments of 2015–2019; each an
  ``IdentificationProposed`` followed 7–30 days later (the public notice) by
  ``IdentificationApproved``, or by ``IdentificationRejected`` (objection upheld);
- a helper cadre per household (帮扶责任人), rotated for some in 2017–2018;
- assistance measures by category, matched to the household's causes and its
  unmet guarantees (health for illness, housing for unsafe housing, education for
  schooling, microcredit and industry for lack of capital, …), most completed
  months later; relocation (易地扶贫搬迁) followed by a transfer to a
  resettlement village;
- a yearly income assessment (年终收入核算) for every household on the register;
- exits by year following the targets of 会宁县委发〔2015〕53号 (2015: 2.3万 persons, 2016 and 2017:
  4.2万 each, 2018: 1.25万, 2019: 0.89万, 2020: 0.42万), scaled to the households
  simulated: an income assessment at or above the poverty line of the year,
  ``ExitProposed`` with every guarantee secured, ``ExitConfirmed`` with the
  household's acknowledgement 7–25 days later, in the same year; a few exits
  withdrawn after an objection and retried the next year;
- revisits of exited households (回头看): stable, at risk, a few wrongly exited;
- returns to poverty after illness or disaster (a flood in some townships in
  July 2018), re-exiting a year or two later;
- removals as ineligible (清退, in the 2015–2017 verification campaigns),
  closures of single elderly households, births, deaths and marriages;
- late recordings (a share recorded two to eight weeks after the event) and
  corrections (``EventCorrected`` of an income figure or an effective date), and
  a few double entries retracted (``EventRetracted``).

Every event is legal when it is recorded — the generator keeps the registry's
rules: a household's events that change its status or its members are recorded
in valid-time order, a late event never lands where the state machine forbids
it, corrections move dates only within the span where the household's state
is unchanged. Loading a stream therefore refuses (almost) nothing;
:func:`load` reports whatever it does refuse.

Events that refer to earlier events (``AssistanceMeasureCompleted.measure_id``,
``EventCorrected`` / ``EventRetracted.target_event_id``) cannot know the
target's event id, which the registry assigns when it records it. The generator
gives such targets a ``key`` and the referring command carries ``"@<key>"`` in
that field plus ``refs = {field: key}``; :func:`load` substitutes the real event
id from the target's receipt.
"""

from __future__ import annotations

import gc
import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

from domain.errors import DomainError
from domain.history import Actor
from domain.idnumber import with_check_digit
from domain.policy_data import NATIONAL_POVERTY_LINES

if TYPE_CHECKING:
    from domain.commands import Command
    from service.registry import Registry

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


# --------------------------------------------------------------------- output


@dataclass(frozen=True)
class DivisionSpec:
    code: str
    name: str
    rural_population: int
    effective_date: date


class Recording:
    """One item of the stream: ``at`` (the intended recording moment) and ``command``.

    Unpacks as ``(at, command)``. ``key`` names this event for later events that
    refer to it; ``refs`` maps a payload field to the key of the event it refers to.
    """

    __slots__ = ("at", "command", "key", "refs")

    def __init__(self, at: datetime, command: Command, key: str | None = None,
                 refs: dict[str, str] | None = None) -> None:
        self.at = at
        self.command = command
        self.key = key
        self.refs = refs

    def __iter__(self) -> Iterator[Any]:
        return iter((self.at, self.command))

    def __repr__(self) -> str:
        return f"Recording({self.at.isoformat()}, {self.command.household_id}, {self.command.payload['type']})"

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "at": self.at.isoformat(timespec="microseconds"),
            "household_id": self.command.household_id,
            "actor": self.command.actor.as_dict(),
            "event": self.command.payload,
        }
        if self.key:
            data["key"] = self.key
        if self.refs:
            data["refs"] = self.refs
        return data


def tally(recordings: Iterable[Recording], stats: Counter[str]) -> Iterator[Recording]:
    """Pass ``recordings`` through, counting into ``stats``: events, each kind, late
    recordings (``late``: recorded ≥ LATE_DAYS local days after the effective date,
    corrections and retractions aside), and exits by year in households and in persons
    (the household's size when its exit is recorded)."""
    size: dict[str | None, int] = {}
    for rec in recordings:
        payload = rec.command.payload
        kind = payload["type"]
        stats["events"] += 1
        stats[kind] += 1
        effective = date.fromisoformat(payload["effective_date"])
        if kind not in META and local_day(_to_us(rec.at)) - effective.toordinal() >= LATE_DAYS:
            stats["late"] += 1
        hid = rec.command.household_id
        if kind == "IdentificationProposed":
            size[hid] = len(payload["members"])
        elif kind == "MembersChanged":
            size[hid] = size.get(hid, 0) + len(payload.get("joined", ())) - len(payload.get("left", ()))
        elif kind == "ExitConfirmed":
            stats[f"exit_households:{effective.year}"] += 1
            stats[f"exit_persons:{effective.year}"] += size.get(hid, 0)
        yield rec


def _to_us(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


# ----------------------------------------------------------------- the model


class _Rng(random.Random):
    """random.Random with cheaper ``randint`` and ``choice`` (the generator calls them millions of times)."""

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq: Any) -> Any:
        return seq[int(self.random() * len(seq))]


@dataclass(slots=True)
class _Person:
    name: str
    id_number: str
    relation: str
    born: date
    male: bool
    health: str

    def labour_on(self, on: date) -> str:
        age = _age(self.born, on)
        if age < 16 or age >= 70 or self.health in ("serious_illness", "disability"):
            return "none"
        if age >= 60 or self.health == "chronic_illness":
            return "weak"
        return "full"

    def as_member(self, on: date) -> dict[str, Any]:
        age = _age(self.born, on)
        return {
            "name": self.name,
            "id_number": self.id_number,
            "relation": self.relation,
            "labour": self.labour_on(on),
            "health": self.health,
            "in_school": 6 <= age <= 18 or (age <= 22 and self.relation in ("child", "grandchild") and age % 3 == 0),
        }


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@dataclass(slots=True)
class _Household:
    index: int
    household_id: str
    village: str
    township: str
    proposed_on: date
    members: list[_Person]
    attribute: str
    main_cause: str
    secondary_causes: list[str]
    income: float  # per capita, year before identification
    guarantees: dict[str, bool]
    rejected: bool = False
    removed_on: date | None = None
    closed_on: date | None = None
    exit_year: int | None = None
    returns: str | None = None  # "illness", "disaster", "other" or "wrongly_exited"
    relocates: bool = False

    @property
    def persons(self) -> int:
        return len(self.members)

    @property
    def terminal(self) -> date | None:
        dates = [d for d in (self.removed_on, self.closed_on) if d]
        return min(dates) if dates else None


class _Ev:
    """One planned event of a household."""

    __slots__ = ("actor", "deps", "eff", "gen", "household", "key", "kind", "payload", "rec", "refs",
                 "serial", "structural")

    def __init__(self, household: _Household, eff: date, gen: int, payload: dict[str, Any], actor: Actor | None,
                 structural: bool, deps: tuple[_Ev, ...], refs: dict[str, _Ev] | None) -> None:
        self.household = household
        self.eff = eff
        self.gen = gen
        self.kind: str = payload["type"]
        self.payload = payload
        self.actor = actor
        self.structural = structural
        self.deps = deps
        self.refs = refs
        self.key: str | None = None
        self.rec = 0
        self.serial = 0


def _words(text: str) -> list[str]:
    return text.split()


SURNAMES = "王张李刘杨赵马陈何郭魏田朱罗胡高周吴孙徐牛苟柴党汪万冯景"
SURNAME_WEIGHTS = [14, 12, 11, 10, 9, 8, 8, 6, 5, 5, 4, 4, 4, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1]
GIVEN_MALE = _words(
    "建国 建军 军 强 伟 明 福 贵 海 平 忠 国栋 斌 文 武 成 林 山 宏 学 兵 德 荣 生 发 "
    "新 春 有 永 振 志刚 进 保 喜 耀 宝 虎 玉 庆 世 万 全"
)
GIVEN_FEMALE = _words(
    "秀英 桂英 玉兰 秀兰 桂兰 淑珍 凤英 丽 芳 娟 霞 敏 燕 红 梅 兰 琴 花 英 玲 莉 静 翠 "
    "萍 彩霞 小燕 亚 慧 婷 雪"
)
TOWNSHIP_NAMES = _words(
    "会师镇 郭城驿镇 河畔镇 头寨子镇 太平店镇 甘沟驿镇 侯家川镇 柴家门镇 汉家岔镇 刘寨镇 "
    "中川镇 杨崖集镇 翟家所镇 韩集镇 土门岘镇 大沟镇 四房吴镇 白草塬镇 老君坡镇 平头川镇 "
    "丁家沟镇 新添堡回族乡 党家岘乡 八里湾乡 新塬镇 草滩镇 土高山乡 丁沟乡"
)
TERRAIN = "岔湾塬川沟坪岘堡庄咀台山河梁渠峡"
VILLAGE_PREFIX = ("", "上", "下", "东", "西", "新", "前", "后", "大", "小")
#: Regions of ID numbers of people born outside the county (married in).
OTHER_REGIONS = ("620421", "620423", "620402", "640522", "620522", "621121")

CAUSE_WEIGHTS = {
    "lack_of_capital": 22, "lack_of_skills": 16, "lack_of_labour": 10, "lack_of_land": 5, "lack_of_water": 6,
    "poor_transport": 5, "low_motivation": 4, "disaster": 5, "illness": 16, "disability": 5, "schooling": 5,
    "other": 1,
}
MEASURE_BY_CAUSE = {
    "illness": ["health", "health", "social_assistance"],
    "disability": ["social_assistance", "health"],
    "schooling": ["education", "education", "microcredit"],
    "disaster": ["housing", "industry"],
    "lack_of_land": ["industry", "relocation", "employment"],
    "lack_of_water": ["ecological", "industry"],
    "lack_of_skills": ["training", "employment", "training"],
    "lack_of_labour": ["social_assistance", "asset_income"],
    "lack_of_capital": ["microcredit", "industry", "industry"],
    "poor_transport": ["employment", "industry"],
    "low_motivation": ["training", "employment"],
    "other": ["industry", "other"],
}
MEASURE_TEXT = {
    "industry": ("发放基础母羊{n}只，扶持发展草畜产业", 3000, 12000, "财政专项扶贫资金"),
    "employment": ("组织劳务输转，安排公益性岗位", 0, 6000, "劳务输转专项资金"),
    "education": ("落实教育资助（雨露计划）", 1000, 5000, "教育扶贫资金"),
    "health": ("新农合住院报销提高5个百分点，大病救助", 2000, 20000, "医疗救助资金"),
    "housing": ("农村危房改造补助", 15000, 40000, "危房改造资金"),
    "relocation": ("易地扶贫搬迁，集中安置", 40000, 80000, "易地扶贫搬迁资金"),
    "social_assistance": ("纳入农村低保，按月发放低保金", 1500, 4500, "城乡低保资金"),
    "microcredit": ("精准扶贫专项贷款，5万元以内3年期免抵押免担保", 20000, 50000, "精准扶贫专项贷款"),
    "asset_income": ("光伏扶贫资产收益分红", 1000, 3000, "资产收益扶贫资金"),
    "ecological": ("退耕还林补助，聘为生态护林员", 2000, 10000, "生态补偿资金"),
    "training": ("全膜种植、养殖技术培训", 300, 1500, "科技扶贫资金"),
    "other": ("临时救助", 500, 3000, "社会帮扶资金"),
}
PATHWAY_BY_MEASURE = {
    "industry": "industry", "microcredit": "industry", "employment": "employment", "training": "employment",
    "education": "education", "health": "health", "relocation": "relocation", "ecological": "ecological",
    "social_assistance": "social_assistance", "asset_income": "asset_income", "housing": "other",
    "other": "other",
}
HELPER_UNITS = ("会宁县农牧局", "会宁县教育局", "会宁县卫计局", "会宁县扶贫办", "会宁县人社局", "会宁县水务局",
                "会宁县住建局", "会宁县财政局", "白银市驻村帮扶工作队", "中国农业银行会宁支行")
REMOVAL_REASONS = ("家庭成员有财政供养人员（错评）", "家庭拥有小轿车（错评）", "经营个体工商户，收入较高（错评）",
                   "在县城购买商品房（错评）", "家庭成员为村干部且收入稳定（错评）")
#: 清退 campaigns: 精准识别回头看 2015, 2016 spring, the national verification of 2017.
REMOVAL_WINDOWS = ((date(2015, 6, 1), date(2015, 9, 30)), (date(2016, 3, 1), date(2016, 5, 31)),
                   (date(2017, 7, 1), date(2017, 9, 30)))
RETURN_REASONS = {"illness": "家庭成员患大病，医疗支出大", "disaster": "遭受暴洪灾害，房屋受损",
                  "other": "主要劳动力务工中断"}
FLOOD = date(2018, 7, 21)  # 暴洪: disaster returns cluster in the flooded townships


@dataclass(frozen=True)
class SimulationShares:
    """Tunable shares (fractions) of the simulated history."""

    rejected: float = 0.02
    removed: float = 0.015
    single_closes: float = 0.3
    relocates: float = 0.06
    returns: float = 0.035
    flood_returns: float = 0.1
    withdrawn_exits: float = 0.015
    #: chance that an event's recording is delayed by 14–56 days (dependencies add a little).
    late: float = 0.044
    #: corrections, as a share of all household events
    corrected: float = 0.01
    #: double entries (retracted later), as a share of helper and measure assignments
    duplicated: float = 0.004
    member_change_per_year: float = 0.07
    helper_rotation: float = 0.4


class Simulation:
    """The county and its history for ``households`` households, deterministic for ``seed``."""

    def __init__(self, households: int = 100_000, seed: int = 1, shares: SimulationShares | None = None) -> None:
        if households < 1:
            raise ValueError("households must be at least 1")
        self.households = households
        self.seed = seed
        self.shares = shares or SimulationShares()
        self.villages = max(2, math.ceil(households / 125))
        self.townships = max(1, math.ceil(self.villages / 10))
        #: filled by :meth:`recordings`: what the stream holds
        self.stats: Counter[str] = Counter()
        self._ids = _IdNumbers()
        self._census_cache: tuple[list[_Household], dict[str, list[str]]] | None = None

    # ----------------------------------------------------------- divisions

    def _division_names(self) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
        rng = _Rng(f"povreg-sim:{self.seed}:divisions")
        townships: list[tuple[str, str]] = []
        villages: dict[str, list[tuple[str, str]]] = {}
        per = [self.villages // self.townships + (1 if i < self.villages % self.townships else 0)
               for i in range(self.townships)]
        for i in range(self.townships):
            code = f"{COUNTY_CODE}{100 + i:03d}"
            name = (TOWNSHIP_NAMES[i] if i < len(TOWNSHIP_NAMES)
                    else f"{SURNAMES[i % len(SURNAMES)]}家{TERRAIN[i % len(TERRAIN)]}{i}乡")
            townships.append((code, name))
            used: set[str] = set()
            rows = []
            for j in range(per[i]):
                while True:
                    vname = (rng.choice(VILLAGE_PREFIX) + rng.choices(SURNAMES, SURNAME_WEIGHTS)[0] + "家"
                             + rng.choice(TERRAIN) + "村")
                    if vname not in used:
                        break
                used.add(vname)
                rows.append((f"{code}{201 + j:03d}", vname if j else name.rstrip("镇乡") + "社区"))
            villages[code] = rows
        return townships, villages

    def divisions(self) -> list[DivisionSpec]:
        """The county, its townships and villages (parents first), effective 2014-01-01."""
        townships, villages = self._division_names()
        poor = self._poor_persons_by_village()
        rng = _Rng(f"povreg-sim:{self.seed}:population")
        specs: list[DivisionSpec] = []
        township_pop: dict[str, int] = {}
        village_specs: list[DivisionSpec] = []
        for code, _ in townships:
            total = 0
            for vcode, vname in villages[code]:
                persons = poor.get(vcode, 0)
                pop = round(persons / rng.uniform(0.15, 0.4)) if persons else rng.randint(800, 2500)
                pop = max(pop, persons + 100)
                total += pop
                village_specs.append(DivisionSpec(vcode, vname, pop, FIRST_DAY))
            township_pop[code] = total
        specs.append(DivisionSpec(COUNTY_CODE, COUNTY_NAME, sum(township_pop.values()), FIRST_DAY))
        specs += [DivisionSpec(code, name, township_pop[code], FIRST_DAY) for code, name in townships]
        specs += village_specs
        return specs

    def _poor_persons_by_village(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for h in self._census()[0]:
            counts[h.village] += h.persons
        return dict(counts)

    # -------------------------------------------------------------- census

    def _census(self) -> tuple[list[_Household], dict[str, list[str]]]:
        """Every household as identified, with its fate (exit year, return, removal …).

        Computed once per simulation (the plan reads it and never changes it).
        """
        if self._census_cache is None:
            self._census_cache = self._take_census(_Rng(f"povreg-sim:{self.seed}:census"))
        return self._census_cache

    def _take_census(self, rng: random.Random) -> tuple[list[_Household], dict[str, list[str]]]:
        shares = self.shares
        townships, villages = self._division_names()
        village_codes = [v for t, _ in townships for v, _ in villages[t]]
        ids = _IdNumbers()
        households: list[_Household] = []
        cohorts = list(LATE_COHORTS.items())
        for i in range(self.households):
            village = village_codes[i % len(village_codes)] if i < len(village_codes) else rng.choice(village_codes)
            r = rng.random()
            year = 2014
            for y, share in cohorts:
                if r < share:
                    year = y
                    break
                r -= share
            if year == 2014:
                proposed = date(2014, 4, 1) + timedelta(days=int(rng.triangular(0, 180, 50)))
            else:
                proposed = date(year, 9, 1) + timedelta(days=rng.randint(0, 90))
            members = _family(rng, ids, proposed)
            attribute, cause, secondary = _classify(rng, members, proposed)
            income = round(rng.uniform(1200, 2500) if attribute != "general" else rng.uniform(1500, 2700), 0)
            guarantees = {
                "food": rng.random() < 0.96, "clothing": rng.random() < 0.97, "education": rng.random() < 0.9,
                "medical": rng.random() < 0.8, "housing": rng.random() < 0.6, "water": rng.random() < 0.7,
            }
            h = _Household(i, f"H-{village}-{i:06d}", village, village[:9], proposed, members, attribute, cause,
                           secondary, income, guarantees)
            households.append(h)
            r = rng.random()
            if r < shares.rejected:
                h.rejected = True
            elif r < shares.rejected + shares.removed:
                windows = [w for w in REMOVAL_WINDOWS if w[1] > proposed + timedelta(days=120)]
                if windows:
                    lo, hi = rng.choice(windows)
                    lo = max(lo, proposed + timedelta(days=100))
                    h.removed_on = lo + timedelta(days=rng.randint(0, max(0, (hi - lo).days)))
            if not h.rejected and len(members) == 1 and rng.random() < shares.single_closes:
                start = proposed + timedelta(days=200)
                h.closed_on = start + timedelta(days=rng.randint(0, max(1, (LAST_DAY - start).days)))
            if not h.rejected and rng.random() < shares.relocates and cause in (
                "lack_of_land", "lack_of_water", "poor_transport", "disaster", "lack_of_capital"
            ):
                h.relocates = True
        self._allocate_exits(rng, households)
        flooded = {code for code, _ in townships[1::10]} or {townships[0][0]}
        for h in households:
            if h.exit_year is None:
                continue
            if h.township in flooded and h.exit_year < 2018 and rng.random() < shares.flood_returns:
                h.returns = "disaster"
            elif rng.random() < shares.returns:
                h.returns = rng.choices(["illness", "disaster", "other", "wrongly_exited"], [50, 20, 10, 20])[0]
        return households, {t: [v for v, _ in villages[t]] for t, _ in townships}

    def _allocate_exits(self, rng: random.Random, households: list[_Household]) -> None:
        """Exit years so that exited persons follow the yearly targets of 会宁县委发〔2015〕53号 (scaled)."""
        candidates = [h for h in households if not h.rejected and h.removed_on is None]
        total = sum(h.persons for h in candidates)
        target_total = sum(EXIT_TARGETS.values())
        order = list(candidates)
        rng.shuffle(order)
        for year, persons in sorted(EXIT_TARGETS.items()):
            quota = total * persons / target_total
            taken = 0.0
            for h in order:
                if taken >= quota:
                    break
                if h.exit_year is None and h.proposed_on.year < year:
                    h.exit_year = year
                    taken += h.persons
        for h in order:  # 2020: absolute poverty eliminated — everyone left exits
            if h.exit_year is None:
                h.exit_year = 2020

    # ------------------------------------------------------------- the plan

    def _plan(self, rng: random.Random, h: _Household, resettlement: dict[str, str],
              county_seat: str) -> list[_Ev]:
        """The household's events in valid-time order, with no recording moments yet."""
        evs: list[_Ev] = []
        shares = self.shares
        township_actor = Actor(f"{h.township}扶贫工作站", "recorder", h.township)
        county_recorder = Actor("会宁县扶贫办", "recorder", COUNTY_CODE)
        approver = Actor("会宁县扶贫开发领导小组办公室", "approver", COUNTY_CODE)
        recorder = county_recorder if h.relocates else township_actor

        def add(eff: date, payload: dict[str, Any], actor: Actor, structural: bool = False,
                deps: tuple[_Ev, ...] = (), refs: dict[str, _Ev] | None = None) -> _Ev:
            payload["effective_date"] = eff.isoformat()
            ev = _Ev(h, eff, len(evs), payload, actor, structural, deps, refs)
            evs.append(ev)
            return ev

        P = h.proposed_on
        members_now = list(h.members)
        attribute = h.attribute
        add(P, {
            "type": "IdentificationProposed",
            "division_code": h.village,
            "attribute": h.attribute,
            "main_cause": h.main_cause,
            "secondary_causes": h.secondary_causes,
            "income_per_capita": h.income,
            "income_year": P.year - 1,
            "guarantees": h.guarantees,
            "members": [m.as_member(P) for m in members_now],
            "batch": f"{P.year}年{'建档立卡' if P.year == 2014 else '动态调整'}",
            "reason": "农户申请，村民主评议通过，村内公示",
            "evidence": [f"公示-{h.village}-{P.year}-{P.month:02d}"],
        }, recorder, True)
        if h.rejected:
            add(P + timedelta(days=rng.randint(8, 30)), {
                "type": "IdentificationRejected",
                "reason": rng.choice(["公示期间群众举报，经核实家庭收入超标", "乡镇审核未通过：家庭有稳定务工收入"]),
            }, approver, True)
            return evs
        A = P + timedelta(days=rng.randint(7, 30))
        add(A, {"type": "IdentificationApproved", "approving_office": "会宁县扶贫开发领导小组办公室",
                "evidence": [f"县公告-{A.year}-{A.month:02d}"]}, approver, True)
        end = min(h.terminal or LAST_DAY + timedelta(days=1), LAST_DAY + timedelta(days=1))

        # --- exits, withdrawals, returns (the status skeleton) -------------------
        exited: list[tuple[date, date]] = []  # [confirmed, returned-or-end)
        exit_years: list[int] = []
        poor_years: set[int] = set()
        cursor = A
        entry_year = A.year
        exit_year = h.exit_year
        returns = h.returns
        while exit_year is not None and exit_year <= LAST_DAY.year:
            exit_year = max(exit_year, entry_year + 1)
            prop = date(exit_year, 10, 8) + timedelta(days=rng.randint(0, 43))
            prop = max(prop, cursor + timedelta(days=40))
            conf = prop + timedelta(days=rng.randint(7, 25))
            if conf >= end or conf.year != exit_year:
                break
            q = prop - timedelta(days=rng.randint(5, 40))
            q = max(q, cursor + timedelta(days=1))
            line = poverty_line(prop.year)
            qualifying = add(q, _income(rng, exit_year, line * rng.uniform(1.08, 1.7)), recorder)
            pathway = PATHWAY_BY_MEASURE[rng.choice(MEASURE_BY_CAUSE[h.main_cause])]
            if h.attribute != "general" and rng.random() < 0.6:
                pathway = "social_assistance"
            add(prop, {"type": "ExitProposed", "pathway": pathway, "guarantees": ALL_SECURE,
                       "reason": "收入稳定超过国家扶贫标准，两不愁三保障全部落实，村民主评议通过"},
                recorder, True, deps=(qualifying,))
            if rng.random() < shares.withdrawn_exits:
                wd = prop + timedelta(days=rng.randint(3, 6))
                add(wd, {"type": "ExitWithdrawn", "reason": "公示期间群众提出异议，经核实收入不稳定"}, recorder, True)
                poor_years.add(exit_year)
                cursor = wd
                exit_year += 1
                continue
            add(conf, {"type": "ExitConfirmed", "household_acknowledged": True,
                       "evidence": [f"退出公告-{conf.year}-{h.township}"]}, approver, True)
            exit_years.append(exit_year)
            if returns:
                if returns == "disaster" and conf < FLOOD:
                    rd = FLOOD + timedelta(days=rng.randint(3, 40))
                else:
                    rd = conf + timedelta(days=rng.randint(200, 1000))
                if rd < end and rd <= LAST_DAY:
                    exited.append((conf, rd))
                    if returns == "wrongly_exited":
                        add(rd, {"type": "Revisited", "finding": "wrongly_exited",
                                 "notes": "回头看：收入未达标，属错退"}, recorder, True)
                    else:
                        add(rd, {"type": "ReturnedToPoverty", "cause": returns, "reason": RETURN_REASONS[returns]},
                            recorder, True)
                    poor_years.update(range(rd.year, rd.year + 1))
                    returns = None
                    cursor = rd
                    entry_year = rd.year
                    exit_year = rd.year + rng.choice((1, 1, 2))
                    continue
            exited.append((conf, end))
            break

        def exited_on(d: date) -> bool:
            return any(s <= d < e for s, e in exited)

        # --- yearly income assessments -------------------------------------------
        traj = h.income
        for year in range(A.year, LAST_DAY.year + 1):
            traj *= rng.uniform(1.06, 1.25)
            if year in exit_years:
                continue  # the exit's own assessment stands for the year
            d = date(year, 11, 25) + timedelta(days=rng.randint(0, 30))
            if d <= A or d >= end:
                continue
            line = poverty_line(year)
            if exited_on(d):
                value = max(traj, line * rng.uniform(1.1, 1.8))
            elif rng.random() < 0.85 or year in poor_years:
                value = min(traj, line * rng.uniform(0.7, 0.98))
            else:
                value = traj
            add(d, _income(rng, year, value), recorder)

        # --- revisits (回头看) -------------------------------------------------------
        for s, e in exited:
            for year in range(s.year + 1, LAST_DAY.year + 1):
                d = date(year, 3, 1) + timedelta(days=rng.randint(0, 120))
                if not (s < d < e - timedelta(days=1)) or rng.random() > 0.45:
                    continue
                finding = "at_risk" if rng.random() < (0.12 if year == 2020 else 0.07) else "stable"
                add(d, {"type": "Revisited", "finding": finding,
                        "notes": "入户核查收入和两不愁三保障" if finding == "stable" else "收入不稳定，纳入监测"},
                    recorder)

        # --- helpers ------------------------------------------------------------------
        helper_day = A + timedelta(days=rng.randint(3, 40))
        if helper_day < end:
            self._assign_helper(rng, add, helper_day, recorder)
        if rng.random() < shares.helper_rotation:
            d = date(2017, 3, 1) + timedelta(days=rng.randint(0, 600))
            if A < d < end:
                self._assign_helper(rng, add, d, recorder)

        # --- measures -------------------------------------------------------------------
        last_exit = exited[-1][0] if exited else end
        span_end = min(end, last_exit + timedelta(days=365), LAST_DAY)
        categories = list(MEASURE_BY_CAUSE[h.main_cause])
        for c in h.secondary_causes:
            categories.append(MEASURE_BY_CAUSE[c][0])
        for key, category in (("housing", "housing"), ("medical", "health"), ("education", "education"),
                              ("water", "ecological")):
            if not h.guarantees[key]:
                categories.insert(0, category)
        count = rng.choice((1, 2, 2, 3, 3, 4)) + (1 if h.attribute == "general" else 0)
        chosen = categories[:count]
        for category in chosen:
            if category == "relocation":
                category = "industry"
            first = A + timedelta(days=10)
            if span_end <= first:
                break
            d = first + timedelta(days=rng.randint(0, (span_end - first).days))
            assigned = self._measure(rng, add, d, category, recorder)
            done = d + timedelta(days=rng.randint(60, 300))
            if rng.random() < 0.78 and done < end and done <= LAST_DAY:
                add(done, {"type": "AssistanceMeasureCompleted", "measure_id": f"@{assigned.serial}",
                           "outcome": "已落实到户，农户签字确认"}, recorder, deps=(assigned,),
                    refs={"measure_id": assigned})

        # --- relocation (易地扶贫搬迁) and transfer -------------------------------------
        if h.relocates:
            d = date(2016, 3, 1) + timedelta(days=rng.randint(0, 900))
            if A + timedelta(days=20) < d and d + timedelta(days=400) < end:
                assigned = self._measure(rng, add, d, "relocation", recorder)
                moved = d + timedelta(days=rng.randint(90, 360))
                target = resettlement.get(h.township, county_seat)
                if target == h.village or rng.random() < 0.4:
                    target = county_seat
                if target != h.village:
                    add(moved, {"type": "HouseholdTransferred", "division_code": target,
                                "reason": "易地扶贫搬迁，集中安置", "evidence": [f"搬迁协议-{moved.year}"]},
                        approver, True)
                    done = moved + timedelta(days=rng.randint(1, 30))
                    if done < end:
                        add(done, {"type": "AssistanceMeasureCompleted", "measure_id": f"@{assigned.serial}",
                                   "outcome": "已搬迁入住安置点"}, recorder, deps=(assigned,),
                            refs={"measure_id": assigned})

        # --- members: births, deaths, marriages -----------------------------------------
        for year in range(A.year, LAST_DAY.year + 1):
            if rng.random() >= shares.member_change_per_year:
                continue
            d = date(year, 1, 1) + timedelta(days=rng.randint(0, 364))
            if not (A < d < end) or d > LAST_DAY:
                continue
            change = self._member_change(rng, members_now, d)
            if change is not None:
                add(d, change, recorder, True)
                # 纳入低保: civil affairs takes in a household that lost its labour to illness.
                if change["type"] == "MemberUpdated" and attribute == "general" and rng.random() < 0.5:
                    later = d + timedelta(days=rng.randint(15, 60))
                    if later < end and later <= LAST_DAY:
                        attribute = "dibao"
                        add(later, {"type": "AttributeChanged", "attribute": "dibao",
                                    "reason": "民政部门认定，纳入农村低保", "evidence": [f"低保审批-{later.year}"]},
                            recorder, True)

        # --- 两不愁三保障 checks between exits (核查), a share of households each year --------
        for year in range(A.year + 1, LAST_DAY.year + 1):
            if rng.random() >= 0.03:
                continue
            d = date(year, 4, 1) + timedelta(days=rng.randint(0, 150))
            if not (A < d < end) or d > LAST_DAY:
                continue
            secured = {**h.guarantees, **{k: True for k in h.guarantees if rng.random() < 0.5}}
            add(d, {"type": "GuaranteesAssessed", "guarantees": secured, "reason": "两不愁三保障入户核查",
                    "evidence": [f"核查表-{h.village}-{year}"]}, recorder)

        # --- terminal -------------------------------------------------------------------------
        if h.removed_on and h.removed_on == h.terminal and h.removed_on <= LAST_DAY:
            add(h.removed_on, {"type": "RemovedAsIneligible", "reason": rng.choice(REMOVAL_REASONS),
                               "evidence": [f"核查-{h.removed_on.year}"]}, recorder, True)
        elif h.closed_on and h.closed_on == h.terminal and h.closed_on <= LAST_DAY:
            add(h.closed_on, {"type": "HouseholdClosed", "reason": "户主去世，家庭无其他成员（销户）"}, recorder, True)

        # --- double entries, retracted later --------------------------------------------------
        for ev in list(evs):
            if ev.kind in ("HelperAssigned", "AssistanceMeasureAssigned") and rng.random() < shares.duplicated:
                dup = add(ev.eff, dict(ev.payload), ev.actor or recorder, deps=(ev,))
                dup.key = "dup"  # marker: retract it later
        evs.sort(key=lambda e: (e.eff, e.gen))
        return evs

    @staticmethod
    def _assign_helper(rng: random.Random, add: Callable[..., _Ev], d: date, actor: Actor) -> None:
        male = rng.random() < 0.7
        name = rng.choices(SURNAMES, SURNAME_WEIGHTS)[0] + rng.choice(GIVEN_MALE if male else GIVEN_FEMALE)
        add(d, {"type": "HelperAssigned", "helper_name": name, "unit": rng.choice(HELPER_UNITS),
                "phone": f"1{rng.choice('358')}{rng.randint(0, 999_999_999):09d}",
                "reason": "结对帮扶，定责任人"}, actor)

    @staticmethod
    def _measure(rng: random.Random, add: Callable[..., _Ev], d: date, category: str, actor: Actor) -> _Ev:
        text, lo, hi, source = MEASURE_TEXT[category]
        amount = round(rng.uniform(lo, hi), -2) if hi else None
        return add(d, {"type": "AssistanceMeasureAssigned", "category": category, "amount": amount,
                       "funding_source": source, "description": text.format(n=rng.randint(3, 10))}, actor)

    def _member_change(self, rng: random.Random, members: list[_Person], d: date) -> dict[str, Any] | None:
        """Change ``members`` in place and return the MembersChanged payload (or None)."""
        options = []
        mothers = [m for m in members if not m.male and 20 <= _age(m.born, d) <= 40]
        if mothers:
            options.append("birth")
        elderly = [m for m in members
                   if m.relation != "head" and (_age(m.born, d) >= 65 or m.health == "serious_illness")]
        if elderly:
            options.append("death")
        grown = [m for m in members if m.relation == "child" and 20 <= _age(m.born, d) <= 35]
        if grown:
            options.append("marriage")
        falls_ill = [m for m in members if m.health == "healthy" and 30 <= _age(m.born, d) < 70]
        if falls_ill:
            options.append("illness")
        head = next(m for m in members if m.relation == "head")
        heirs = [m for m in members if m.relation == "spouse" or (m.relation == "child" and _age(m.born, d) >= 18)]
        if heirs and _age(head.born, d) >= 65:
            options.append("head_death")
        if not options:
            return None
        kind = rng.choice(options)
        if kind == "illness":
            ill = rng.choice(falls_ill)
            ill.health = rng.choice(("chronic_illness", "serious_illness"))
            return {"type": "MemberUpdated", "id_number": ill.id_number, "health": ill.health,
                    "labour": ill.labour_on(d), "reason": "患病，劳动能力下降", "evidence": [f"诊断证明-{d.year}"]}
        if kind == "head_death":
            heir = heirs[0]
            members.remove(head)
            heir.relation = "head"
            return {"type": "MembersChanged", "left": [head.id_number], "new_head": heir.id_number,
                    "reason": "户主去世，变更户主"}
        if kind == "birth":
            head = next(m for m in members if m.relation == "head")
            relation = "child" if _age(head.born, d) < 45 else "grandchild"
            baby = _person(rng, self._ids, d, relation, rng.random() < 0.52, members[0].name[0])
            baby.health = "healthy"
            members.append(baby)
            return {"type": "MembersChanged", "joined": [baby.as_member(d)], "reason": "新生儿出生，户口登记"}
        if kind == "death":
            gone = rng.choice(elderly)
            members.remove(gone)
            return {"type": "MembersChanged", "left": [gone.id_number], "reason": "家庭成员去世"}
        child = rng.choice(grown)
        if child.male:
            spouse = _person(rng, self._ids, d - timedelta(days=365 * rng.randint(20, 30)), "other", False,
                             rng.choices(SURNAMES, SURNAME_WEIGHTS)[0], region=rng.choice(OTHER_REGIONS))
            members.append(spouse)
            return {"type": "MembersChanged", "joined": [spouse.as_member(d)], "reason": "娶妻，户口迁入"}
        members.remove(child)
        return {"type": "MembersChanged", "left": [child.id_number], "reason": "出嫁，户口迁出"}

    # ----------------------------------------------------------- recording moments

    def _schedule(self, rng: random.Random, evs: list[_Ev]) -> None:
        """Recording moments: mostly on the day, some days later, a share weeks late.

        A household's status and member changes are recorded in valid-time order,
        and every event after the status changes that precede it, so whatever is
        known at any moment is a legal path; events that refer to another come
        after it (on a later day, so a loader can resolve the reference).
        """
        late = self.shares.late
        last_struct = 0
        prev_eff: date | None = None
        prev_rec = 0
        for ev in evs:
            r = rng.random()
            if r < late:
                delay = rng.randint(LATE_DAYS, 56)
            elif r < late + 0.03:
                delay = rng.randint(7, 13)
            elif r < late + 0.25:
                delay = rng.randint(1, 6)
            else:
                delay = 0
            rec = _local_us(ev.eff + timedelta(days=delay), rng.uniform(8.5 * 3600, 18 * 3600))
            gap = rng.randint(60, 1200) * _US
            rec = max(rec, last_struct + gap)
            if ev.eff == prev_eff:
                rec = max(rec, prev_rec + gap)
            for dep in ev.deps:
                if ev.refs:  # a reference: on a later (local) day than its target
                    rec = max(rec, _local_us(date.fromordinal(local_day(dep.rec) + 1), rng.uniform(8.5, 11) * 3600))
                rec = max(rec, dep.rec + gap)
            ev.rec = rec
            if ev.structural:
                last_struct = rec
            prev_eff, prev_rec = ev.eff, rec

    def _meta_events(self, rng: random.Random, evs: list[_Ev], h: _Household, p_correct: float) -> list[_Ev]:
        """Corrections of incomes and dates, and retractions of the double entries."""
        out: list[_Ev] = []
        last_struct_eff: date | None = None
        for ev in evs:
            if ev.structural:
                last_struct_eff = ev.eff
                continue
            if ev.key == "dup":
                ev.key = None
                rec = ev.rec + rng.randint(2, 30) * _DAY_US
                out.append(self._meta(h, ev, rec, {"type": "EventRetracted", "reason": "重复录入，撤销"}))
                continue
            if ev.kind not in ("IncomeAssessed", "HelperAssigned", "AssistanceMeasureAssigned"):
                continue
            if rng.random() >= p_correct or local_day(ev.rec) > LAST_DAY.toordinal() - 70:
                continue
            rec = ev.rec + rng.randint(7, 60) * _DAY_US
            if ev.kind == "IncomeAssessed" and rng.random() < 0.6:
                old = ev.payload["income_per_capita"]
                new = round(old * rng.uniform(0.93, 1.07), 0)
                line = poverty_line(ev.payload["year"])
                if old >= line > new:
                    new = round(old * rng.uniform(1.01, 1.07), 0)
                if new == old:
                    new = old + 10
                changes: dict[str, Any] = {"income_per_capita": new}
                reason = "收入核算录入错误，更正人均纯收入"
            else:
                shift = rng.randint(1, 10)
                new_day = ev.eff - timedelta(days=shift)
                if last_struct_eff is None or new_day <= last_struct_eff:
                    continue
                changes = {"effective_date": new_day.isoformat()}
                reason = "录入日期有误，按入户记录更正"
            out.append(self._meta(h, ev, rec, {"type": "EventCorrected", "changes": changes, "reason": reason}))
        return out

    @staticmethod
    def _meta(h: _Household, target: _Ev, rec: int, payload: dict[str, Any]) -> _Ev:
        day = date.fromordinal(local_day(rec))
        payload["target_event_id"] = f"@{target.serial}"
        payload["effective_date"] = day.isoformat()
        ev = _Ev(h, day, 10_000, payload, target.actor, False, (target,), {"target_event_id": target})
        ev.rec = rec
        return ev

    # -------------------------------------------------------------- the stream

    def plan(self) -> list[_Ev]:
        """Every planned event, in recording order (internal; :meth:`recordings` is the API)."""
        # Millions of small objects that all stay alive: the cyclic collector would
        # scan them again and again (half the time), and there are no cycles to find.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._plan_all()
        finally:
            if enabled:
                gc.enable()

    def _plan_all(self) -> list[_Ev]:
        households, villages_by_township = self._census()
        self._ids = _IdNumbers.seeded_from(households)
        rng = _Rng(f"povreg-sim:{self.seed}:history")
        resettlement = {t: vs[0] for t, vs in villages_by_township.items() if len(vs) > 1}
        county_seat = next(iter(villages_by_township.values()))[0]
        plans = []
        serial = 0
        for h in households:
            evs = self._plan(rng, h, resettlement, county_seat)
            for ev in evs:
                serial += 1
                ev.serial = serial
            self._schedule(rng, evs)
            plans.append(evs)
        total = sum(len(p) for p in plans)
        candidates = sum(1 for p in plans for e in p
                         if e.kind in ("IncomeAssessed", "HelperAssigned", "AssistanceMeasureAssigned"))
        p_correct = min(1.0, self.shares.corrected * total / max(1, candidates) * 1.1)
        everything: list[_Ev] = []
        for evs in plans:
            h = evs[0].household
            meta = self._meta_events(rng, evs, h, p_correct)
            for ev in meta:
                serial += 1
                ev.serial = serial
            everything += evs
            everything += meta
        for ev in everything:
            if ev.refs:
                for target in ev.refs.values():
                    target.key = str(target.serial)
        everything.sort(key=lambda e: (e.rec, e.serial))
        return everything

    def recordings(self) -> Iterator[Recording]:
        """The history, in recording order. Deterministic for the seed; fills :attr:`stats`."""
        self.stats = Counter()
        return tally(self._recordings(), self.stats)

    def _recordings(self) -> Iterator[Recording]:
        from domain.commands import Command

        for ev in self.plan():
            payload = ev.payload
            refs = None
            if ev.refs:
                refs = {}
                payload = dict(payload)
                for name, target in ev.refs.items():
                    assert target.key is not None
                    refs[name] = target.key
                    payload[name] = f"@{target.key}"
            assert ev.actor is not None, "every planned event names its recorder"
            yield Recording(moment(ev.rec), Command(payload, ev.actor, ev.household.household_id), ev.key, refs)

    @property
    def first_day(self) -> date:
        return FIRST_DAY

    @property
    def last_day(self) -> date:
        return LAST_DAY + timedelta(days=70)


# ------------------------------------------------------------------- people


class _IdNumbers:
    """Unique, valid ID numbers: region + birth date + a sequence whose parity is the sex."""

    def __init__(self) -> None:
        self._next: dict[tuple[str, date, bool], int] = {}

    @classmethod
    def seeded_from(cls, households: Iterable[_Household]) -> _IdNumbers:
        """An allocator that continues after every ID number the census handed out."""
        ids = cls()
        for h in households:
            for m in h.members:
                region, born = m.id_number[:6], date(int(m.id_number[6:10]), int(m.id_number[10:12]),
                                                    int(m.id_number[12:14]))
                seq = int(m.id_number[14:17])
                key = (region, born, m.male)
                ids._next[key] = max(ids._next.get(key, 0), seq // 2 + 1)
        return ids

    def allocate(self, region: str, born: date, male: bool) -> str:
        while True:
            key = (region, born, male)
            n = self._next.get(key, 0)
            if n < 500:
                self._next[key] = n + 1
                seq = 2 * n + (1 if male else 0)
                return with_check_digit(f"{region}{born:%Y%m%d}{seq:03d}")
            born += timedelta(days=1)


def _person(rng: random.Random, ids: _IdNumbers, born: date, relation: str, male: bool, surname: str,
            region: str = COUNTY_CODE) -> _Person:
    given = rng.choice(GIVEN_MALE if male else GIVEN_FEMALE)
    r = rng.random()
    age = _age(born, date(2014, 6, 1))
    health = "healthy"
    if r < 0.04 + age * 0.002:
        health = "serious_illness"
    elif r < 0.1 + age * 0.004:
        health = "chronic_illness"
    elif r < 0.14 + age * 0.004:
        health = "disability"
    return _Person(surname + given, ids.allocate(region, born, male), relation, born, male, health)


def _birth(rng: random.Random, on: date, age_lo: int, age_hi: int) -> date:
    age = rng.randint(age_lo, age_hi)
    return date(on.year - age, 1, 1) + timedelta(days=rng.randint(0, 364))


def _family(rng: random.Random, ids: _IdNumbers, on: date) -> list[_Person]:
    size = rng.choices((1, 2, 3, 4, 5, 6, 7), (10, 17, 20, 25, 16, 8, 4))[0]
    surname = rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]
    if size == 1:
        head_born = _birth(rng, on, 55, 88)
    elif size == 2:
        head_born = _birth(rng, on, 50, 80)
    else:
        head_born = _birth(rng, on, 28, 62)
    male = rng.random() < 0.88
    head = _person(rng, ids, head_born, "head", male, surname)
    members = [head]
    if size >= 2:
        spouse_born = head_born + timedelta(days=rng.randint(-5 * 365, 5 * 365))
        spouse_born = min(spouse_born, date(on.year - 18, 1, 1))
        region = COUNTY_CODE if rng.random() < 0.8 else rng.choice(OTHER_REGIONS)
        spouse_surname = rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]
        members.append(_person(rng, ids, spouse_born, "spouse", not male, spouse_surname, region))
    head_age = _age(head_born, on)
    for _ in range(size - 2):
        if head_age >= 50 and rng.random() < 0.35:
            rel, born = "grandchild", _birth(rng, on, 0, 12)
        elif head_age <= 45 and rng.random() < 0.25:
            rel, born = "parent", _birth(rng, on, min(95, head_age + 22), min(96, head_age + 32))
        else:
            rel = "child"
            born = _birth(rng, on, max(0, head_age - 40), max(0, head_age - 20))
        members.append(_person(rng, ids, born, rel, rng.random() < 0.52, surname))
    return members


def _classify(rng: random.Random, members: list[_Person], on: date) -> tuple[str, str, list[str]]:
    labour = [m.labour_on(on) for m in members]
    if "full" not in labour:
        attribute = "tekun" if len(members) == 1 and rng.random() < 0.6 else "dibao"
    else:
        attribute = "general" if rng.random() < 0.86 else "dibao"
    healths = {m.health for m in members}
    pupils = sum(1 for m in members if 6 <= _age(m.born, on) <= 22)
    if "serious_illness" in healths and rng.random() < 0.8:
        cause = "illness"
    elif "disability" in healths and rng.random() < 0.6:
        cause = "disability"
    elif pupils >= 2 and rng.random() < 0.5:
        cause = "schooling"
    elif "full" not in labour:
        cause = "lack_of_labour"
    else:
        cause = rng.choices(list(CAUSE_WEIGHTS), list(CAUSE_WEIGHTS.values()))[0]
    others = [c for c in CAUSE_WEIGHTS if c != cause]
    secondary = rng.sample(others, k=rng.choice((0, 1, 1, 2)))
    return attribute, cause, secondary


def _income(rng: random.Random, year: int, value: float) -> dict[str, Any]:
    value = round(value, 0)
    wage = round(value * rng.uniform(0.2, 0.6), 0)
    transfer = round(value * rng.uniform(0.1, 0.3), 0)
    prop = round(value * rng.uniform(0.0, 0.05), 0)
    return {
        "type": "IncomeAssessed",
        "year": year,
        "income_per_capita": value,
        "components": {"wage": wage, "operating": round(value - wage - transfer - prop, 0), "property": prop,
                       "transfer": transfer},
        "reason": "年度收入核算",
    }


# ------------------------------------------------------------------- loading


class SimClock:
    """The registry's clock while loading: the loader sets it before each batch."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2014, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class LoadReport:
    divisions: int = 0
    submitted: int = 0
    recorded: int = 0
    refused: int = 0
    batches: int = 0
    seconds: float = 0.0
    refusals: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.recorded / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "divisions": self.divisions,
            "submitted": self.submitted,
            "recorded": self.recorded,
            "refused": self.refused,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
            "refusals": dict(self.refusals),
            "examples": self.examples,
        }


_CST = timedelta(hours=8)
_UTC_OFFSET = timedelta(0)


def _local_date(at: datetime) -> date:
    return (at + _CST).date() if at.utcoffset() == _UTC_OFFSET else (at.astimezone(UTC) + _CST).date()


def put_divisions(registry: Registry, clock: SimClock, divisions: Sequence[DivisionSpec]) -> int:
    clock.now = datetime(2014, 1, 1, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai
    for spec in divisions:
        registry.put_division(spec.code, spec.name, spec.rural_population, spec.effective_date)
    return len(divisions)


def load(
    registry: Registry,
    recordings: Iterable[Recording],
    clock: SimClock,
    *,
    divisions: Sequence[DivisionSpec] = (),
    batch_size: int = 1000,
    window_days: int = 1,
    on_batch: Callable[[LoadReport, datetime], None] | None = None,
) -> LoadReport:
    """Record ``recordings`` through ``registry.record_many``, in batches of at most
    ``batch_size`` commands from at most ``window_days`` simulated days (default: one
    batch per day), with ``clock`` — the registry's clock — set before each batch: to
    the batch's first recording moment, or for a batch spanning several days to its
    last (so that no effective date is in the batch's future). References
    (``@key``) are resolved from the receipts of earlier batches.
    """
    report = LoadReport()
    started = time.perf_counter()
    if divisions:
        report.divisions = put_divisions(registry, clock, divisions)
    # The registry's cache and the stream hold millions of long-lived objects; the
    # cyclic collector would rescan them all at every full collection (a third of
    # the time). Freezing moves what survived into the permanent generation, which
    # collections skip; garbage among it is still freed by reference counting.
    # Most of what a batch allocates lives on in the cache, so young collections
    # mostly find survivors to promote: rarer ones (every 50,000 allocations
    # rather than 700) took the collector from ~15 % of a load's CPU to ~1 %.
    frozen = gc.isenabled()
    thresholds = gc.get_threshold()
    if frozen:
        gc.set_threshold(max(thresholds[0], 50_000), *thresholds[1:])
    ids: dict[str, str] = {}
    pending: list[Recording] = []
    pending_keys: set[str] = set()
    pending_day = -(10**9)

    def flush() -> None:
        if not pending:
            return
        first, last = pending[0].at, pending[-1].at
        clock.now = first if _local_date(first) == _local_date(last) else last
        commands = []
        for rec in pending:
            command = rec.command
            if rec.refs:
                payload = dict(command.payload)
                for name, key in rec.refs.items():
                    payload[name] = ids.get(key, payload[name])
                command = replace(command, payload=payload)
            commands.append(command)
        results = writer.record_many(commands)
        for rec, result in zip(pending, results, strict=True):
            if isinstance(result, DomainError):
                report.refused += 1
                report.refusals[result.rule] += 1
                if len(report.examples) < 20:
                    report.examples.append({"household_id": rec.command.household_id,
                                            "type": rec.command.payload["type"], "at": rec.at.isoformat(),
                                            "rule": result.rule, "detail": result.detail})
            else:
                report.recorded += 1
                if rec.key:
                    ids[rec.key] = result.event_id
        report.submitted += len(pending)
        report.batches += 1
        if frozen:
            gc.freeze()
        last = pending[-1].at
        pending.clear()
        pending_keys.clear()
        report.seconds = time.perf_counter() - started
        if on_batch:
            on_batch(report, last)

    # Each batch is checked while the previous one is written (Registry.bulk_writer).
    writer = registry.bulk_writer()
    try:
        for rec in recordings:
            day = _local_date(rec.at).toordinal()
            needs_flush = day >= pending_day + window_days or len(pending) >= batch_size
            if rec.refs and not needs_flush:
                needs_flush = any(key in pending_keys for key in rec.refs.values())
            if needs_flush:
                flush()
                pending_day = day
            pending.append(rec)
            if rec.key:
                pending_keys.add(rec.key)
        flush()
    finally:
        writer.close()
        if frozen:
            gc.unfreeze()
            gc.set_threshold(*thresholds)
    report.seconds = time.perf_counter() - started
    return report


def write_jsonl(out: IO[str], divisions: Sequence[DivisionSpec], recordings: Iterable[Recording],
                on_item: Callable[[Recording], None] | None = None) -> int:
    """Write the divisions and the stream as JSON Lines; returns the number of events."""
    for spec in divisions:
        out.write(json.dumps({"division": {"code": spec.code, "name": spec.name,
                                           "rural_population": spec.rural_population,
                                           "effective_date": spec.effective_date.isoformat()}},
                             ensure_ascii=False) + "\n")
    count = 0
    for rec in recordings:
        out.write(json.dumps(rec.as_json(), ensure_ascii=False) + "\n")
        count += 1
        if on_item:
            on_item(rec)
    return count


def read_jsonl(lines: Iterable[str]) -> tuple[list[DivisionSpec], Iterator[Recording]]:
    """Read what :func:`write_jsonl` wrote: divisions first, then the stream (lazily)."""
    from domain.commands import Command

    it = iter(lines)
    divisions: list[DivisionSpec] = []
    first: dict[str, Any] | None = None
    for line in it:
        if not line.strip():
            continue
        obj = json.loads(line)
        if "division" in obj:
            d = obj["division"]
            divisions.append(DivisionSpec(d["code"], d["name"], d["rural_population"],
                                          date.fromisoformat(d["effective_date"])))
            continue
        first = obj
        break

    def recordings() -> Iterator[Recording]:
        def item(obj: dict[str, Any]) -> Recording:
            return Recording(datetime.fromisoformat(obj["at"]),
                             Command(obj["event"], Actor.from_dict(obj["actor"]), obj["household_id"]),
                             obj.get("key"), obj.get("refs"))

        if first is not None:
            yield item(first)
        for line in it:
            if line.strip():
                yield item(json.loads(line))

    return divisions, recordings()


__all__ = [
    "EXIT_TARGETS",
    "DivisionSpec",
    "LoadReport",
    "Recording",
    "SimClock",
    "Simulation",
    "SimulationShares",
    "load",
    "read_jsonl",
    "tally",
    "write_jsonl",
]
