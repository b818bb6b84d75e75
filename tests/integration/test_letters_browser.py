"""The audit's case in a real browser: a bogus point and a temperature of 999 posted over
HTTP are dead letters whose 说明 reads in Chinese on the zh-CN ingest page and in English on
the English one, while the API keeps the English detail and adds its name and params."""

# ruff: noqa: F401, F811  (fixtures imported from test_explore_browser are parameters here)

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y
from tests.integration.servers import Server
from tests.integration.test_explore_browser import ZONE, api_of, login, ok, seed, server

from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE


def test_letter_details_read_in_the_readers_language(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    api = api_of(server)
    seed(api)
    now = int(time.time() * 1000)
    body = {"device": "env-1", "ts": [now], "points": {"bogus": [1], "temperature": [999]}}
    assert ok(api.post("/api/v1/telemetry", json=body))["dead_lettered"] == 2
    listed = ok(api.get("/api/v1/telemetry/dead-letters"))["items"]
    hot = next(x for x in listed if x["point"] == "temperature")
    assert "above the maximum" in hot["detail"] and hot["detail_reason"] == "above_maximum"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id=ZONE
            )
            page = context.new_page()
            page.set_default_timeout(15_000)
            login(page, server, "/platform/ingest")
            details = page.locator("#letters td.detail")
            expect(details).to_have_count(2)
            expect(page.locator('#letters td[data-why="above_maximum"]')).to_have_text(
                f"测点 temperature 的值 999 高于最大值 {hot['detail_params']['maximum']}"
            )
            expect(page.locator('#letters td[data-why="point_unknown"]')).to_contain_text(
                "设备 env-1 的模型中没有测点 bogus"
            )
            expect(page.locator("#letters")).not_to_contain_text("above the maximum")
            page.screenshot(path=str(shots / "ingest-zh.png"), full_page=True)
            check_a11y(page)
            page.goto(f"{server.url}/lang/en?next=/platform/ingest")
            expect(page.locator('#letters td[data-why="above_maximum"]')).to_contain_text(
                "temperature value 999 is above the maximum"
            )
            expect(page.locator("#letters")).not_to_contain_text("高于最大值")
            page.screenshot(path=str(shots / "ingest-en.png"), full_page=True)
        finally:
            browser.close()


def test_a_database_outage_page_in_chromium(
    server: Server, shots: Path, state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 503 page a console route answers while the database is down (taken from the app
    in process, its engine refusing every connection), as Chromium draws it with the real
    server's styles: in Chinese, no JSON, the Retry-After said on the page."""
    from playwright.sync_api import expect, sync_playwright

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise sa.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(state))
        base = "http://testserver"
        async with httpx.AsyncClient(transport=transport, base_url=base) as c:
            c.cookies.set(SESSION_COOKIE, "a-session")  # read from the database that is down
            return await c.get("/platform/ingest", headers={"Accept": "text/html"})

    monkeypatch.setattr(state.engine, "connect", refuse)
    answer = asyncio.run(fetch())
    assert answer.status_code == 503 and answer.headers["retry-after"] == "2"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 700}, locale="zh-CN")
            page.route(
                server.url + "/platform/ingest",
                lambda route: route.fulfill(
                    status=503, content_type="text/html; charset=utf-8", body=answer.text
                ),
            )
            page.goto(server.url + "/platform/ingest")
            expect(page.locator("h1")).to_have_text("服务暂时不可用")
            expect(page.locator("#error-message")).to_contain_text("数据库暂时无法连接")
            expect(page.locator("body")).not_to_contain_text("database_unavailable")
            page.screenshot(path=str(shots / "database-down-zh.png"), full_page=True)
            check_a11y(page)
        finally:
            browser.close()
