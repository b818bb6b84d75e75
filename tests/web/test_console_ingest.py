# ruff: noqa: F401, F811  (fixtures imported from test_console_platform are parameters here)
"""Dead letters and ingest in the console: tenancy, filters and paging on the server, the
counters for overseers, and retrying letters after a model fix."""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from tests.web.test_console_platform import (
    PRESS,
    Fleet,
    admin_password,
    app_client,
    fleet,
    login,
)

from indunet import core
from indunet.telemetry import Sample
from indunet.telemetry.deadletters import LetterFilter

NOW = int(time.time() * 1000)


def letters(html: str) -> list[tuple[str, str]]:
    """(id, reason) of the letters in the table."""
    return re.findall(r'<tr data-letter="(\d+)" data-reason="([a-z_]+)">', html)


@pytest.fixture
async def world(fleet: Fleet) -> AsyncIterator[Fleet]:
    """The fleet with its pipeline running, a press of enterprise A on model acme:press 1.0.0
    and dead letters of both enterprises."""
    platform = fleet.platform
    platform.models.add(PRESS, enterprise_id=fleet.a.id, actor="test")
    platform.devices.create(
        fleet.a.id, {"id": "press-1", "name": "1号液压机", "model": "acme:press@1.0.0"}, actor="t"
    )
    await platform.pipeline.start()
    pipe = platform.pipeline
    for name in ("press-1", "cnc-0001", "meter-b1", "ghost-9"):  # models read off the loop
        await asyncio.to_thread(pipe.checks.split, [Sample(name, "x", NOW, 0)], "http")
    await pipe.ingest(
        [Sample("press-1", "stroke", NOW - i * 1000, 10.0 + i) for i in range(3)], source="http"
    )
    await pipe.ingest([Sample("press-1", "force", NOW - 500, "heavy")], source="http")
    await pipe.ingest(
        [Sample("cnc-0001", "spindle_speed", NOW - i, -5.0) for i in range(30)], source="opcua"
    )
    await pipe.ingest([Sample("meter-b1", "active_power", NOW, "lots")], source="modbus")
    await pipe.ingest([Sample("ghost-9", "x", NOW, 1.0)], source="http")
    await pipe.reject("press-1", source="mqtt", reason="not JSON", payload=b"\xff\xfe")
    try:
        yield fleet
    finally:
        await platform.pipeline.stop()


async def test_tenants_see_their_letters_only_and_another_tenants_device_is_404(
    app_client: httpx.AsyncClient, world: Fleet
) -> None:
    await login(app_client, "eu")
    page = await app_client.get("/platform/ingest", params={"size": 100})
    assert page.status_code == 200
    shown = letters(page.text)
    assert len(shown) == 3 + 1 + 30 + 1  # press (stroke, force, payload), cnc
    assert "meter-b1" not in page.text and "ghost-9" not in page.text
    assert "模型中没有该测点" in page.text and "超出取值范围" in page.text  # reasons, catalogue
    assert 'id="ingest-counters"' not in page.text  # every enterprise's counts: overseers only
    assert 'id="retry-form"' not in page.text  # an enterprise user may not retry
    other = await app_client.get("/platform/ingest", params={"device": "meter-b1"})
    assert other.status_code == 404 and "lots" not in other.text
    await login(app_client, "eb")
    theirs = await app_client.get("/platform/ingest")
    assert [r for _, r in letters(theirs.text)] == ["wrong_type"]


async def test_filters_search_and_paging_run_on_the_server(
    app_client: httpx.AsyncClient, world: Fleet, admin_password: str
) -> None:
    await login(app_client, "admin", admin_password)
    everything = await app_client.get("/platform/ingest")
    assert 'id="ingest-counters"' in everything.text and "ghost-9" in everything.text
    top = re.findall(r'href="/platform/ingest\?device=([^"]+)"><b>(\d+)</b>', everything.text)
    assert top[:2] == [("cnc-0001", "30"), ("press-1", "5")]
    assert len(letters(everything.text)) == 20  # one page
    assert "第 1 / 2 页" in everything.text or "1 / 2" in everything.text
    second = await app_client.get("/platform/ingest", params={"page": 2})
    assert len(letters(second.text)) == 37 - 20
    by_reason = await app_client.get("/platform/ingest", params={"reason": "unknown_point"})
    assert [r for _, r in letters(by_reason.text)] == ["unknown_point"] * 3
    by_device = await app_client.get(
        "/platform/ingest", params={"device": "press-1", "reason": "undecodable"}
    )
    assert len(letters(by_device.text)) == 1 and "not JSON" in by_device.text
    searched = await app_client.get("/platform/ingest", params={"q": "below the minimum"})
    assert len(letters(searched.text)) == 20 and 'data-reason="out_of_range"' in searched.text
    future = await app_client.get("/platform/ingest", params={"from": "2999-01-01T00:00"})
    assert letters(future.text) == []
    hostile = {"q": "%_\\" * 50, "reason": "drop table", "from": "never", "page": "-4"}
    odd = await app_client.get("/platform/ingest", params=hostile | {"size": "99999"})
    assert odd.status_code == 200 and letters(odd.text) == []
    assert "未知的原因，已忽略" in odd.text and "开始时间无法识别" in odd.text


