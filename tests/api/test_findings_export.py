"""Findings as a spreadsheet (``format=xlsx|csv`` on ``/v1/findings``) and in "why": the false exit's
finding, read back with openpyxl, equals the JSON answer; why lists it among the open findings."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from tests.api import test_findings
from tests.api.conftest import Api
from tests.api.test_findings import ok

audited = test_findings.audited  # the false exit's fixture


def test_findings_as_xlsx_and_csv_and_in_why(audited: Api) -> None:
    ids = audited.ids["H-1"]  # type: ignore[attr-defined]
    ok(audited.event("H-1", type="EventCorrected", effective_date="2018-03-01", target_event_id=ids["income"],
                     changes={"income_per_capita": 2500}, reason="审计发现2016年实际人均纯收入为2500元"))
    listed = ok(audited.get("/v1/findings/620422", params={"page_size": "1"}))
    response = audited.get("/v1/findings/620422", params={"format": "xlsx", "page_size": "1"})
    assert response.status_code == 200, response.text
    book = load_workbook(io.BytesIO(response.content))
    counts = {r[0]: r[1] for r in book["按状态统计"].iter_rows(values_only=True) if r and r[0] in ("未整改", "已整改")}
    assert counts == {"未整改": listed["counts"]["open"], "已整改": listed["counts"]["resolved"]}
    rows = [r for r in book["问题清单"].iter_rows(values_only=True) if r and str(r[0]).startswith("H-")]
    assert [(r[0], r[2], r[3]) for r in rows] == [("H-1", "exit_income_below_line", ids["exit"])]
    text = audited.get("/v1/findings/620422", params={"format": "csv"}).content.decode("utf-8-sig")
    assert "exit_income_below_line" in text and "问题编号" in text.splitlines()[0]

    why = ok(audited.get("/v1/households/H-1/why", params={"as_of": "2016-12-01"}))
    assert [(f["rule"], f["decision_event_id"]) for f in why["findings"]] == [("exit_income_below_line", ids["exit"])]
    assert ok(audited.get("/v1/households/H-1/why", params={"as_of": "2016-12-01",
                                                           "known_at": "2018-02-28"}))["findings"] == []
