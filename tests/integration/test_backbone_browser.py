"""A worker that falls behind is visible in the console, in a real Chromium against real
``indunet up`` processes of the scaled mode on the real NATS JetStream.

A worker process starts (making the partitions' durable consumers) and stops; the api
process, which runs no worker, then takes HTTP telemetry and publishes it to the stream. The
platform admin opens the backbone page of the api process and sees the lag on the device's
partition, in both languages, sorted and filtered, and the page passes axe-core.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import need_service
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, ServerGroup, group

from indunet import core
from indunet.bus import Backbone, Names, StreamLimits, partition_of
from indunet.bus.status import BackboneStatus, ConsumerState, read_status

pytestmark = pytest.mark.integration
NATS_URL = "nats://127.0.0.1:4222"
PARTITIONS = 4
MAX_BYTES = 64 * 1024**2
USCC = core.make_uscc("91350200MA3ABCDE")
DEVICE = "env-0001"
POSTS = 5


def bus_env(prefix: str, role: str) -> dict[str, str]:
    return {
        "INDUNET_BUS_URL": NATS_URL,
        "INDUNET_BUS_PREFIX": prefix,
        "INDUNET_BUS_PARTITIONS": str(PARTITIONS),
        "INDUNET_BUS_MAX_BYTES": str(MAX_BYTES),
        "INDUNET_ROLE": role,
    }


def connect(prefix: str) -> Backbone:
    """A backbone of the installation's names and limits (connecting brings the streams to
    its limits, so they must be the servers' small ones)."""
    return Backbone([NATS_URL], Names(prefix, PARTITIONS), StreamLimits(max_bytes=MAX_BYTES))


async def _status(prefix: str) -> BackboneStatus:
    backbone = connect(prefix)
    await backbone.start()
    try:
        assert await backbone.wait_ready(10)
        return await read_status(backbone)
    finally:
        await backbone.close()


async def _delete_streams(prefix: str) -> None:
    backbone = connect(prefix)
    names = backbone.names
    await backbone.start()
    try:
        if await backbone.wait_ready(10):
            for stream in (names.telemetry_stream, names.events_stream):
                with contextlib.suppress(Exception):
                    await backbone.jetstream().delete_stream(stream)
    finally:
        await backbone.close()


def status_of(prefix: str) -> BackboneStatus:
    """The backbone's status as a process of this installation reads it."""
    return asyncio.run(_status(prefix))


@pytest.fixture
def scaled(tmp_path: Path) -> Iterator[tuple[ServerGroup, str]]:
    need_chromium()
    need_service("NATS", "127.0.0.1", 4222)
    prefix = "t" + uuid.uuid4().hex[:10]
    try:
        with group(tmp_path) as g:
            yield g, prefix
    finally:
        asyncio.run(_delete_streams(prefix))


def seed(api: httpx.Client) -> None:
    """An enterprise with a prefix and an HTTP environment sensor."""

    def ok(resp: httpx.Response) -> Any:
        assert resp.status_code < 300, f"{resp.request.url}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    ent = ok(api.post("/api/v1/enterprises", json={"uscc": USCC, "name": "厦门示例机床有限公司"}))
    ok(api.post("/api/v1/prefixes", json={"prefix": "88.100.1", "enterprise_uscc": USCC}))
    device = {"id": DEVICE, "name": "车间温湿度", "model": "indunet:env-sensor"}
    device |= {"protocol": "http", "enterprise_id": ent["id"]}
    ok(api.post("/api/v1/devices", json=device))
    for i in range(POSTS):  # separate requests: separate batches, separate envelopes
        body = {"samples": [{"device": DEVICE, "point": "temperature", "value": 20.0 + i}]}
        ok(api.post("/api/v1/telemetry", json=body))
        time.sleep(0.1)


