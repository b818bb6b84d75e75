"""A bulk import started over the API answers at once, and its progress bar moves in the
console while it runs, fed by the job's event stream: real `indunet up`, real headless
Chromium, the job polled over the API meanwhile."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

from indunet import core

USCC = core.make_uscc("91350200MA3PRGAB")
ROWS = 60_000  # 30 API batches of 2,000: several seconds, several console polls

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("console", "up")


def _admin_headers(api: httpx.Client, password: str) -> dict[str, str]:
    token = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    ent = {"uscc": USCC, "name": "厦门进度泵业有限公司"}
    assert api.post("/api/v1/enterprises", json=ent, headers=headers).status_code == 201
    made = api.post(
        "/api/v1/prefixes", json={"prefix": "88.100.1", "enterprise_uscc": USCC}, headers=headers
    )
    assert made.status_code == 201, made.text
    return headers


def test_an_api_bulk_job_shows_a_moving_progress_bar(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    body = "handle,URL:1\n" + "".join(
        f"88.100.1/P-{i:06d},https://example.com/p/{i}\n" for i in range(ROWS)
    )
    with (
        httpx.Client(base_url=server.url, timeout=30) as api,
        sync_playwright() as pw,
    ):
        headers = _admin_headers(api, password)
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 860}, locale="zh-CN", timezone_id="Asia/Shanghai"
            )
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.goto(server.url + "/login?next=/ids/bulk")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            expect(page).to_have_url(server.url + "/ids/bulk")

            t0 = time.monotonic()
            started = api.post(
                "/api/v1/bulk", files={"file": ("泵.csv", body, "text/csv")}, headers=headers
            )
            answered = time.monotonic() - t0
            assert started.status_code == 202, started.text
            job = started.json()
            assert (job["status"], job["total"]) == ("running", ROWS)
            asked: list[str] = []
            page.on("request", lambda r: asked.append(r.url))
            page.goto(server.url + f"/ids/bulk/{job['job_id']}")
            expect(page.locator("#job-status")).to_contain_text("进行中")
            bars: set[int] = set()
            polled: list[int] = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and page.locator("#job-ok").count() == 0:
                bars.add(int(page.locator("#job-bar").get_attribute("value") or 0))
                if 0 < max(bars) < 100 and len(bars) == 2:
                    check_a11y(page)
                    page.screenshot(path=str(shots / "01-bulk-running.png"), full_page=True)
                polled.append(api.get(started.headers["location"], headers=headers).json()["done"])
                page.wait_for_timeout(200)
            expect(page.locator("#job-ok")).to_contain_text(f"注册 {ROWS}")
            expect(page.locator("#job-bar")).to_have_attribute("value", "100")
            check_a11y(page)
            page.screenshot(path=str(shots / "02-bulk-done.png"), full_page=True)
        finally:
            browser.close()
    assert answered < 5, f"the upload was answered after {answered:.1f} s, not at once"
    assert any(0 < v < 100 for v in bars), f"the bar never showed a job in progress: {bars}"
    assert polled == sorted(polled) and any(0 < d < ROWS for d in polled), polled
    # The bar was fed by the job's event stream, not by polling the page part every second.
    streams = [u for u in asked if u.endswith(f"/api/v1/bulk/{job['job_id']}/events")]
    polls = [u for u in asked if u.endswith(f"/ids/bulk/{job['job_id']}/progress")]
    assert len(streams) == 1, asked
    assert len(polls) <= 1, polls  # once, for the finished part (errors, totals)


def test_with_no_stream_to_be_had_the_bar_is_polled(server: Server, shots: Path) -> None:
    """The account holds every event stream it may (4, over httpx): the page's stream is
    refused (429) and HTMX polling moves the bar instead, to the same end."""
    from contextlib import ExitStack

    from playwright.sync_api import expect, sync_playwright

    from indunet.web.streams import StreamLimits

    password = server.admin_password
    assert password, server.output
    body = "handle,URL:1\n" + "".join(
        f"88.100.1/Q-{i:06d},https://example.com/q/{i}\n" for i in range(ROWS)
    )
    with (
        httpx.Client(base_url=server.url, timeout=30) as api,
        sync_playwright() as pw,
        ExitStack() as held,
    ):
        headers = _admin_headers(api, password)
        started = api.post(
            "/api/v1/bulk", files={"file": ("q.csv", body, "text/csv")}, headers=headers
        )
        assert started.status_code == 202, started.text
        job_id = started.json()["job_id"]
        for _ in range(StreamLimits().per_user):
            stream = held.enter_context(
                api.stream("GET", f"/api/v1/bulk/{job_id}/events", headers=headers)
            )
            assert stream.status_code == 200
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai").new_page()
            page.set_default_timeout(20_000)
            page.goto(server.url + "/login?next=/ids/bulk")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            refused: list[int] = []
            page.on(
                "response",
                lambda r: refused.append(r.status) if r.url.endswith("/events") else None,
            )
            page.goto(server.url + f"/ids/bulk/{job_id}")
            bars: set[int] = set()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and page.locator("#job-ok").count() == 0:
                bars.add(int(page.locator("#job-bar").get_attribute("value") or 0))
                page.wait_for_timeout(200)
            expect(page.locator("#job-ok")).to_contain_text(f"注册 {ROWS}")
            page.screenshot(path=str(shots / "03-bulk-polled.png"), full_page=True)
        finally:
            browser.close()
    assert refused == [429], refused
    assert any(0 < v < 100 for v in bars), f"the polled bar never moved: {bars}"