async def test_retry_after_a_model_fix_stores_what_passes_and_keeps_the_rest(
    app_client: httpx.AsyncClient, world: Fleet, admin_password: str
) -> None:
    platform = world.platform
    fixed = copy.deepcopy(PRESS)
    fixed["version"] = {"model": "1.1.0"}
    fixed["properties"]["stroke"] = {"type": "number", "title": "Stroke", "unit": "mm"}
    platform.models.add(fixed, enterprise_id=world.a.id, actor="test")
    platform.devices.update("press-1", {"model": "acme:press@1.1.0"}, actor="test")

    await login(app_client, "eu")  # may see, may not change
    page = await app_client.get("/platform/ingest", params={"device": "press-1"})
    ids = [i for i, _ in letters(page.text)]
    refused = await app_client.post("/platform/ingest/retry", data={"ids": ids})
    assert refused.status_code == 403

    await login(app_client, "ea")
    page = await app_client.get("/platform/ingest", params={"device": "press-1"})
    assert 'id="retry-device"' in page.text
    done = await app_client.post(
        "/platform/ingest/retry",
        data={"scope": "device", "device": "press-1", "back": "/platform/ingest?device=press-1"},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/platform/ingest?device=press-1&retried=3.1.1"
    after = await app_client.get(done.headers["location"])
    assert "3 条已入库并删除，1 条仍未通过" in after.text
    left = sorted(r for _, r in letters(after.text))
    assert left == ["undecodable", "wrong_type"]  # the payload stays, the string still fails
    stored = platform.store.query("press-1", "stroke", NOW - 10_000, NOW + 1)
    assert [s.value for s in stored] == [12.0, 11.0, 10.0]
    with world.platform.devices.engine.connect() as conn:
        audit = core.audit.entries(conn, target="device:press-1")
    retried = [e for e in audit if e.action == "telemetry.letters.retry"]
    assert len(retried) == 1 and "ea" in retried[0].actor
    assert retried[0].detail["stored"] == 3 and retried[0].detail["failed"] == 1


async def test_retrying_never_reaches_another_tenant_and_bad_input_is_refused(
    app_client: httpx.AsyncClient, world: Fleet, admin_password: str
) -> None:
    letters_of = world.platform.pipeline.dead_letters
    theirs, _ = letters_of.page(LetterFilter(device="meter-b1"))
    await login(app_client, "ea")
    other = await app_client.post("/platform/ingest/retry", data={"ids": [str(theirs[0].id)]})
    assert other.status_code == 404 and "没有可重新提交的死信" in other.text
    device = await app_client.post(
        "/platform/ingest/retry", data={"scope": "device", "device": "meter-b1"}
    )
    assert device.status_code == 404
    for form, text in (
        ({"ids": ["12abc"]}, "不是有效的死信编号"),
        ({}, "请选择要重新提交的死信"),
        ({"scope": "device"}, "请选择要重新提交的死信"),
        ({"ids": [str(i) for i in range(1001)]}, "每次最多重新提交 1000 条死信"),
    ):
        resp = await app_client.post("/platform/ingest/retry", data=form)
        assert resp.status_code == 400 and text in resp.text, form
    assert letters_of.page(LetterFilter(device="meter-b1"))[1] == 1  # untouched


async def test_a_letter_of_an_earlier_owner_is_never_written_into_the_new_device(
    app_client: httpx.AsyncClient, world: Fleet, admin_password: str
) -> None:
    platform = world.platform
    letters_of = platform.pipeline.dead_letters
    (letter,), _ = letters_of.page(LetterFilter(device="press-1", reason="wrong_type"))
    with platform.devices.engine.begin() as conn:  # as if written while enterprise B held the id
        conn.execute(
            sa.text("UPDATE tel_dead_letters SET enterprise_id = :b WHERE id = :i"),
            {"b": world.b.id, "i": letter.id},
        )
    await login(app_client, "admin", admin_password)
    done = await app_client.post("/platform/ingest/retry", data={"ids": [str(letter.id)]})
    assert done.status_code == 303 and done.headers["location"].endswith("retried=0.0.1")
    assert platform.store.query("press-1", "force", 0, NOW + 1) == []


async def test_letter_details_read_in_the_readers_language(
    app_client: httpx.AsyncClient, world: Fleet
) -> None:
    await login(app_client, "eu")
    page = await app_client.get("/platform/ingest", params={"size": 100})
    assert page.status_code == 200
    assert "设备 press-1 的模型中没有测点 stroke（现有测点：force）" in page.text
    assert "测点 force 应为 number 类型，收到 str 类型的值 &#39;heavy&#39;" in page.text
    assert "测点 spindle_speed 的值 -5.0 低于最小值" in page.text
    assert "below the minimum" not in page.text and "has no point" not in page.text
    assert "not JSON" in page.text  # a letter that does not name its detail keeps its text
    app_client.cookies.set("lang", "en")
    english = await app_client.get("/platform/ingest", params={"size": 100})
    assert "The model of press-1 has no point stroke (it has: force)" in english.text
    assert "spindle_speed value -5.0 is below the minimum" in english.text
    assert "低于最小值" not in english.text
