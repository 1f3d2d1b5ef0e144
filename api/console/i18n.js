// Labels in Chinese (the default) and English. Codes (statuses, event types) stay as the API gives them.

const ZH = {
  brand: "建档立卡 · 调查控制台", find: "查找", find_placeholder: "户编号 / 姓名 / 身份证号",
  division_placeholder: "区划代码", open_division: "区划", logout: "退出", login_title: "登录", login: "登录",
  login_help: "粘贴访问令牌（例如 povreg demo load 打印的 INVESTIGATOR_TOKEN）。令牌只保存在本浏览器会话中。",
  bad_token: "令牌无效或已吊销", as_of: "统计日期", known_at: "知悉时点", now: "现在",
  picture: "双时间轴图", picture_help: "横轴：有效时间（事情何时发生）；纵轴：知悉时间（登记系统何时知道）。每一层是当时所知的状态历程；台阶即补录与更正。点击图中任意一点即移动两个滑块。",
  diagonal: "当日录入线", card: "户卡", not_on_register: "此时不在档", why: "为什么？", why_title: "为何是此状态",
  events: "事件", recorded: "录入", effective: "生效", by: "录入人", evidence: "依据", late: "补录",
  days: "天", corrects: "更正", retracts: "撤销", retracted_by: "已被撤销", corrected_by: "已被更正",
  finding: "问题", not_yet_recorded: "此时尚未录入", need_auditor: "事件历程与双时间图需要调查员或管理员令牌。",
  division: "区划", counts: "按状态统计", status: "状态", households: "户数", persons: "人数", total: "合计",
  children: "下级区划", roster: "花名册", download: "下载 xlsx", page: "页", prev: "上一页", next: "下一页",
  report: "三年动态调整", report_help: "每年的存量（年末）与流量（新增、减少）", start: "起始", end: "截止",
  filed_vs_known: "上报时与现知对比", filed: "上报时", known: "现知", difference: "差异",
  findings: "问题清单", incidence: "贫困发生率", poor_persons: "贫困人口", population: "农村户籍人口",
  household: "户编号", village: "村", head: "户主", attribute: "属性", cause: "主要致贫原因", since: "起始",
  members: "家庭成员", name: "姓名", id_number: "身份证号", relation: "与户主关系", income: "人均纯收入",
  guarantees: "两不愁三保障", measures: "帮扶措施", helpers: "帮扶责任人", flags: "标记", version: "已录事件数",
  valid: "有效区间", at_risk: "脱贫不稳定", continuation: "政策延续至", decision: "决定", checks: "政策核验",
  rule: "规则", passed: "结果", value: "依据值", source: "来源", facts: "依据事实", changes: "更正与撤销",
  open_findings: "未整改问题", none: "无", ok: "通过", failed: "未通过", chain: "决定链",
  search_results: "查找结果", no_results: "没有找到", matched: "匹配", year: "年份", opening: "期初",
  inflows: "新增", outflows: "减少", closing: "期末", exited_stock: "已脱贫存量", stock: "存量", flows: "流量",
  reconciles: "平衡", loading: "加载中…", home_help: "输入户编号、户主姓名或身份证号查找农户，或输入区划代码（如 620422）查看县、乡、村。",
  open_household: "打开", policy_known_at: "按当时所知政策", jurisdiction: "辖区", document: "文件",
  used_for: "用于", role: "角色", scope: "范围", everywhere: "全部", downloaded: "已下载",
  yes: "是", no: "否", state: "状态", rows: "行", reason: "理由",
  check_value: "政策值", check_income_per_capita: "人均纯收入", check_income_year: "收入年度",
  check_notice_from: "公示起始", check_earliest: "最早可办", check_on: "办理日期", check_entered_on: "入档日期",
  check_missing: "未实现", check_year: "年度", check_effective_date: "生效日期",
  progress: "进度与目标", no_targets: "本区划未设年度目标。", target: "目标", wanted: "目标值", actual: "实际",
  met_header: "是否完成", met: "已完成", not_met: "未完成", not_over: "年度未结束", through: "统计至",
};

