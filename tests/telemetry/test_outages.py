"""An outage leaves a record, not only a hole: status history over HTTP, gaps with the
samples and buckets, gap rows in CSV exports, gaps on the console's chart data."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from tests.conftest import USCC_B, bearer

from indunet import core, ids
from indunet.core import Role
from indunet.telemetry import MemoryStore, Sample
from indunet.web import AppState, create_app

T = 1_714_550_400  # 2024-05-01T08:00:00Z in seconds
T_MS = T * 1000
WINDOW = f"start={T_MS}&end={T_MS + 600_000}"


@pytest.fixture
async def client(
    state: AppState, allocation: ids.Allocation, enterprise: core.Enterprise
) -> AsyncIterator[httpx.AsyncClient]:
    platform = state.platform
    assert platform is not None
    reg = platform.devices
    spec = {"id": "gw-1", "name": "gateway", "model": "indunet:env-sensor", "protocol": "http"}
    reg.create(enterprise.id, spec, actor="test")
    platform.store = MemoryStore()
    platform.store.write_batch(
        [Sample("gw-1", "temperature", T_MS + i * 30_000, 20.0 + i) for i in range(20)]
    )
    for online, at in [(True, T), (False, T + 60), (True, T + 120), (False, T + 300)]:
        reg.set_status("gw-1", online, at)
    reg.flush_status()
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        c.headers.update(bearer(state.engine, "alice", Role.ENTERPRISE_USER, enterprise.id))
        yield c


GAPS = [
    {"start": (T + 60) * 1000, "end": (T + 120) * 1000},
    {"start": (T + 300) * 1000, "end": None},
]


async def test_status_history_lists_every_change_newest_first(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/v1/devices/gw-1/status-history")
    assert resp.status_code == 200, resp.text
    changes = resp.json()["changes"]
    assert [(c["status"], c["at_ms"]) for c in changes] == [
        ("offline", (T + 300) * 1000),
        ("online", (T + 120) * 1000),
        ("offline", (T + 60) * 1000),
        ("online", T_MS),
    ]
    assert changes[-1]["at"] == "2024-05-01T08:00:00+00:00"
    since = await client.get(f"/api/v1/devices/gw-1/status-history?since={(T + 120) * 1000}")
    assert len(since.json()["changes"]) == 2
    bad = await client.get("/api/v1/devices/gw-1/status-history?limit=0")
    assert bad.status_code == 400 and bad.json()["detail"] == {"parameter": "limit"}


async def test_samples_and_buckets_come_with_the_gaps(client: httpx.AsyncClient) -> None:
    raw = await client.get(f"/api/v1/devices/gw-1/points/temperature/samples?{WINDOW}")
    assert raw.status_code == 200 and raw.json()["gaps"] == GAPS
    down = await client.get(
        f"/api/v1/devices/gw-1/points/temperature/downsample?{WINDOW}&bucket=1m"
    )
    assert down.status_code == 200 and down.json()["gaps"] == GAPS


async def test_a_csv_export_ends_with_a_row_per_gap(client: httpx.AsyncClient) -> None:
    resp = await client.get(f"/api/v1/devices/gw-1/export?points=temperature&{WINDOW}")
    assert resp.status_code == 200
    lines = resp.text.splitlines()
    assert len(lines) == 1 + 20 + 2
    assert lines[-2:] == [
        f"gw-1,,2024-05-01T08:01:00.000Z,{(T + 60) * 1000},{(T + 120) * 1000},gap",
        f"gw-1,,2024-05-01T08:05:00.000Z,{(T + 300) * 1000},,gap",
    ]


async def test_another_tenants_status_history_is_not_found(
    client: httpx.AsyncClient, state: AppState
) -> None:
    with state.engine.begin() as conn:
        other = core.create_enterprise(conn, uscc=USCC_B, name="乙", actor="test", verified=True)
    eve = bearer(state.engine, "eve", Role.ENTERPRISE_ADMIN, other.id)
    resp = await client.get("/api/v1/devices/gw-1/status-history", headers=eve)
    assert resp.status_code == 404


async def test_the_device_page_shows_the_history_and_the_charts_get_the_gaps(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    from indunet.web.console import device as page

    with state.engine.begin() as conn:
        core.create_user(
            conn,
            username="carol",
            password="a-long-password",
            role=Role.ENTERPRISE_USER,
            actor="test",
            enterprise_id=enterprise.id,
        )
    login = await client.post("/login", data={"username": "carol", "password": "a-long-password"})
    assert login.status_code == 303, login.text
    html = (await client.get("/platform/devices/gw-1")).text
    assert 'id="device-status-history"' in html and "上线与离线记录" in html
    # In the page's zone: Asia/Shanghai for a zh-CN reader whose browser has not said its own.
    assert "2024-05-01 16:05:00" in html and "2024-05-01 16:00:00" in html
    platform = state.platform
    assert platform is not None
    gw = platform.devices.get("gw-1")
    chart = page.series(platform, gw, "temperature", "15m", (T + 600) * 1000)
    assert chart["gaps"] == GAPS
