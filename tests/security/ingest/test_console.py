"""The security events page: both languages, the zone named, search and paging, the
histogram's data, each enterprise its own events."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.conftest import USCC_B

from indunet import core
from indunet.core import Role
from indunet.security import Security, SecurityEvent
from indunet.security.eventstore import EventStore
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE
from indunet.web.csrf import HEADER, csrf_token

PASSWORD = "a-long-password"


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def login(
    client: httpx.AsyncClient, state: AppState, name: str, role: Role, eid: int | None
) -> None:
    with state.engine.begin() as conn:
        core.create_user(
            conn, username=name, password=PASSWORD, role=role, actor="t", enterprise_id=eid
        )
    client.cookies.clear()
    r = await client.post("/login", data={"username": name, "password": PASSWORD})
    assert r.status_code == 303, r.text
    client.headers[HEADER] = csrf_token(client.cookies[SESSION_COOKIE])


def store(state: AppState) -> EventStore:
    svc = state.services["security"]
    assert isinstance(svc, Security)
    part = svc.part("event-store")
    assert isinstance(part, EventStore)
    return part


async def test_the_events_page_in_both_languages(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    with state.engine.begin() as conn:
        b = core.create_enterprise(conn, uscc=USCC_B, name="乙厂", actor="t", verified=True)
    base = 1_709_287_200.0
    events = [
        SecurityEvent(
            ts=base + i * 60,
            source="suricata",
            kind="ids.alert",
            enterprise_id=enterprise.id,
            protocol="modbus",
            action=f"sid:{2100000 + i}",
            src_ip="192.168.1.20",
            dst_ip="192.168.1.10",
            dst_port=502,
            severity=9,
            message=f"ET SCADA alert {i}",
            id=f"a{i}",
        )
        for i in range(25)
    ]
    events.append(
        SecurityEvent(
            ts=base,
            source="zeek",
            kind="net.connection",
            enterprise_id=b.id,
            message="b-only-event",
            id="b1",
        )
    )
    store(state).write(events)
    await login(client, state, "eu", Role.ENTERPRISE_USER, enterprise.id)
    zh = await client.get("/security/events")
    assert zh.status_code == 200, zh.text
    assert "安全事件" in zh.text and "Asia/Shanghai" in zh.text
    assert "2024-03-01 18:24:00" in zh.text  # the newest, in Shanghai time
    assert len(re.findall(r"<tr data-event=", zh.text)) == 20 and "b-only-event" not in zh.text
    data = json.loads(re.search(r'id="security-events-data">(.*?)</script>', zh.text).group(1))  # type: ignore[union-attr]
    assert sum(data["counts"]) == 25 and data["labels"][0] == "2024-03-01 18:00"
    page2 = await client.get("/security/events", params={"page": 2})
    assert len(re.findall(r"<tr data-event=", page2.text)) == 5
    found = await client.get("/security/events", params={"q": "alert 7", "source": "suricata"})
    assert re.findall(r'<tr data-event="([^"]+)"', found.text) == ["a7"]
    ranged = await client.get(
        "/security/events",
        params={"since": "2024-03-01T18:10", "until": "2024-03-01T18:12:00"},
    )
    assert re.findall(r'<tr data-event="([^"]+)"', ranged.text) == ["a11", "a10"]
    hostile = await client.get(
        "/security/events", params={"since": "garbage", "min_severity": "x", "source": "nope"}
    )
    assert hostile.status_code == 200
    client.cookies.set("lang", "en")
    en = await client.get("/security/events")
    assert '<html lang="en">' in en.text and "Security events" in en.text
    assert "Events over time" in en.text
    await login(client, state, "reg", Role.REGULATOR, None)
    every = await client.get("/security/events", params={"size": 50})
    assert "b-only-event" in every.text
