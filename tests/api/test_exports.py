"""Spreadsheets on the query URLs (``format=xlsx|csv``) and ``povreg roster --xlsx``: read back
with openpyxl and the csv module, their counts equal the JSON answers'; masked by role."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from typer.testing import CliRunner

from cli import app as cli_app
from projections.sheets import XLSX
from tests.api import test_queries
from tests.api.conftest import Api, assert_problem
from tests.api.test_queries import ok

worked = test_queries.worked  # the worked example's fixture


def table(ws: Any, first_header: str) -> tuple[dict[str, Any], list[str], list[tuple[Any, ...]]]:
    """A sheet's question (label → value above the table), its headers and its rows."""
    rows = list(ws.iter_rows(values_only=True))
    at = next(i for i, row in enumerate(rows) if i and not any(row)) + 1  # the table follows a blank row
    assert rows[at][0] == first_header
    query = {row[0]: row[1] for row in rows[1:at] if row and row[0]}
    return query, list(rows[at]), [r for r in rows[at + 1:] if any(v is not None for v in r)]


def workbook(response: Any) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert "attachment" in response.headers["content-disposition"]
    return load_workbook(io.BytesIO(response.content))


def test_roster_as_xlsx_and_csv_match_the_json(worked: Api) -> None:
    params = {"as_of": "2016-12-01", "known_at": "2016-12-10"}
    data = ok(worked.get("/v1/rosters/620422", params=params))
    book = workbook(worked.get("/v1/rosters/620422", params={**params, "format": "xlsx", "page_size": "1"}))
    query, headers, counts = table(book["按状态统计"], "状态")
    assert query["统计日期(as_of)"] == "2016-12-01" and query["知悉时点(known_at)"].startswith("2016-12-10")
    assert headers == ["状态", "状态代码", "户数", "人数"]
    by_code = {row[1]: (row[2], row[3]) for row in counts}
    assert by_code["exit_pending"] == (1, 3) and by_code["exit_pending"] == (
        data["counts"]["exit_pending"]["households"], data["counts"]["exit_pending"]["persons"])
    assert by_code["total"] == (data["total"]["households"], data["total"]["persons"])
    _, headers, rows = table(book["花名册"], "户编号")
    assert "户主姓名" in headers and len(rows) == data["rows_total"]  # every row, not the page
    assert [r[0] for r in rows] == [r["household_id"] for r in data["rows"]]
    assert rows[0][headers.index("状态")] == "拟退出"
    assert rows[0][headers.index("户主姓名")] == data["rows"][0]["head_name"]  # an investigator sees names

    response = worked.get("/v1/rosters/620422", params={**params, "format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0][:2] == ["区划代码", "区划名称"] and "户编号" in lines[0]
    assert len(lines) - 1 == data["rows_total"]
    assert {line[lines[0].index("统计日期(as_of)")] for line in lines[1:]} == {"2016-12-01"}


def test_exports_are_masked_by_role(worked: Api) -> None:
    book = workbook(worked.get("/v1/rosters/620422", as_="recorder", params={"format": "xlsx"}))
    _, headers, rows = table(book["花名册"], "户编号")
    assert rows and all("*" in r[headers.index("户主身份证号")] for r in rows)
    assert all("*" in r[headers.index("户主姓名")] for r in rows)


def test_adjustment_report_and_difference_as_xlsx(worked: Api) -> None:
    params = {"start": "2014-01-01", "end": "2016-12-31"}
    data = ok(worked.get("/v1/adjustments/620422", params=params))
    book = workbook(worked.get("/v1/adjustments/620422", params={**params, "format": "xlsx"}))
    query, _, rows = table(book["流量表"], "项目")
    assert query["起始日期"] == "2014-01-01" and query["截止日期"] == "2016-12-31"
    by_key = {row[4]: (row[2], row[3]) for row in rows}
    assert by_key["closing"] == (data["closing"]["households"], data["closing"]["persons"])
    assert by_key["outflows.exited"] == (data["outflows"]["exited"]["households"],
                                        data["outflows"]["exited"]["persons"])
    assert by_key["reconciles"][0] == ("是" if data["reconciles"] else "否")
    diff = ok(worked.get("/v1/adjustments/620422/difference", params=params))
    book = workbook(worked.get("/v1/adjustments/620422/difference", params={**params, "format": "xlsx"}))
    _, _, rows = table(book["上报时与现知对比"], "项目")
    closing = next(r for r in rows if r[0] == "期末")
    assert closing[1] == diff["filed"]["closing"]["households"] and closing[3] == diff["known"]["closing"]["households"]
    csv_text = worked.get("/v1/adjustments/620422", params={**params, "format": "csv"}).content.decode("utf-8-sig")
    assert "期末" in csv_text and "2014-01-01" in csv_text


def test_incidence_as_xlsx(worked: Api) -> None:
    data = ok(worked.get("/v1/divisions/620422/incidence", params={"as_of": "2016-12-31"}))
    book = workbook(worked.get("/v1/divisions/620422/incidence", params={"as_of": "2016-12-31", "format": "xlsx"}))
    _, headers, [row] = table(book["贫困发生率"], "区划代码")
    assert row[headers.index("贫困人口")] == data["poor_persons"]
    assert row[headers.index("贫困发生率")] == data["incidence"]


def test_a_bad_format_is_refused(worked: Api) -> None:
    response = worked.get("/v1/rosters/620422", params={"format": "pdf"})
    assert_problem(response, 422, "invalid_parameters")


def test_povreg_roster_xlsx(worked: Api, monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.setenv("POVREG_DATABASE_URL", worked.registry.settings.database_url)
    out = tmp_path / "roster.xlsx"
    result = CliRunner().invoke(cli_app, ["roster", "620422", "--as-of", "2016-12-01", "--xlsx", str(out)])
    assert result.exit_code == 0, result.output
    data = ok(worked.get("/v1/rosters/620422", params={"as_of": "2016-12-01"}))
    _, _, rows = table(load_workbook(out)["花名册"], "户编号")
    assert len(rows) == data["rows_total"]


def test_text_that_looks_like_a_formula_stays_text() -> None:
    """A reason or a name typed as "=…" is data, not a formula, in both xlsx and CSV."""
    from projections.sheets import Sheet, csv_text, xlsx_bytes

    book = load_workbook(io.BytesIO(xlsx_bytes([Sheet("s", ["理由"], [["=HYPERLINK(\"http://x\")"], ["\x01ok"]])],
                                               {"as_of": "2016-12-31"}, "t")))
    cells = [c for c in book["s"]["A"] if c.value in ("=HYPERLINK(\"http://x\")", "ok")]
    assert len(cells) == 2 and {c.data_type for c in cells} == {"s"}
    assert "'=HYPERLINK" in csv_text(Sheet("s", ["理由"], [["=HYPERLINK(\"http://x\")"]]), {})
