"""Statutory national policy figures, known at every moment.

The national poverty line (国家扶贫标准) is 2300 yuan per person per year at 2010
constant prices (中共中央 国务院《中国农村扶贫开发纲要（2011—2020年）》, set in
November 2011). Each year's nominal figure is the one the National Bureau of
Statistics publishes in its 国民经济和社会发展统计公报 and 《中国农村贫困监测报告》:
2011 2536, 2012 2625, 2013 2736, 2014 2800, 2015 2855, 2016 2952, 2017 2952,
2018 2995, 2019 3218 yuan; for 2020 the bureau gives "about 4000 yuan"
(2020年统计公报: 按照每人每年2300元（2010年不变价）的现行农村贫困标准).

Procedural defaults: 7-day public notices for identification and exit
(国开办发〔2014〕24号《扶贫开发建档立卡工作方案》 and 厅字〔2016〕16号《关于建立贫困
退出机制的意见》); no exit in the year of identification or return (会宁县委发〔2015〕53号);
a three-year adjustment cycle anchored on 2014 (山西省《关于创新机制扎实推进农村扶贫开发工作的
实施意见》§3: 原则上扶贫对象每三年进行一次动态调整); policies continued after exit until
the end of 2020 (厅字〔2016〕16号: 贫困户退出后，在攻坚期内国家原有扶贫政策保持不变);
a yearly revisit (回头看).
Jurisdictions override any of these by recording a policy version of their own;
:data:`POLICY_EXAMPLES` holds local rules from the documents, ready to record.
"""

from __future__ import annotations

from datetime import date

from domain.policy import (
    PolicyBook,
    PolicySettings,
    PolicyVersion,
    PostExitContinuation,
    RecordedPolicy,
)

NBS = "国家统计局, 国民经济和社会发展统计公报 / 中国农村贫困监测报告"

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

NATIONAL_DEFAULTS = PolicyVersion(
    jurisdiction="",
    # Procedural defaults apply to any date; the poverty line only from 2010.
    effective_date=date(1978, 1, 1),
    settings=PolicySettings(
        identification_notice_days=7,
        exit_notice_days=7,
        no_exit_in_year_of_entry=True,
        post_exit_continuation=PostExitContinuation(kind="until", until=date(2020, 12, 31)),
        adjustment_cycle_years=3,
        adjustment_anchor_year=2014,
        revisit_interval_days=365,
    ),
    source="国开办发〔2014〕24号; 厅字〔2016〕16号; 山西省《关于创新机制扎实推进农村扶贫开发工作的实施意见》§3",
)

STATUTORY: list[PolicyVersion] = [
    NATIONAL_DEFAULTS,
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


#: Local rules from the policy documents, as policy versions a jurisdiction can record.
POLICY_EXAMPLES: dict[str, PolicyVersion] = {
    # 泰发〔2016〕5号: Taizhou (泰州市, 3212) raises its line to 7000 yuan
    # and keeps support for two years after exit.
    "taizhou-2016": PolicyVersion(
        jurisdiction="3212",
        effective_date=date(2016, 2, 23),
        settings=PolicySettings(
            poverty_line=7000,
            post_exit_continuation=PostExitContinuation(kind="years", years=2),
        ),
        source="泰发〔2016〕5号《关于组织实施脱贫致富奔小康工程的意见》",
    ),
    # 《湖光镇持续开展打赢脱贫攻坚战两年行动方案(2020-2021年)》: Huguang town (湖光镇, 湛江市麻章区
    # 440811) uses 45 % of the provincial rural income, 9060 yuan, and keeps support until July 2021.
    "huguang-2020": PolicyVersion(
        jurisdiction="440811",
        effective_date=date(2020, 3, 1),
        settings=PolicySettings(
            poverty_line=9060,
            post_exit_continuation=PostExitContinuation(kind="until", until=date(2021, 7, 31)),
        ),
        source="《湖光镇持续开展打赢脱贫攻坚战两年行动方案(2020-2021年)》",
    ),
    # 山西省 (2014): exited households no longer receive poverty policies.
    "no-continuation": PolicyVersion(
        jurisdiction="",
        effective_date=date(2014, 1, 1),
        settings=PolicySettings(post_exit_continuation=PostExitContinuation(kind="none")),
        source="山西省《关于创新机制扎实推进农村扶贫开发工作的实施意见》(2014)",
    ),
}
