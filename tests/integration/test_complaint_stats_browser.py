"""The complaints page's monthly statistics charts in a real headless Chromium against a real
``indunet up`` whose deadline is set to 10 days (``INDUNET_COMPLAINT_DEADLINE_DAYS``).

Complaints written into the server's database over the last three months (times chosen so
each falls in a known month of Shanghai time) must come out of the ECharts instances the page
draws as the figures worked out below: filed per month by state (with the overdue line) and
by category, and closed, closed late and the median handling days per month of closing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

from indunet import core
from indunet.core import Role, Settings
from indunet.ids import complaints as cp
from indunet.web import open_database

pytestmark = pytest.mark.integration
CST = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up", env={"INDUNET_COMPLAINT_DEADLINE_DAYS": "10"})


def _month_start(now: datetime, back: int) -> datetime:
    year, month = now.year, now.month - back
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1, tzinfo=CST)


def _write(server: Server, now: datetime) -> None:
    """Two months ago (the 15th, noon): an identifier resolved in 4 days and a prefix resolved
    in 12 (late); last month: a service complaint left open (overdue) and an identifier
    rejected in a day; this month: an identifier left open (not due yet)."""
    engine = open_database(Settings(data_dir=server.data_dir))

    def one(kind: str, filed: datetime, close: tuple[str, float] | None = None) -> None:
        form = cp.ComplaintForm(
            kind, "" if kind == "service" else "88.100.1", "慢", "李四", "0592-1"
        )
        with engine.begin() as conn:
            made = cp.file(conn, form, source="t", now=filed, deadline_days=10)
            if close:
                cp.step(conn, op, made.id, close[0], "已处理", now=filed + timedelta(close[1]))

    try:
        with engine.begin() as conn:
            op = core.create_user(
                conn, username="op", password="a-long-password", role=Role.PLATFORM_ADMIN, actor="t"
            )
        two_ago = _month_start(now, 2) + timedelta(days=14, hours=12)
        one_ago = _month_start(now, 1) + timedelta(days=14, hours=12)
        this = max(_month_start(now, 0) + timedelta(minutes=1), now - timedelta(hours=1))
        one("identifier", two_ago, ("resolve", 4))
        one("prefix", two_ago, ("resolve", 12))
        one("service", one_ago)
        one("identifier", one_ago, ("reject", 1))
        one("identifier", this)
    finally:
        engine.dispose()


def _series(page: object, chart_id: str) -> dict[str, list[object]]:
    """The last three points of each series of the ECharts instance in ``#chart_id``."""
    return page.evaluate(  # type: ignore[attr-defined,no-any-return]
        """id => {
          const chart = echarts.getInstanceByDom(document.getElementById(id));
          const out = {};
          chart.getOption().series.forEach(s => { out[s.name] = s.data.slice(-3); });
          return out;
        }""",
        chart_id,
    )


def test_monthly_charts_show_the_hand_made_figures(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    now = datetime.now(CST)
    _write(server, now)
    with httpx.Client(base_url=server.url, timeout=10) as api:  # the setting reaches the door
        filed = api.post(
            "/api/v1/complaints",
            json={
                "subject_kind": "identifier",
                "subject": "88.100.1/X",
                "text": "打不开",
                "contact": "王五",
                "contact_phone": "0592-5550000",
            },
        ).json()
    due = datetime.fromisoformat(filed["due_at"]) - datetime.fromisoformat(filed["filed_at"])
    assert due == timedelta(days=10)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(
                viewport={"width": 1280, "height": 1000},
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
            )
            page = ctx.new_page()
            page.set_default_timeout(15_000)
            page.goto(server.url + "/ids/complaints")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            expect(page.locator("#complaint-list .muted").first).to_contain_text("10 天内办结")
            expect(page.locator("#count-overdue")).to_have_text("1")
            page.wait_for_function(
                "() => window.echarts && echarts.getInstanceByDom(document.getElementById('chart-handling'))"
            )
            months = page.evaluate(
                "() => echarts.getInstanceByDom(document.getElementById('chart-by-state'))"
                ".getOption().xAxis[0].data.slice(-3)"
            )
            assert months == [_month_start(now, b).strftime("%Y-%m") for b in (2, 1, 0)]
            assert _series(page, "chart-by-state") == {
                "已受理": [0, 1, 2],
                "处理中": [0, 0, 0],
                "已办结": [2, 0, 0],
                "不予受理": [0, 1, 0],
                "已逾期": [0, 1, 0],
            }
            assert _series(page, "chart-by-kind") == {
                "标识": [1, 1, 2],
                "前缀": [1, 0, 0],
                "解析服务": [0, 1, 0],
            }
            assert _series(page, "chart-handling") == {
                "办结": [2, 1, 0],
                "逾期办结": [1, 0, 0],
                "办理时长中位数（天）": [8.0, 1.0, None],
            }
            check_a11y(page)
            page.locator("#complaint-stats").scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "01-complaint-stats.png"), full_page=True)

            page.select_option("select[name=months]", "6")
            page.click("#stats-span button[type=submit]")
            page.wait_for_function(
                "() => window.echarts && echarts.getInstanceByDom(document.getElementById('chart-by-kind'))"
            )
            six = page.evaluate(
                "() => echarts.getInstanceByDom(document.getElementById('chart-by-kind'))"
                ".getOption().xAxis[0].data.length"
            )
            assert six == 6

            page.goto(server.url + "/lang/en?next=/ids/complaints")
            expect(page.locator("#complaint-stats h2")).to_have_text("Per month")
            page.wait_for_function(
                "() => window.echarts && echarts.getInstanceByDom(document.getElementById('chart-handling'))"
            )
            assert set(_series(page, "chart-handling")) == {
                "Closed",
                "Closed late",
                "Median handling time (days)",
            }
            check_a11y(page)
            page.screenshot(path=str(shots / "02-complaint-stats-en.png"), full_page=True)
        finally:
            browser.close()
