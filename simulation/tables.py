"""Names, places and the shares by cause, measure and pathway that the generator draws from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


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
