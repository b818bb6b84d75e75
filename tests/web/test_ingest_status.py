"""HTTP devices go online when they post telemetry and offline when they fall silent."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import bearer

from indunet import core, ids
from indunet.devices.registry import HTTP_SILENT_S as HTTP_OFFLINE_S
from indunet.telemetry import DeadLetters, DiskBuffer, MemoryStore, Pipeline
from indunet.web import AppState, create_app
from indunet.web.platform import Platform


@pytest.fixture
def platform(state: AppState) -> Platform:
    assert state.platform is not None
    p: Platform = state.platform
    return p


@pytest.fixture
def secrets(
    platform: Platform, allocation: ids.Allocation, enterprise: core.Enterprise
) -> dict[str, str]:
    made = {}
    for device_id, protocol in (("gw-1", "http"), ("gw-2", "http"), ("env-1", "mqtt")):
        spec = {"id": device_id, "name": device_id, "model": "indunet:env-sensor"}
        _, made[device_id] = platform.devices.create(
            enterprise.id, {**spec, "protocol": protocol}, actor="test"
        )
    return made


@pytest.fixture
async def client(state: AppState, platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    pipeline = Pipeline(
        MemoryStore(),
        platform.devices.model_of,
        DeadLetters(state.engine),
        DiskBuffer(state.settings.data_dir / "status-buffer.db", 1 << 22),
    )
    platform.store, platform.pipeline = pipeline.store, pipeline
    await pipeline.start()
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
    await pipeline.stop()


@pytest.fixture
def admin(state: AppState) -> dict[str, str]:
    return bearer(state.engine, "root", core.Role.PLATFORM_ADMIN)


def body(*devices: str, value: Any = 21.5) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {
        "samples": [
            {"device": d, "point": "temperature", "ts": now, "value": value} for d in devices
        ]
    }


async def status(client: httpx.AsyncClient, admin: dict[str, str], device_id: str) -> Any:
    resp = await client.get(f"/api/v1/devices/{device_id}", headers=admin)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_a_device_posting_with_its_secret_comes_online(
    client: httpx.AsyncClient, secrets: dict[str, str], admin: dict[str, str]
) -> None:
    assert (await status(client, admin, "gw-1"))["status"] == "unknown"
    before = time.time()
    resp = await client.post(
        "/api/v1/telemetry",
        json=body("gw-1"),
        headers={"Authorization": f"Device gw-1:{secrets['gw-1']}"},
    )
    assert resp.status_code == 200, resp.text
    shown = await status(client, admin, "gw-1")
    seen = datetime.fromisoformat(shown["last_seen"]).timestamp()  # ISO 8601 in UTC
    assert shown["status"] == "online" and before - 1 <= seen <= time.time()
    assert (await status(client, admin, "gw-2"))["status"] == "unknown"


async def test_a_user_posting_for_devices_brings_only_the_http_ones_online(
    client: httpx.AsyncClient, secrets: dict[str, str], admin: dict[str, str]
) -> None:
    resp = await client.post("/api/v1/telemetry", json=body("gw-2", "env-1"), headers=admin)
    assert resp.status_code == 200 and resp.json()["accepted"] == 2, resp.text
    assert (await status(client, admin, "gw-2"))["status"] == "online"
    # an MQTT device's status is its connection's: a back-fill over HTTP says nothing about it
    assert (await status(client, admin, "env-1"))["status"] == "unknown"


async def test_a_refused_post_does_not_count_as_a_sign_of_life(
    client: httpx.AsyncClient, secrets: dict[str, str], admin: dict[str, str]
) -> None:
    wrong = {"Authorization": "Device gw-1:not-the-secret-at-all"}
    assert (
        await client.post("/api/v1/telemetry", json=body("gw-1"), headers=wrong)
    ).status_code == 401
    other = {"Authorization": f"Device gw-2:{secrets['gw-2']}"}
    assert (
        await client.post("/api/v1/telemetry", json=body("gw-1"), headers=other)
    ).status_code == 403
    assert (await status(client, admin, "gw-1"))["status"] == "unknown"
    assert (await status(client, admin, "gw-2"))["status"] == "unknown"


async def test_silent_http_devices_go_offline_and_come_back(
    client: httpx.AsyncClient, platform: Platform, secrets: dict[str, str], admin: dict[str, str]
) -> None:
    for device_id in ("gw-1", "gw-2", "env-1"):
        assert (
            await client.post("/api/v1/telemetry", json=body(device_id), headers=admin)
        ).status_code == 200
    now = time.time()
    platform.devices.set_status("gw-1", True, now - HTTP_OFFLINE_S - 5)  # last post long ago
    platform.devices.set_status("gw-2", True, now - HTTP_OFFLINE_S + 30)  # still in time
    platform.devices.set_status("env-1", True, now - HTTP_OFFLINE_S - 5)  # MQTT: not ours
    await platform._housekeeping()
    assert (await status(client, admin, "gw-1"))["status"] == "offline"
    assert (await status(client, admin, "gw-2"))["status"] == "online"
    assert (await status(client, admin, "env-1"))["status"] == "online"
    with platform.engine.connect() as conn:  # and written to the database
        query = sa.text("SELECT status FROM dev_devices WHERE id = 'gw-1'")
        assert conn.execute(query).scalar_one() == "offline"
    assert (
        await client.post("/api/v1/telemetry", json=body("gw-1"), headers=admin)
    ).status_code == 200
    assert (await status(client, admin, "gw-1"))["status"] == "online"


async def test_status_changes_are_published_as_device_status_events(
    client: httpx.AsyncClient,
    state: AppState,
    platform: Platform,
    secrets: dict[str, str],
    admin: dict[str, str],
    enterprise: core.Enterprise,
) -> None:
    """Subsystems to come (security, monitoring) learn of outages from the bus, not the table."""
    got: list[core.Event] = []

    async def keep(event: core.Event) -> None:
        got.append(event)

    state.bus.subscribe("device.status", keep)
    assert (
        await client.post("/api/v1/telemetry", json=body("gw-1"), headers=admin)
    ).status_code == 200
    platform.devices.set_status("gw-1", True, time.time() - HTTP_OFFLINE_S - 5)
    await platform._housekeeping()  # online recorded, then gw-1 expires: offline
    assert [(e.data["device_id"], e.data["status"]) for e in got] == [
        ("gw-1", "online"),
        ("gw-1", "offline"),
    ]
    assert {(e.source, e.version, e.enterprise_id) for e in got} == {("devices", 1, enterprise.id)}
    assert all(isinstance(e.data["at_ms"], int) and e.data["at"].endswith("+00:00") for e in got)
    await platform._housekeeping()
    assert len(got) == 2  # nothing changed, nothing published
