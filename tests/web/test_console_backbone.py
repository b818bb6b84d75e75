"""The backbone page in-process: platform admins only, in both languages; in the embedded mode
it says the backbone is off and what to set. (The scaled mode's readings against a real NATS
are in tests/integration/test_bus_status.py and test_backbone_browser.py.)"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from tests.web.test_console_platform import CJK, PASSWORD, add_user, text_of

from indunet import core
from indunet.bus import Backbone, Names
from indunet.bus.status import ConsumerState, ConsumerStatus
from indunet.core import Role
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE
from indunet.web.backbone import BackboneService
from indunet.web.console.backbone import age_text, row_state, sorted_rows

RAW_KEY = re.compile(r"\b(?:backbone|platform)\.[a-z_0-9.]+\b")


@pytest.fixture
async def client(state: AppState, enterprise: core.Enterprise) -> AsyncIterator[httpx.AsyncClient]:
    add_user(state, "root2", Role.PLATFORM_ADMIN)
    add_user(state, "rita", Role.REGULATOR)
    add_user(state, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
    add_user(state, "eu", Role.ENTERPRISE_USER, enterprise.id)
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def login(client: httpx.AsyncClient, username: str, lang: str = "zh-CN") -> None:
    client.cookies.clear()
    resp = await client.post("/login", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 303 and SESSION_COOKIE in client.cookies, resp.text
    client.cookies.set("lang", lang)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_in_the_embedded_mode_the_page_says_the_backbone_is_off_and_what_to_set(
    client: httpx.AsyncClient, lang: str
) -> None:
    await login(client, "root2", lang)
    page = await client.get("/platform/backbone")
    assert page.status_code == 200
    assert f'<html lang="{lang}">' in page.text
    seen = text_of(page.text)
    assert RAW_KEY.findall(seen) == [] and "{{" not in page.text
    assert 'id="backbone-off"' in page.text and "INDUNET_BUS_URL=nats://" in page.text
    assert 'id="consumer-table"' not in page.text
    off = "消息骨干未启用" if lang == "zh-CN" else "The backbone is off"
    assert off in seen
    tab = "消息骨干" if lang == "zh-CN" else "Backbone"
    assert f'<a href="/platform/backbone" aria-current="page">{tab}</a>' in page.text
    if lang == "en":
        assert set(CJK.findall(seen)) <= {"中文"}  # the language switch


@pytest.mark.parametrize("who", ["rita", "ea", "eu"])
async def test_only_platform_admins_read_it_everyone_else_gets_403_in_their_language(
    client: httpx.AsyncClient, who: str
) -> None:
    for lang, text in (("zh-CN", "仅平台管理员可查看"), ("en", "only platform admins may read it")):
        await login(client, who, lang)
        page = await client.get("/platform/backbone")
        assert page.status_code == 403, (who, page.text[:200])
        assert text in text_of(page.text) and 'id="backbone-denied"' in page.text
        assert "INDUNET_BUS_URL" not in page.text  # not even whether the mode is on


async def test_a_visitor_is_sent_to_the_login_first(client: httpx.AsyncClient) -> None:
    resp = await client.get("/platform/backbone")
    assert resp.status_code in (302, 303, 307)
    assert resp.headers["location"].startswith("/login")


def test_rows_say_behind_caught_up_not_started_or_unknown_and_sort_by_lag() -> None:
    at = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    rows = [
        ConsumerStatus(0, "tel-p0", ConsumerState.ACTIVE, pending=3, ack_pending=2, last_acked=at),
        ConsumerStatus(1, "tel-p1", ConsumerState.ACTIVE),
        ConsumerStatus(2, "tel-p2", ConsumerState.NOT_STARTED),
        ConsumerStatus(3, "tel-p3", ConsumerState.UNKNOWN),
        ConsumerStatus(4, "tel-p4", ConsumerState.ACTIVE, pending=9),
    ]
    assert [row_state(c) for c in rows] == [
        "behind",
        "caught_up",
        "not_started",
        "unknown",
        "behind",
    ]
    assert rows[0].lag == 5
    assert [c.partition for c in sorted_rows(rows, "lag", desc=True)][:2] == [4, 0]
    assert sorted_rows(rows, "last_acked", desc=True)[0].partition == 0
    assert [c.partition for c in sorted_rows(rows, "bogus", desc=False)] == [0, 1, 2, 3, 4]
    assert age_text(7 * 86400) == ("backbone.age.days", 7)
    assert age_text(7200) == ("backbone.age.hours", 2)
    assert age_text(90) == ("backbone.age.minutes", 2)
    assert age_text(0) == ("backbone.age.none", 0)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_process_that_lost_nats_says_so_instead_of_waiting_or_failing(
    client: httpx.AsyncClient, state: AppState, lang: str
) -> None:
    unreachable = Backbone(["nats://127.0.0.1:1"], Names("tnowhere", 8))  # never connects
    state.services["bus"] = BackboneService(unreachable)
    await login(client, "root2", lang)
    page = await client.get(
        "/platform/backbone",
        params={"state": "<script>", "sort": "x", "desc": "2", "page": "999999", "size": "-5"},
        follow_redirects=True,  # a page past the last is the last page
    )
    assert page.status_code == 200, page.text[:300]
    seen = text_of(page.text)
    assert RAW_KEY.findall(seen) == [] and "<script>" not in page.text
    lost = "本进程尚未连接到 NATS" if lang == "zh-CN" else "This process is not connected to NATS"
    assert lost in seen and 'id="backbone-problem"' in page.text
    assert ("未连接" if lang == "zh-CN" else "Not connected") in seen
    assert 'id="consumer-table"' not in page.text and "TNOWHERE_TELEMETRY" in page.text