def test_the_lag_of_a_partition_nobody_consumes_shows_in_the_console(
    scaled: tuple[ServerGroup, str], shots: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    g, prefix = scaled
    api: Server = g.start("api", "up", env=bus_env(prefix, "api"))
    password = api.admin_password
    assert password, api.output
    worker = g.start("worker", "up", data_dir=api.data_dir, env=bus_env(prefix, "worker"))
    deadline = time.monotonic() + 20
    while not all(c.state is ConsumerState.ACTIVE for c in status_of(prefix).consumers):
        assert time.monotonic() < deadline, "the worker did not make its consumers"
        time.sleep(0.3)
    worker.stop()  # the worker is gone: its consumers stay, and nothing reads them

    client = httpx.Client(base_url=api.url, timeout=10.0)
    token = client.post("/api/v1/auth/token", json={"username": "admin", "password": password})
    client.headers["Authorization"] = f"Bearer {token.json()['token']}"
    seed(client)
    partition = partition_of(DEVICE, PARTITIONS)
    deadline = time.monotonic() + 10
    while (lag := status_of(prefix).consumers[partition].lag) == 0:
        assert time.monotonic() < deadline, "nothing reached the stream"
        time.sleep(0.2)
    assert 1 <= lag <= POSTS

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.set_default_timeout(15_000)
            page.goto(api.url + "/platform/backbone")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            expect(page).to_have_url(api.url + "/platform/backbone")
            expect(page.locator("h1")).to_have_text("消息骨干（NATS JetStream）")
            expect(page.locator('nav.tabs a[aria-current="page"]')).to_have_text("消息骨干")
            expect(page.locator("#backbone-connected")).to_have_text("已连接")
            row = page.locator(f'#consumer-table tr[data-partition="{partition}"]')
            expect(row).to_have_attribute("data-state", "behind")
            expect(row).to_have_attribute("data-lag", str(lag))
            expect(row.locator(".badge")).to_have_text("有积压")
            expect(row.locator("td").nth(1)).to_have_text(f"tel-p{partition}")
            expect(row.locator("td").nth(9)).to_have_text("从未")  # never acknowledged
            delivered = row.locator("td").nth(8)
            expect(delivered).to_have_text("从未")  # nothing delivered either: no worker
            others = page.locator('#consumer-table tr[data-state="caught_up"]')
            expect(others).to_have_count(PARTITIONS - 1)
            expect(page.locator("#total-lag")).to_have_text(str(lag))
            expect(page.locator("#stream-messages")).to_have_text(str(lag))
            expect(page.locator("#stream-stats")).to_contain_text("上限 64.0 MiB")
            zone = page.locator("body").get_attribute("data-tz") or ""
            expect(page.locator("#backbone-read-at")).to_contain_text(zone)  # the page's zone
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(shots / "01-lag-zh.png"), full_page=True)
            check_a11y(page)

            # Sorted by lag, the partition behind comes first; filtered, it is alone.
            page.locator("#consumer-table th a.sort", has_text="积压").click()
            page.locator("#consumer-table th a.sort", has_text="积压").click()
            expect(page).to_have_url(re.compile(r"sort=lag&desc=1"))
            first = page.locator("#consumer-table tbody tr").first
            expect(first).to_have_attribute("data-partition", str(partition))
            page.select_option("#consumer-filters select[name=state]", "behind")
            page.click("#consumer-filters button[type=submit]")
            expect(page.locator("#consumer-table tbody tr")).to_have_count(1)

            # English is one click away; the table refreshes itself with the lag kept.
            page.click("#lang-switch")
            expect(page.locator("h1")).to_have_text("Backbone (NATS JetStream)")
            row = page.locator(f'#consumer-table tr[data-partition="{partition}"]')
            expect(row.locator(".badge")).to_have_text("Behind")
            page.wait_for_timeout(5_500)  # one refresh (every 5 s) swaps the status in place
            expect(row).to_have_attribute("data-lag", str(lag))
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(shots / "02-lag-en.png"), full_page=True)
            check_a11y(page)
        finally:
            browser.close()