const EN = {
  brand: "Poverty register · investigator console", find: "Find", find_placeholder: "household / name / ID number",
  division_placeholder: "division code", open_division: "Division", logout: "Log out", login_title: "Log in",
  login: "Log in",
  login_help: "Paste an access token (e.g. the INVESTIGATOR_TOKEN printed by povreg demo load). It is kept in this browser session only.",
  bad_token: "unknown or revoked token", as_of: "As of", known_at: "Known at", now: "now",
  picture: "Bitemporal picture", picture_help: "Across: valid time (when it happened). Up: transaction time (when the register knew). Each layer is the status history as then believed; steps are late recordings and corrections. Click anywhere to move both sliders.",
  diagonal: "recorded the same day", card: "Card", not_on_register: "not on the register then", why: "Why?",
  why_title: "Why this status", events: "Events", recorded: "recorded", effective: "effective", by: "by",
  evidence: "evidence", late: "late", days: "days", corrects: "corrects", retracts: "retracts",
  retracted_by: "retracted", corrected_by: "corrected", finding: "finding", not_yet_recorded: "not yet recorded then",
  need_auditor: "The event history and the picture need an investigator's or an admin's token.",
  division: "Division", counts: "By status", status: "Status", households: "Households", persons: "Persons",
  total: "Total", children: "Subdivisions", roster: "Roster", download: "Download xlsx", page: "page",
  prev: "Previous", next: "Next", report: "Three-year adjustment", report_help: "Stocks (year end) and flows (in, out) per year",
  start: "Start", end: "End", filed_vs_known: "As filed vs as now known", filed: "As filed", known: "As now known",
  difference: "Difference", findings: "Findings", incidence: "Poverty incidence", poor_persons: "Poor persons",
  population: "Rural population", household: "Household", village: "Village", head: "Head", attribute: "Attribute",
  cause: "Main cause", since: "Since", members: "Members", name: "Name", id_number: "ID number",
  relation: "Relation", income: "Income per capita", guarantees: "Guarantees", measures: "Measures",
  helpers: "Helpers", flags: "Flags", version: "Events recorded", valid: "Valid", at_risk: "at risk",
  continuation: "support until", decision: "Decision", checks: "Policy checks", rule: "Rule", passed: "Result",
  value: "Value", source: "Source", facts: "Facts", changes: "Corrections and retractions",
  open_findings: "Open findings", none: "none", ok: "passed", failed: "failed", chain: "Chain",
  search_results: "Results", no_results: "nothing found", matched: "matched", year: "Year", opening: "Opening",
  inflows: "In", outflows: "Out", closing: "Closing", exited_stock: "Exited stock", stock: "Stock", flows: "Flows",
  reconciles: "Reconciles", loading: "Loading…", home_help: "Find a household by number, head's name or ID number, or open a division code (e.g. 620422) to drill down county → township → village.",
  open_household: "Open", policy_known_at: "policy as then known", jurisdiction: "Jurisdiction", document: "Document",
  used_for: "used for", role: "role", scope: "scope", everywhere: "everywhere", downloaded: "downloaded",
  yes: "yes", no: "no", state: "State", rows: "rows", reason: "Reason",
  check_value: "policy value", check_income_per_capita: "income per capita", check_income_year: "income year",
  check_notice_from: "notice from", check_earliest: "earliest", check_on: "on", check_entered_on: "entered on",
  check_missing: "not secured", check_year: "year", check_effective_date: "effective",
  progress: "Progress against targets", no_targets: "This division has set no yearly targets.", target: "Target",
  wanted: "Target value", actual: "Actual", met_header: "Met", met: "met", not_met: "not met",
  not_over: "year not over", through: "Through",
};

