"""The console in a real headless Chromium against a real ``povreg serve`` with the demo loaded.

Logs in with the printed investigator token, replays the demo's late exit and its income
correction with both sliders, opens "why", drills from the county (its progress against
targets: none in the demo) to a village and downloads
the village roster as xlsx, read back with openpyxl (its counts equal the API's). Each page is
saved as a screenshot under the test's output directory (``POVREG_SCREENSHOTS`` if set).
"""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx2
import pytest
from openpyxl import load_workbook

from tests.servers import POVREG, povreg_serve
from tests.support import service_unavailable

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.slow


@pytest.fixture
def served(database_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """``povreg demo load`` then ``povreg serve`` on a free loopback port: (base URL, tokens by role)."""
    env = {**os.environ, "POVREG_DATABASE_URL": database_url}
    loaded = subprocess.run([POVREG, "demo", "load"], env=env, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    tokens = {k.removesuffix("_TOKEN").lower(): v for k, v in
              (line.split("=", 1) for line in loaded.stdout.splitlines() if "_TOKEN=pvr_" in line)}
    with povreg_serve(database_url, ready="/console/") as base:
        yield base, tokens


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        service_unavailable("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("POVREG_SCREENSHOTS") or tmp_path / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def slide(page: Any, slider: str, day: str) -> None:
    """Moves a slider (``#as-of-range`` or ``#known-at-range``) to ``day``, as a user's drag ends there."""
    start = date.fromisoformat(page.get_attribute("#as-of-date", "min"))
    page.eval_on_selector(slider, "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }",
                          (date.fromisoformat(day) - start).days)


def slide_to_end(page: Any, slider: str) -> None:
    page.eval_on_selector(slider, "el => { el.value = el.max; el.dispatchEvent(new Event('input', {bubbles: true})); }")


def card_shows(page: Any, status: str) -> None:
    page.wait_for_function("s => document.querySelector('#card-status')?.dataset.status === s", arg=status,
                           timeout=60_000)


def test_console_replays_the_late_exit_explains_drills_down_and_exports(
    served: tuple[str, dict[str, str]], browser: Any, shots: Path
) -> None:
    base, tokens = served
    page = browser.new_page(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page.set_default_timeout(60_000)  # a loaded CI machine: waits end as soon as the page is ready
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # log in: Chinese by default, the token kept in the session only
    page.goto(base + "/console/")
    page.wait_for_selector("#login:not([hidden])")
    assert page.text_content("#login h1") == "登录"
    page.screenshot(path=str(shots / "login.png"))
    page.fill("#token", "pvr_not-a-token")
    page.click("#login-form button")
    page.wait_for_selector("#login-error:has-text('令牌无效')")
    page.fill("#token", tokens["investigator"])
    page.click("#login-form button")
    page.wait_for_selector("#who:has-text('调查员')")
    assert page.evaluate("sessionStorage.getItem('povreg.token')") == tokens["investigator"]
    assert page.evaluate("localStorage.length") == 0

    # find the household by its number, then open it
    page.fill("#find-q", "H-DEMO-0002")
    page.click("#find button")
    page.wait_for_selector("#picture-svg")

    # the late exit: as of 2016-12-01, known at 2016-12-10 it was pending; known now, exited
    slide(page, "#as-of-range", "2016-12-01")
    slide(page, "#known-at-range", "2016-12-10")
    card_shows(page, "exit_pending")
    assert page.text_content("#card-status") == "拟退出"
    assert "2016-12-01" in page.text_content("#card-query")
    late = page.locator("#events li", has_text="退出确认")
    assert "future" in (late.get_attribute("class") or "") and "补录 40 天" in late.text_content()
    page.screenshot(path=str(shots / "household-known-2016-12-10.png"), full_page=True)
    slide_to_end(page, "#known-at-range")
    card_shows(page, "exited")
    assert page.text_content("#card-status") == "已脱贫"
    page.screenshot(path=str(shots / "household-known-now.png"), full_page=True)

    # why, then and now
    page.click("#why-button")
    page.wait_for_selector("#why-decision:has-text('退出确认')")
    assert page.locator("#why-panel").get_by_text("退出公示期已满").count() == 1
    page.screenshot(path=str(shots / "why.png"), full_page=True)
    with page.expect_download() as why_file:
        page.click("#why-download")
    why_path = shots / why_file.value.suggested_filename
    why_file.value.save_as(why_path)
    why_book = load_workbook(why_path)
    checks = [r for r in why_book["政策核验"].iter_rows(values_only=True) if r and r[1] == "通过"]
    assert {r[0] for r in checks} == {"退出公示期已满", "当年新识别或返贫原则上不能退出", "人均纯收入不低于扶贫标准",
                                      "两不愁三保障及饮水安全均已实现", "退出所依据的收入核算在有效期内"}
    slide(page, "#known-at-range", "2016-12-10")
    page.wait_for_selector("#why-decision:has-text('拟退出')")
    card_shows(page, "exit_pending")

    # the correction: H-DEMO-0007's income was entered ten times too high, corrected two months later
    page.goto(base + "/console/#/household/H-DEMO-0007?as_of=2016-12-31&known_at=2016-11-30")
    card_shows(page, "exited")
    before = page.text_content("#card-income")
    slide_to_end(page, "#known-at-range")
    page.wait_for_function("b => document.querySelector('#card-income').textContent !== b", arg=before)
    after = page.text_content("#card-income")
    assert float(before.split()[0]) == 10 * float(after.split()[0])
    assert page.locator("#events li.meta", has_text="更正").count() == 1
    page.screenshot(path=str(shots / "correction.png"), full_page=True)

    # county → township → village
    page.goto(base + "/console/#/division/620422?as_of=2016-12-31")
    page.wait_for_selector("#report-chart")
    assert "会宁县" in page.text_content("#division-title")
    # progress against targets: the demo records no policy of the county's own, so no targets
    page.wait_for_selector("#progress h2:has-text('进度与目标')", state="visible")
    assert page.text_content("#progress-none") == "本区划未设年度目标。"
    page.screenshot(path=str(shots / "county.png"), full_page=True)
    page.click("a[data-child='620422100']")
    page.wait_for_selector("#division-title:has-text('620422100')")
    page.wait_for_selector("#report-chart")
    page.click("a[data-child='620422100202']")
    page.wait_for_selector("#division-title:has-text('620422100202')")
    page.wait_for_selector("#report-chart")
    page.screenshot(path=str(shots / "village.png"), full_page=True)

    # the village roster as xlsx: its counts are the API's
    with page.expect_download() as download:
        page.click("#roster-download")
    path = shots / download.value.suggested_filename
    download.value.save_as(path)
    api = httpx2.get(base + "/v1/rosters/620422100202", params={"as_of": "2016-12-31"},
                    headers={"Authorization": f"Bearer {tokens['investigator']}"}).json()
    book = load_workbook(io.BytesIO(path.read_bytes()))
    rows = list(book["按状态统计"].iter_rows(values_only=True))
    counts = {row[1]: row[2] for row in rows if row and len(row) > 2 and row[1] in api["counts"]}
    assert counts == {s: c["households"] for s, c in api["counts"].items()}
    listing = [r for r in book["花名册"].iter_rows(values_only=True) if r and str(r[0]).startswith("H-")]
    assert len(listing) == api["rows_total"]

    # English on request
    page.click("#lang")
    page.wait_for_selector("#division-title")
    assert page.text_content("#lang") == "中文" and page.locator("h2", has_text="Roster").count() == 1
    page.wait_for_selector("#progress h2:has-text('Progress against targets')", state="visible")
    assert errors == []
