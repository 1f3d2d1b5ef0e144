"""Policy figures the registry knows without being told, and the local rules of five documents.

National figures (:data:`STATUTORY`) are known at every moment. The national poverty line
(国家扶贫标准) is 2300 yuan per person per year at 2010 constant prices (中共中央 国务院
《中国农村扶贫开发纲要（2011—2020年）》, November 2011); each year's nominal figure is the one
the National Bureau of Statistics publishes (国民经济和社会发展统计公报, 《中国农村贫困监测报告》):
2011 2536, 2012 2625, 2013 2736, 2014 2800, 2015 2855, 2016 2952, 2017 2952, 2018 2995,
2019 3218 yuan; for 2020 "about 4000 yuan".

Every national setting names its own source; where a setting is the registry's own default
rather than a document's rule, its source says so. A jurisdiction overrides any of them by
recording a policy version of its own; :data:`LOCAL_POLICIES` holds the rules of five local
documents, each for its real jurisdiction, ready to record (``povreg policy record --example``).
"""

from __future__ import annotations

from datetime import date

from domain.policy import (
    PolicyBook,
    PolicySettings,
    PolicyVersion,
    PostExitContinuation,
    RecordedPolicy,
    YearTarget,
)
from domain.vocab import EligibilityException

NBS = "国家统计局《国民经济和社会发展统计公报》《中国农村贫困监测报告》"
#: 中共中央办公厅 国务院办公厅《关于建立贫困退出机制的意见》, issued 23 April 2016.
EXIT_MECHANISM = "厅字〔2016〕16号《关于建立贫困退出机制的意见》"
EXIT_MECHANISM_DATE = date(2016, 4, 23)
TRANSITION = "《中共中央 国务院关于实现巩固拓展脱贫攻坚成果同乡村振兴有效衔接的意见》"
FILING = "国开办发〔2014〕24号《扶贫开发建档立卡工作方案》"

NATIONAL_POVERTY_LINES: dict[int, float] = {
    2010: 2300,
    2011: 2536,
    2012: 2625,
    2013: 2736,
    2014: 2800,
    2015: 2855,
    2016: 2952,
    2017: 2952,
    2018: 2995,
    2019: 3218,
    2020: 4000,
}

