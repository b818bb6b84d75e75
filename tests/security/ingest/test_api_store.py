"""Raw log lines over HTTP (good lines queued, bad ones named), the event store (idempotent
writes, retention by days and a row cap), its list API scoped by enterprise, the sources."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import USCC_B, bearer

from indunet import core
from indunet.core import Role
from indunet.security import Security, SecurityEvent
from indunet.security.eventstore import EventStore, settings_from
from indunet.security.ingest.service import Ingest
from indunet.web import AppState, create_app

SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def sec(state: AppState) -> Security:
    svc = state.services["security"]
    assert isinstance(svc, Security)
    return svc


def store(state: AppState) -> EventStore:
    part = sec(state).part("event-store")
    assert isinstance(part, EventStore)
    return part


def ev(i: int, eid: int | None, **extra: object) -> SecurityEvent:
    base: dict[str, object] = {
        "ts": 1_709_287_200.0 + i,
        "source": "suricata",
        "kind": "ids.alert",
        "enterprise_id": eid,
        "src_ip": "192.168.1.20",
        "dst_ip": "192.168.1.10",
        "protocol": "modbus",
        "message": f"alert number {i}",
        "id": f"e{i}-{eid}",
    }
    base.update(extra)
    return SecurityEvent(**base)  # type: ignore[arg-type]


async def test_raw_lines_are_queued_and_bad_lines_named(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    user = bearer(state.engine, "ea", Role.ENTERPRISE_USER, enterprise.id)
    text = (SAMPLES / "modbus_detailed.log").read_text().splitlines()
    text.insert(9, "broken\tline")
    r = await client.post(
        "/api/v1/security/logs",
        params={"format": "zeek", "name": "modbus_detailed.log"},
        content="\n".join(text).encode(),
        headers=user,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["events"], body["accepted"], body["bad_lines"]) == (2, 2, 1)
    assert body["errors"] == [{"line": 10, "error": "2 values where the #fields header names 21"}]
    queued = sec(state).hub._queue
    assert [e.enterprise_id for e in queued] == [enterprise.id] * 2
    assert queued[0].action == "write_multiple_registers"
    again = await client.post(
        "/api/v1/security/logs",
        params={"format": "eve"},
        content=(SAMPLES / "eve.json").read_bytes(),
        headers=user,
    )
    assert again.json()["accepted"] == 4
    same = await client.post(
        "/api/v1/security/logs",
        params={"format": "eve"},
        content=(SAMPLES / "eve.json").read_bytes(),
        headers=user,
    )
    assert same.json()["accepted"] == 0 and same.json()["duplicates"] == 4
    r = await client.post(
        "/api/v1/security/logs", params={"format": "cef"}, content=b"x", headers=user
    )
    assert r.status_code == 400 and r.json()["reason"] == "security_log_format"
    big = b"x" * (8 * 1024 * 1024 + 1)
    r = await client.post(
        "/api/v1/security/logs", params={"format": "eve"}, content=big, headers=user
    )
    assert r.status_code == 413
    # the sources: the enterprise sees its own HTTP sources, the platform admin every one
    ingest = sec(state).part("ingest")
    assert isinstance(ingest, Ingest)
    ingest.source("/var/log/suricata/eve.json", "file", "eve")
    mine = (await client.get("/api/v1/security/sources", headers=user)).json()["items"]
    assert {s["name"] for s in mine} == {
        f"http zeek enterprise {enterprise.id}",
        f"http eve enterprise {enterprise.id}",
    }
    zeek = next(s for s in mine if s["format"] == "zeek")
    assert (zeek["read"], zeek["parsed"], zeek["bad"], zeek["submitted"]) == (12, 2, 1, 2)
    admin = bearer(state.engine, "pa", Role.PLATFORM_ADMIN)
    every = (await client.get("/api/v1/security/sources", headers=admin)).json()["items"]
    assert "/var/log/suricata/eve.json" in {s["name"] for s in every}
    # regulators may read but not post
    reg = bearer(state.engine, "reg", Role.REGULATOR)
    r = await client.post(
        "/api/v1/security/logs", params={"format": "eve"}, content=b"", headers=reg
    )
    assert r.status_code == 403


async def test_the_store_lists_each_enterprise_its_own(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    with state.engine.begin() as conn:
        b = core.create_enterprise(conn, uscc=USCC_B, name="乙厂", actor="t", verified=True)
    s = store(state)
    s.write([ev(i, enterprise.id) for i in range(30)])
    s.write([ev(i, b.id, message="b-only secret alert", src_ip="10.9.9.9") for i in range(5)])
    s.write([ev(100, None, source="platform", kind="auth.failure", protocol=None)])
    assert s.write([ev(1, enterprise.id)]) == 0  # idempotent by id
    assert s.stats.already == 1
    a_user = bearer(state.engine, "au", Role.ENTERPRISE_USER, enterprise.id)
    r = await client.get("/api/v1/security/events", params={"limit": 10}, headers=a_user)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 30 and len(body["items"]) == 10
    assert body["items"][0]["id"] == f"e29-{enterprise.id}"  # newest first
    assert "b-only" not in r.text
    page3 = (
        await client.get(
            "/api/v1/security/events", params={"limit": 10, "offset": 20}, headers=a_user
        )
    ).json()
    assert page3["items"][-1]["id"] == f"e0-{enterprise.id}"
    r = await client.get("/api/v1/security/events", params={"enterprise_id": b.id}, headers=a_user)
    assert r.status_code == 404  # another tenant's: as if it did not exist
    r = await client.get("/api/v1/security/events", params={"ip": "10.9.9.9"}, headers=a_user)
    assert r.json()["total"] == 0
    reg = bearer(state.engine, "reg", Role.REGULATOR)
    everything = (await client.get("/api/v1/security/events", headers=reg)).json()
    assert everything["total"] == 36
    found = (
        await client.get(
            "/api/v1/security/events", params={"q": "B-ONLY secret", "ip": "10.9.9.9"}, headers=reg
        )
    ).json()
    assert found["total"] == 5
    ranged = (
        await client.get(
            "/api/v1/security/events",
            params={
                "since": "2024-03-01T10:00:05Z",
                "until": str(1_709_287_200 + 10),
                "enterprise_id": enterprise.id,
            },
            headers=reg,
        )
    ).json()
    assert ranged["total"] == 5
    kinds = (
        await client.get(
            "/api/v1/security/events",
            params={"kind": "auth.failure", "source": "platform"},
            headers=reg,
        )
    ).json()
    assert kinds["total"] == 1 and kinds["items"][0]["enterprise_id"] is None
    r = await client.get("/api/v1/security/events", params={"since": "yesterday"}, headers=reg)
    assert r.status_code == 400 and r.json()["params"] == {"field": "since"}
    r = await client.get(
        "/api/v1/security/events", params={"since": "2024-03-01T10:00:00"}, headers=reg
    )
    assert r.status_code == 400
    assert (await client.get("/api/v1/security/events")).status_code == 401
    hist = s.histogram(
        core.User(id=0, username="r", role=Role.REGULATOR, enterprise_id=None), s_query(), 10
    )
    assert sum(hist["counts"]) == 36


def s_query() -> object:
    from indunet.security.eventstore import EventQuery

    return EventQuery()


async def test_retention_by_days_and_a_row_cap(state: AppState) -> None:
    s = EventStore(state.engine, days=1, max_rows=10)
    now = time.time()
    s.write([ev(i, None, ts=now - 3 * 86_400 + i) for i in range(5)])  # too old
    s.write([ev(100 + i, None, ts=now - 60 + i) for i in range(15)])
    assert s.prune(now) == (5, 5)
    with state.engine.connect() as conn:
        ids = set(conn.execute(sa.text("SELECT id FROM security_events")).scalars())
    assert ids == {f"e{100 + i}-None" for i in range(5, 15)}  # the newest ten
    assert (s.stats.pruned_age, s.stats.pruned_rows) == (5, 5)
    assert settings_from({}) == (30.0, 5_000_000)
    assert settings_from(
        {"INDUNET_SECURITY_EVENT_DAYS": "7", "INDUNET_SECURITY_EVENT_ROWS": "2000"}
    ) == (7.0, 2000)
    with pytest.raises(ValueError, match="INDUNET_SECURITY_EVENT_DAYS"):
        settings_from({"INDUNET_SECURITY_EVENT_DAYS": "0"})


async def test_the_hub_writes_into_the_store(state: AppState) -> None:
    svc = sec(state)
    await svc.start()
    try:
        await svc.hub.submit([ev(i, None) for i in range(50)])
        await svc.hub.drained()
    finally:
        await svc.stop()
    assert store(state).stats.written == 50
    lines = "\n".join(__import__("indunet.security.service", fromlist=["x"]).metric_lines(state))
    assert 'indunet_security_stored_total{result="written"} 50' in lines
