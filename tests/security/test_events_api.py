"""``POST /api/v1/security/events``: scoped to the poster's enterprise, all or nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from tests.conftest import USCC_B, bearer

from indunet import core
from indunet.core import Role
from indunet.security import Security
from indunet.web import AppState, create_app
from indunet.web.api import security_events

URL = "/api/v1/security/events"


def event(i: int, **extra: object) -> dict[str, object]:
    return {
        "id": f"ev-{i}",
        "ts": 1_765_000_000 + i,
        "source": "zeek",
        "kind": "net.connection",
        "src_ip": "192.168.1.20",
        "dst_ip": "192.168.1.10",
        "dst_port": 502,
        **extra,
    }


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def hub_of(state: AppState) -> Security:
    svc = state.services["security"]
    assert isinstance(svc, Security)
    return svc


async def test_an_enterprise_posts_for_itself_only(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    with state.engine.begin() as conn:
        b = core.create_enterprise(conn, uscc=USCC_B, name="乙厂", actor="t", verified=True)
    user = bearer(state.engine, "ea", Role.ENTERPRISE_USER, enterprise.id)
    r = await client.post(URL, json=[event(1), event(2)], headers=user)
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 2, "duplicates": 0}
    queued = hub_of(state).hub._queue
    assert [e.enterprise_id for e in queued] == [enterprise.id, enterprise.id]
    again = await client.post(URL, json={"events": [event(2), event(3)]}, headers=user)
    assert again.json() == {"accepted": 1, "duplicates": 1}
    other = await client.post(URL, json=[event(4), event(5, enterprise_id=b.id)], headers=user)
    assert other.status_code == 404
    assert len(queued) == 3  # nothing of the refused batch
    admin = bearer(state.engine, "pa", Role.PLATFORM_ADMIN)
    ok = await client.post(URL, json=[event(6, enterprise_id=b.id), event(7)], headers=admin)
    assert ok.status_code == 200
    assert [e.enterprise_id for e in queued[-2:]] == [b.id, None]
    regulator = bearer(state.engine, "reg", Role.REGULATOR)
    assert (await client.post(URL, json=[event(8)], headers=regulator)).status_code == 403
    assert (await client.post(URL, json=[event(9)])).status_code == 401


async def test_a_wrong_event_is_named_and_nothing_is_queued(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    user = bearer(state.engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
    r = await client.post(URL, json=[event(1), event(2), event(3, dst_port=-1)], headers=user)
    assert r.status_code == 400
    assert r.json()["reason"] == "security_event_value"
    assert r.json()["params"] == {"where": "event 2", "field": "dst_port"}
    assert hub_of(state).hub.queued == 0
    r = await client.post(URL, content=b"{not json", headers=user)
    assert r.status_code == 400 and r.json()["reason"] == "security_events_json"
    r = await client.post(URL, json={"rows": []}, headers=user)
    assert r.status_code == 400 and r.json()["reason"] == "security_events_shape"
    many = [event(i) for i in range(security_events.MAX_EVENTS + 1)]
    r = await client.post(URL, json=many, headers=user)
    assert r.status_code == 400 and r.json()["reason"] == "security_events_count"
    big = b"[" + b" " * security_events.MAX_BODY + b"]"
    r = await client.post(URL, content=big, headers=user)
    assert r.status_code == 413
    assert hub_of(state).hub.queued == 0


async def test_a_full_queue_answers_503_with_retry_after(
    client: httpx.AsyncClient,
    state: AppState,
    enterprise: core.Enterprise,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(security_events, "SUBMIT_WAIT_S", 0.1)
    hub_of(state).hub.max_queued = 2  # not started: nothing takes from the queue
    user = bearer(state.engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
    assert (await client.post(URL, json=[event(1), event(2)], headers=user)).status_code == 200
    r = await client.post(URL, json=[event(3)], headers=user)
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.json()["reason"] == "security_hub_full"
    assert hub_of(state).hub.queued == 2