#: Provinces of the western region (西部地区), whose villages and counties leave poverty
#: below 3 % incidence rather than 2 % (厅字〔2016〕16号).
WESTERN_PROVINCES = ("15", "45", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65")

_FOREVER = date(1978, 1, 1)  # procedural defaults apply to any date

NATIONAL_DEFAULTS: list[PolicyVersion] = [
    PolicyVersion(
        effective_date=_FOREVER,
        settings=PolicySettings(identification_notice_days=7, exit_notice_days=7),
        source=f"{FILING}; {EXIT_MECHANISM} (村内公示; seven days is the registry's default period)",
    ),
    PolicyVersion(
        effective_date=_FOREVER,
        settings=PolicySettings(no_exit_in_year_of_entry=True),
        source="全国建档立卡动态管理的年度要求: 当年新识别或返贫的原则上当年不退出 "
        "(a national practice, not a rule of the five local documents; a jurisdiction may turn it off)",
    ),
    PolicyVersion(
        effective_date=_FOREVER,
        settings=PolicySettings(adjustment_cycle_years=3, adjustment_anchor_year=2014),
        source="registry default, as in 山西省《关于创新机制扎实推进农村扶贫开发工作的实施意见》(2014) "
        "第3条: 原则上扶贫对象每三年进行一次动态调整",
    ),
    PolicyVersion(
        effective_date=_FOREVER,
        settings=PolicySettings(revisit_interval_days=365),
        source="registry default: a yearly 回头看 of exited households "
        "(《湖光镇持续开展打赢脱贫攻坚战两年行动方案(2020-2021年)》第20条: 持续开展退出贫困户“回头看”)",
    ),
    PolicyVersion(
        effective_date=_FOREVER,
        settings=PolicySettings(exit_income_max_age_days=365),
        source="registry default: the exit is judged on the year's income assessment (年度收入核算)",
    ),
    PolicyVersion(
        effective_date=_FOREVER,
        settings=PolicySettings(
            eligibility_exceptions=(
                EligibilityException.SUDDEN_DISASTER,
                EligibilityException.SUDDEN_ILLNESS,
                EligibilityException.GUARANTEES_NOT_SECURED,
            )
        ),
        source="registry default: 因灾因病新产生的贫困人口及时纳入 (《湖光镇持续开展打赢脱贫攻坚战两年行动方案"
        "(2020-2021年)》第20条); 两不愁三保障 not secured",
    ),
    # Before the national exit rule: support through the programme period (to 2020).
    PolicyVersion(
        effective_date=_FOREVER,
        settings=PolicySettings(
            post_exit_continuation=PostExitContinuation(kind="until", until=date(2020, 12, 31))
        ),
        source="registry default before the national exit rule: support through the programme period "
        "of 《中国农村扶贫开发纲要（2011—2020年）》",
    ),
    # The national floor: policies kept through the campaign (to the end of 2020), then a
    # five-year transition period (to the end of 2025).
    PolicyVersion(
        effective_date=EXIT_MECHANISM_DATE,
        settings=PolicySettings(
            post_exit_continuation=PostExitContinuation(kind="until", until=date(2025, 12, 31), floor=True),
            village_exit_max_incidence=2.0,
            county_delist_max_incidence=2.0,
        ),
        source=f"{EXIT_MECHANISM}: 贫困户退出后在攻坚期内国家原有扶贫政策保持不变, 贫困村、贫困县退出原则上"
        f"贫困发生率降至2%以下(西部地区3%以下); {TRANSITION}: 过渡期五年(至2025年底)",
    ),
    *(
        PolicyVersion(
            jurisdiction=province,
            effective_date=EXIT_MECHANISM_DATE,
            settings=PolicySettings(village_exit_max_incidence=3.0, county_delist_max_incidence=3.0),
            source=f"{EXIT_MECHANISM}: 西部地区贫困发生率降至3%以下",
        )
        for province in WESTERN_PROVINCES
    ),
]

STATUTORY: list[PolicyVersion] = [
    *NATIONAL_DEFAULTS,
    *(
        PolicyVersion(
            jurisdiction="",
            effective_date=date(year, 1, 1),
            settings=PolicySettings(poverty_line=line),
            source=f"{NBS}, {year}",
        )
        for year, line in sorted(NATIONAL_POVERTY_LINES.items())
    ),
]


def statutory_book() -> PolicyBook:
    return PolicyBook([RecordedPolicy(v, recorded_at=None) for v in STATUTORY])


#: 湖光镇 (湛江市麻章区) by its statistical division code (统计用区划代码): the township
#: 102 of 麻章区 440811. A registry that numbers the town otherwise records this version
#: with its own code: the jurisdiction is data, not code.
HUGUANG_TOWN = "440811102"

#: The local rules of five documents, each for its own jurisdiction.
LOCAL_POLICIES: dict[str, PolicyVersion] = {
    # Hainan province (46): targets of 整村推进 by the end of 2015 and of 2020.
    "hainan-2014": PolicyVersion(
        jurisdiction="46",
        effective_date=date(2014, 5, 15),
        settings=PolicySettings(
            targets=(
                YearTarget(year=2015, villages_exited=300),
                YearTarget(year=2020, villages_exited=600),
            ),
        ),
        source="琼扶发〔2014〕5号《创新机制进一步做好定点扶贫工作方案》一(二): 到2015年末完成300个贫困行政村、"
        "到2020年末完成600个贫困行政村的整村推进扶贫开发",
    ),
    # Huguang town: 9060 yuan for households with labour capacity; support until July 2021.
    "huguang-2020": PolicyVersion(
        jurisdiction=HUGUANG_TOWN,
        effective_date=date(2020, 3, 1),
        settings=PolicySettings(
            poverty_line_with_labour=9060,
            post_exit_continuation=PostExitContinuation(kind="until", until=date(2021, 7, 31)),
        ),
        source="《湖光镇持续开展打赢脱贫攻坚战两年行动方案(2020-2021年)》一、总体要求: 有劳动能力相对贫困人口"
        "年人均可支配收入达到当年全省农民人均可支配收入的45%(测算数9060元); 稳定脱贫攻坚政策到2021年7月",
    ),
    # Shanxi province (14): exited households no longer receive poverty policies.
    "shanxi-2014": PolicyVersion(
        jurisdiction="14",
        effective_date=date(2014, 4, 29),
        settings=PolicySettings(
            post_exit_continuation=PostExitContinuation(kind="none"),
            adjustment_cycle_years=3,
            adjustment_anchor_year=2014,
        ),
        source="山西省《关于创新机制扎实推进农村扶贫开发工作的实施意见》(2014) 一(一)第3条: 原则上扶贫对象每三年"
        "进行一次动态调整……脱贫人口不再享受扶贫政策",
    ),
    # Huining county (620422): yearly targets 2015–2020.
    "huining-2015": PolicyVersion(
        jurisdiction="620422",
        effective_date=date(2015, 8, 5),
        settings=PolicySettings(
            targets=(
                YearTarget(year=2015, exit_persons=23_000, villages_exited=18),
                YearTarget(year=2016, exit_persons=42_000, villages_exited=38),
                YearTarget(year=2017, exit_persons=42_000, villages_exited=38, incidence_max=8.0),
                YearTarget(year=2018, exit_persons=12_500, villages_exited=8),
                YearTarget(year=2019, exit_persons=8_900, villages_exited=8),
                YearTarget(year=2020, exit_persons=4_200, villages_exited=6, incidence_max=5.0),
            ),
        ),
        source="会宁县委发〔2015〕53号《关于扎实推进精准扶贫工作的意见》二、目标任务",
    ),
    # Taizhou city (3212): a 7000-yuan line; support kept two years after exit.
    "taizhou-2016": PolicyVersion(
        jurisdiction="3212",
        effective_date=date(2016, 2, 23),
        settings=PolicySettings(
            poverty_line=7000,
            post_exit_continuation=PostExitContinuation(kind="years", years=2),
        ),
        source="泰发〔2016〕5号《关于组织实施脱贫致富奔小康工程的意见》一(二): 农村人均年收入7000元以下; "
        "三(八): 已实现脱贫的，两年内继续享受原扶持政策",
    ),
}
#: The former name of :data:`LOCAL_POLICIES`.
