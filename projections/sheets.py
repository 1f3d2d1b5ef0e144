"""The read models' answers as spreadsheets: xlsx workbooks and CSV, with Chinese headers.

Each answer (roster, adjustment report, its difference, incidence, findings) becomes one or
more :class:`Sheet` s — a title, Chinese column headers and rows of plain values — with the
question it answers (division, as of, known at, period) written above the table in the
workbook and as leading columns in the CSV, so a file read later still says what it shows.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.vocab import LABELS_ZH

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"

#: The question's parameters, in the order they are shown, with their Chinese names.
QUERY_LABELS: dict[str, str] = {
    "division_code": "区划代码",
    "division_name": "区划名称",
    "as_of": "统计日期(as_of)",
    "known_at": "知悉时点(known_at)",
    "start": "起始日期",
    "end": "截止日期",
    "filed_at": "上报时点(filed_at)",
    "status": "状态筛选",
    "state": "状态筛选",
}

FLOW_LABELS: dict[str, str] = {
    "opening": "期初",
    "inflows": "新增",
    "outflows": "减少",
    "closing": "期末",
    "exited_stock": "已脱贫存量",
    "identified": "新识别",
    "returned": "返贫",
    "readmitted": "错退纳回",
    "transferred_in": "迁入",
    "transferred_out": "迁出",
    "members_joined": "成员增加",
    "members_left": "成员减少",
    "reclassified": "重新归类",
    "exited": "脱贫退出",
    "removed": "清退",
    "closed": "销户",
    "total": "合计",
    "by_main_cause": "按主要致贫原因",
    "by_attribute": "按贫困户属性",
    "by_pathway": "按脱贫路径",
    "filed": "上报时",
    "known": "现知",
    "difference": "差异",
}


@dataclass
class Sheet:
    title: str
    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)


def _label(key: str) -> str:
    return FLOW_LABELS.get(key) or LABELS_ZH.get(key) or key


def _query(data: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [(label, data.get(key)) for key, label in QUERY_LABELS.items() if key in data]


# ------------------------------------------------------------------- the answers as sheets


def roster_sheets(data: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> list[Sheet]:
    counts = Sheet("按状态统计", ["状态", "状态代码", "户数", "人数"])
    for status, c in data["counts"].items():
        counts.rows.append([_label(status), status, c["households"], c["persons"]])
    counts.rows.append(["合计", "total", data["total"]["households"], data["total"]["persons"]])
    listing = Sheet("花名册", ["户编号", "状态", "村代码", "村名", "贫困户属性", "主要致贫原因", "人口数",
                            "户主姓名", "户主身份证号", "本状态起始日期"])
    for r in rows:
        listing.rows.append([r["household_id"], _label(r["status"]), r["division_code"], r.get("division_name"),
                             _label(r["attribute"]), _label(r["main_cause"]), r["persons"], r.get("head_name"),
                             r.get("head_id_number"), r.get("since")])
    return [counts, listing]


def _flows(report: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterable[tuple[tuple[str, ...], Any]]:
    """Every count (a mapping with households and persons) of a report, with its path."""
    for key, value in report.items():
        if not isinstance(value, Mapping):
            continue
        path = (*prefix, key)
        if "households" in value and "persons" in value:
            yield path, value
        elif not key.startswith("by_"):
            yield from _flows(value, path)


def report_sheets(report: Mapping[str, Any], title: str = "") -> list[Sheet]:
    """An adjustment report: one row per stock and flow, and one per breakdown."""
    main = Sheet(f"{title}流量表" if title else "流量表", ["项目", "分项", "户数", "人数", "项目代码"])
    breakdown = Sheet(f"{title}分类" if title else "分类", ["项目", "分项", "分类", "类别", "户数", "人数"])
    for path, count in _flows(report):
        head, rest = _label(path[0]), " / ".join(_label(p) for p in path[1:])
        main.rows.append([head, rest, count["households"], count["persons"], ".".join(path)])
        for group, values in count.items():
            if group.startswith("by_") and isinstance(values, Mapping):
                for category, c in sorted(values.items()):
                    breakdown.rows.append([head, rest, _label(group), _label(category), c["households"],
                                           c["persons"]])
    for key, value in report.items():
        if isinstance(value, bool):
            main.rows.append(["平衡校验" if key == "reconciles" else key, "", "是" if value else "否", "", key])
    return [main, breakdown]


def difference_sheets(data: Mapping[str, Any]) -> list[Sheet]:
    """As filed versus as now known: both reports side by side, and the households that moved."""
    filed = {".".join(p): c for p, c in _flows(data["filed"])}
    known = {".".join(p): c for p, c in _flows(data["known"])}
    side = Sheet("上报时与现知对比", ["项目", "上报时户数", "上报时人数", "现知户数", "现知人数", "户数差", "人数差"])
    for key in [*filed, *(k for k in known if k not in filed)]:
        a, b = filed.get(key, {"households": 0, "persons": 0}), known.get(key, {"households": 0, "persons": 0})
        side.rows.append([" / ".join(_label(p) for p in key.split(".")), a["households"], a["persons"],
                          b["households"], b["persons"], b["households"] - a["households"],
                          b["persons"] - a["persons"]])
    changed = Sheet("变动户", ["户编号", "说明"])
    for item in data.get("households", []):
        if isinstance(item, Mapping):
            changed.rows.append([item.get("household_id"), _compact(item)])
    return [side, changed]


def incidence_sheets(data: Mapping[str, Any]) -> list[Sheet]:
    sheet = Sheet("贫困发生率", ["区划代码", "区划名称", "贫困户数", "贫困人口", "农村户籍人口", "人口口径",
                              "贫困发生率"])
    sheet.rows.append([data["division_code"], data.get("division_name"), data["poor_households"],
                       data["poor_persons"], data.get("population"), data.get("population_basis"),
                       data.get("incidence")])
    return [sheet]


def findings_sheets(data: Mapping[str, Any]) -> list[Sheet]:
    counts = Sheet("按状态统计", ["状态", "条数"])
    for state, n in data.get("counts", {}).items():
        counts.rows.append([{"open": "未整改", "resolved": "已整改"}.get(state, state), n])
    listing = Sheet("问题清单", ["户编号", "问题编号", "规则", "决定事件", "决定类型", "知悉时点", "状态",
                             "整改事件", "依据事件"])
    for f in data.get("findings", []):
        listing.rows.append([f.get("household_id"), f.get("finding_id"), f.get("rule"), f.get("decision_event_id"),
                             f.get("decision_type"), f.get("known_since"),
                             {"open": "未整改", "resolved": "已整改"}.get(f.get("state", ""), f.get("state")),
                             f.get("resolved_by"), ", ".join(f.get("shown_by") or [])])
    return [counts, listing]


def _compact(item: Mapping[str, Any]) -> str:
    import json

    return json.dumps({k: v for k, v in item.items() if k != "household_id"}, ensure_ascii=False, default=str)


# ------------------------------------------------------------------------ the files


def xlsx_bytes(sheets: Sequence[Sheet], query: Mapping[str, Any], title: str) -> bytes:
    """A workbook: each sheet starts with the title and the question, then the table."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    bold = Font(bold=True)
    for sheet in sheets:
        ws = book.create_sheet(_sheet_title(sheet.title))
        ws.append([_cell(title)])
        ws.cell(row=1, column=1).font = Font(bold=True, size=13)
        for label, value in _query(query):
            ws.append([label, "" if value is None else _cell(value)])
        ws.append([])
        ws.append([_cell(x) for x in sheet.headers])
        for cell in ws[ws.max_row]:
            cell.font = bold
        header_row = ws.max_row
        for row in sheet.rows:
            ws.append([_cell(v) for v in row])
        for cells in ws.iter_rows():
            for cell in cells:
                if cell.data_type == "f":  # text that looks like a formula stays text
                    cell.data_type = "s"
        ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
        for i, header in enumerate(sheet.headers, start=1):
            cells = (len(str(r[i - 1] or "")) + 2 for r in sheet.rows[:200] if len(r) >= i)
            width = max([len(str(header)) * 2, *cells])
            ws.column_dimensions[ws.cell(row=header_row, column=i).column_letter].width = min(60, max(8, width))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_text(sheet: Sheet, query: Mapping[str, Any]) -> str:
    """One table as CSV (with a BOM, so spreadsheet programs read the Chinese), the question's
    parameters as its leading columns."""
    labels = _query(query)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([label for label, _ in labels] + sheet.headers)
    values = [_csv_cell(v) for _, v in labels]
    for row in sheet.rows:
        writer.writerow(values + [_csv_cell(v) for v in row])
    return out.getvalue()


def _cell(value: Any) -> Any:
    """A value a worksheet can hold: lists joined, control characters (which xlsx refuses) dropped."""
    if isinstance(value, list | dict):
        value = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    if isinstance(value, str):
        return _ILLEGAL.sub("", value)
    return value


def _csv_cell(value: Any) -> Any:
    """Text a spreadsheet program would run as a formula is quoted (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _sheet_title(title: str) -> str:
    """A worksheet name: at most 31 characters, none of []:*?/\\ (xlsx forbids them)."""
    return re.sub(r"[\[\]:*?/\\]", "_", _ILLEGAL.sub("", title))[:31] or "_"


__all__ = ["CSV", "XLSX", "Sheet", "csv_text", "difference_sheets", "findings_sheets", "incidence_sheets",
           "report_sheets", "roster_sheets", "xlsx_bytes"]