const STATUS_ZH = {
  proposed: "拟识别", poor: "在档未脱贫", exit_pending: "拟退出", exited: "已脱贫", returned: "返贫",
  rejected: "未通过识别", removed: "清退", closed: "销户",
};
const STATUS_EN = {
  proposed: "proposed", poor: "poor", exit_pending: "exit pending", exited: "exited", returned: "returned",
  rejected: "rejected", removed: "removed", closed: "closed",
};
const EVENT_ZH = {
  IdentificationProposed: "拟识别（申请、评议、公示）", IdentificationApproved: "识别审批通过",
  IdentificationRejected: "识别未通过", AssistanceMeasureAssigned: "落实帮扶措施",
  AssistanceMeasureCompleted: "帮扶措施完成", HelperAssigned: "结对帮扶责任人", IncomeAssessed: "收入核定",
  MembersChanged: "家庭成员变动", ExitProposed: "拟退出（公示）", ExitConfirmed: "退出确认",
  ExitWithdrawn: "撤回退出", ReturnedToPoverty: "返贫", Revisited: "回头看", RemovedAsIneligible: "清退",
  HouseholdTransferred: "迁移", HouseholdClosed: "销户", EventCorrected: "更正", EventRetracted: "撤销",
};
const OTHER_ZH = {
  general: "一般贫困户", dibao: "低保贫困户", tekun: "特困供养贫困户", illness: "因病", disability: "因残",
  schooling: "因学", disaster: "因灾", lack_of_land: "缺土地", lack_of_water: "缺水", lack_of_skills: "缺技术",
  lack_of_labour: "缺劳力", lack_of_capital: "缺资金", poor_transport: "交通条件落后",
  low_motivation: "自身发展动力不足", other: "其他", head: "户主", spouse: "配偶", child: "子女", parent: "父母",
  grandchild: "孙子女", sibling: "兄弟姐妹", food: "不愁吃", clothing: "不愁穿", education: "义务教育",
  medical: "基本医疗", housing: "住房安全", water: "饮水安全", recorder: "录入员", approver: "审批人",
  investigator: "调查员", admin: "管理员", subscriber: "订阅方", industry: "产业扶贫", employment: "就业扶贫",
  relocation: "易地扶贫搬迁", social_assistance: "社会保障兜底", microcredit: "扶贫小额信贷", asset_income: "资产收益",
  ecological: "生态扶贫", training: "技能培训", health: "健康扶贫",
};

const FLOW_ZH = {
  opening: "期初", inflows: "新增", outflows: "减少", closing: "期末", exited_stock: "已脱贫存量",
  identified: "新识别", returned: "返贫", readmitted: "错退纳回", transferred_in: "迁入", transferred_out: "迁出",
  members_joined: "成员增加", members_left: "成员减少", reclassified: "重新归类", exited: "脱贫退出",
  removed: "清退", closed: "销户", total: "合计",
};

let lang = sessionStorage.getItem("povreg.lang") || "zh";

export function getLang() { return lang; }
export function setLang(value) { lang = value; sessionStorage.setItem("povreg.lang", value); }
export function t(key) { return (lang === "en" ? EN : ZH)[key] ?? ZH[key] ?? key; }
export function statusLabel(code) { return (lang === "en" ? STATUS_EN : STATUS_ZH)[code] ?? code; }
export function eventLabel(type) { return lang === "en" ? type.replace(/([a-z])([A-Z])/g, "$1 $2") : EVENT_ZH[type] ?? type; }
export function label(code) { return lang === "en" ? String(code ?? "").replaceAll("_", " ") : OTHER_ZH[code] ?? code; }
export function flowLabel(key) { return lang === "en" ? key.replaceAll("_", " ") : FLOW_ZH[key] ?? key; }
const TARGET_EN = {
  exit_persons: "persons exited", exit_households: "households exited", villages_exited: "villages exited (出列)",
  incidence_max: "poverty incidence (%) below",
};

/** A target's name: the API's Chinese label, or English. */
export function targetLabel(code, zh) { return lang === "en" ? TARGET_EN[code] ?? code.replaceAll("_", " ") : zh ?? code; }
export const STATUSES = Object.keys(STATUS_ZH);
