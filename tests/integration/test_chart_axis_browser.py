"""Chart time axes over several days name the date of every tick, in a real headless Chromium
against a real `indunet up`. ECharts runs in UTC mode, so a 7-day chart ticks at UTC
midnights, which are 08:00 in Asia/Shanghai: the audit of issue 9 found a device's 7-day
chart labelled "08:00" seven times over. Within a day labels stay hours, with the date at
local midnight.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, need_chromium
from tests.integration.servers import Server, group

pytestmark = pytest.mark.integration
DAY_MS = 86_400_000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def ms(year: int, month: int, day: int, hour: int = 0) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp() * 1000)


def test_axes_of_several_days_date_every_tick_in_the_pages_zone(server: Server) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="zh-CN", timezone_id="Asia/Shanghai")
            page.goto(server.url + "/login")
            assert page.get_attribute("body", "data-tz") == "Asia/Shanghai"

            def label(span_ms: int, at: int) -> str:
                return str(
                    page.evaluate(
                        "([span, at]) => indunetZone.axis({min: 0, max: span})"
                        ".axisLabel.formatter(at)",
                        [span_ms, at],
                    )
                )

            week, day = 7 * DAY_MS, DAY_MS
            assert label(week, ms(2026, 12, 1)) == "12-01 08:00"  # a UTC midnight tick
            assert label(week, ms(2026, 11, 30, 16)) == "12-01"  # a local midnight tick
            assert label(day, ms(2026, 12, 1)) == "08:00"  # within a day: hours
            assert label(day, ms(2026, 11, 30, 16)) == "12-01"
        finally:
            browser.close()
