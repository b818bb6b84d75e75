"""The alerts and cases pages render in both languages, scoped to the reader's enterprise,
and their forms drive the workflow (promote, tasks, notes, evidence, resolve)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.conftest import api_token
from tests.security.cases.helpers import alert

from indunet import core
from indunet.core import Role
from indunet.security import Security
from indunet.security.cases import AlertStore
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE
from indunet.web.console.i18n import LANG_COOKIE
from indunet.web.csrf import csrf_token


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"Origin": "http://testserver"}
    ) as c:
        yield c


def store_of(state: AppState) -> AlertStore:
    svc = state.services["security"]
    assert isinstance(svc, Security)
    found = svc.part("alerts")
    assert isinstance(found, AlertStore)
    return found


async def login(
    client: httpx.AsyncClient, state: AppState, name: str, role: Role, eid: int | None
) -> str:
    """Log ``name`` in (made with ``role``); the session's CSRF token."""
    api_token(state.engine, name, role, eid)
    client.cookies.clear()
    r = await client.post("/login", data={"username": name, "password": "a-long-password"})
    assert r.status_code == 303, r.text
    return csrf_token(client.cookies[SESSION_COOKIE])


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("zh-CN", ("安全告警", "升级为事件", "事件处置", "处置记录")),
        ("en", ("Security alerts", "Promote to a case", "Cases", "History")),
    ],
)
async def test_pages_render_and_drive_the_workflow(
    client: httpx.AsyncClient,
    state: AppState,
    enterprise: core.Enterprise,
    lang: str,
    words: tuple[str, ...],
) -> None:
    csrf = await login(client, state, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
    client.cookies.set(LANG_COOKIE, lang)
    a = alert(enterprise.id, level=5, techniques=("T0855",))
    await store_of(state).raise_alerts([a])
    page = await client.get("/security/alerts")
    assert page.status_code == 200, page.text
    assert words[0] in page.text and a.id in page.text
    assert "/security/attack?technique=T0855" in page.text
    detail = await client.get(f"/security/alerts/{a.id}")
    assert words[1] in detail.text
    r = await client.post(f"/security/alerts/{a.id}/promote", data={"csrf_token": csrf})
    assert r.status_code == 303
    case_url = r.headers["location"]
    listing = await client.get("/security/cases")
    assert words[2] in listing.text and case_url in listing.text
    for path, form in (
        ("/tasks", {"title": "Pull the switch log"}),
        ("/notes", {"text": "Vendor laptop on the OT LAN"}),
        (
            "",
            {
                "assignee": "ea",
                "severity": "high",
                "tlp": "RED",
                "pap": "AMBER",
                "title": "Rogue writes",
                "description": "",
            },
        ),
    ):
        r = await client.post(case_url + path, data=form | {"csrf_token": csrf})
        assert r.status_code == 303, r.text
    data = b"pcap bytes"
    r = await client.post(
        case_url + "/evidence",
        data={"csrf_token": csrf},
        files={"file": ("capture.pcap", data, "application/vnd.tcpdump.pcap")},
    )
    assert r.status_code == 303, r.text
    r = await client.post(case_url + "/status", data={"status": "resolved", "csrf_token": csrf})
    assert r.status_code == 400
    r = await client.post(
        case_url + "/status",
        data={"status": "resolved", "disposition": "true_positive", "csrf_token": csrf},
    )
    assert r.status_code == 303
    page = await client.get(case_url)
    assert page.status_code == 200
    text = page.text
    assert words[3] in text and hashlib.sha256(data).hexdigest() in text
    assert "Pull the switch log" in text and "Vendor laptop on the OT LAN" in text
    assert 'data-status="resolved"' in text and "TLP:RED" in text


async def test_another_tenants_case_page_is_not_found(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    with state.engine.begin() as conn:
        b = core.create_enterprise(
            conn, uscc=core.make_uscc("91110108MA01ABCD"), name="乙厂", actor="t", verified=True
        )
    a = alert(enterprise.id, level=13)
    await store_of(state).raise_alerts([a])
    await login(client, state, "ob", Role.ENTERPRISE_ADMIN, b.id)
    assert (await client.get("/security/cases/1")).status_code == 404
    assert (await client.get(f"/security/alerts/{a.id}")).status_code == 404
    assert a.id not in (await client.get("/security/alerts")).text


async def test_a_case_from_an_alert_is_titled_in_the_readers_language(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    csrf = await login(client, state, "ea2", Role.ENTERPRISE_ADMIN, enterprise.id)
    a = alert(
        enterprise.id,
        level=5,
        rule="ot.mode.stop",
        title="PLC stop command",
        detail={"title_zh": "PLC 停机命令"},
    )
    await store_of(state).raise_alerts([a])
    r = await client.post(f"/security/alerts/{a.id}/promote", data={"csrf_token": csrf})
    assert r.status_code == 303
    case_url = r.headers["location"]
    rule = state.services["security"].part("detection").engine.ruleset.get("ot.mode.stop")
    zh, en = rule.title_in("zh-CN"), rule.title_in("en")
    client.cookies.set(LANG_COOKIE, "zh-CN")
    page = (await client.get(case_url)).text
    assert zh in page
    created = page.split('data-what="created"', 1)[1].split("</li>", 1)[0]
    assert zh in created and en not in created  # the history says it in Chinese too
    found = await client.get("/security/cases", params={"q": zh[:4].lower()})
    assert case_url in found.text  # the Chinese title finds it too
    # saving the form in Chinese (another field changed, the title sent back as shown)
    # keeps the rule's title: English readers still read it in English
    client.cookies.set(LANG_COOKIE, "zh-CN")
    same = {"title": zh, "severity": "high", "tlp": "AMBER", "pap": "AMBER"}
    r = await client.post(
        case_url, data=same | {"assignee": "", "description": "", "csrf_token": csrf}
    )
    assert r.status_code == 303, r.text
    client.cookies.set(LANG_COOKIE, "en")
    heading = (await client.get(case_url)).text.split("<h1>", 1)[1].split("</h1>", 1)[0]
    assert en in heading and zh not in heading
    # a person's title is shown as written, in every language
    form = {"title": "停机调查", "severity": "high", "tlp": "AMBER", "pap": "AMBER"}
    r = await client.post(
        case_url, data=form | {"assignee": "", "description": "", "csrf_token": csrf}
    )
    assert r.status_code == 303, r.text
    assert "停机调查" in (await client.get(case_url)).text
