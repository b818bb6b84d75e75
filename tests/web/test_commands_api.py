"""The device command routes under /api/v1, in-process, with the in-memory command sender."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.conftest import bearer
from tests.telemetry.fleet import Fleet

from indunet import core
from indunet.core import Role
from indunet.telemetry import Commands, MemorySender
from indunet.web import AppState, create_app

URL = "/api/v1/devices/press-1/commands"


@dataclass
class Site:
    client: httpx.AsyncClient
    sender: MemorySender
    admin: dict[str, str]  # enterprise admin
    user: dict[str, str]  # enterprise user


@pytest.fixture
async def site(state: AppState, enterprise: core.Enterprise) -> AsyncIterator[Site]:
    fleet = Fleet()
    fleet.add("press-1", enterprise.id)
    sender = MemorySender()
    assert state.platform is not None
    state.platform.commands = Commands(state.engine, sender, fleet, timeout=0.2)
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Site(
            client,
            sender,
            bearer(state.engine, "ent-admin", Role.ENTERPRISE_ADMIN, enterprise.id),
            bearer(state.engine, "operator", Role.ENTERPRISE_USER, enterprise.id),
        )


async def test_write_and_invoke_answer_with_the_result(site: Site) -> None:
    async def reset(_device: str, payload: Any) -> Any:
        return {"cleared_faults": 3}

    site.sender.actions["reset"] = reset
    wrote = await site.client.post(
        URL, json={"point": "speed_setpoint", "value": 1200}, headers=site.admin
    )
    assert wrote.status_code == 200, wrote.text
    assert (wrote.json()["state"], wrote.json()["argument"]) == ("succeeded", 1200)
    assert site.sender.values == {("press-1", "speed_setpoint"): 1200}
    ran = await site.client.post(URL, json={"action": "reset"}, headers=site.admin)
    assert ran.status_code == 200, ran.text
    assert ran.json()["result"] == {"cleared_faults": 3}

    history = await site.client.get(URL, headers=site.user)
    assert [c["name"] for c in history.json()] == ["reset", "speed_setpoint"]
    assert [
        c["name"] for c in (await site.client.get(URL + "?limit=1", headers=site.user)).json()
    ] == ["reset"]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"point": "speed_setpoint", "value": 9000}, 400, "9000 is outside the range"),
        ({"point": "bearing_temp", "value": 1}, 400, "point 'bearing_temp' is read-only"),
        ({"point": "nope", "value": 1}, 400, "has no point 'nope'"),
        ({"action": "move_to", "input": {"x": "far"}}, 400, "'far' is not of type 'number'"),
        ({"action": "reset", "point": "enabled", "value": True}, 400, "either a point"),
        ({"point": "enabled", "value": True, "extra": 1}, 422, "extra"),
    ],
)
async def test_refused_commands_name_what_is_wrong(
    site: Site, body: dict[str, Any], status: int, says: str
) -> None:
    resp = await site.client.post(URL, json=body, headers=site.admin)
    assert resp.status_code == status, resp.text
    assert says in resp.text
    assert (await site.client.get(URL, headers=site.admin)).json() == []


async def test_failures_and_timeouts_answer_502_and_504(site: Site) -> None:
    async def broken(_device: str, _payload: Any) -> Any:
        raise core.IndunetError("Modbus exception 4: slave device failure")

    site.sender.actions["reset"] = broken
    failed = await site.client.post(URL, json={"action": "reset"}, headers=site.admin)
    assert failed.status_code == 502
    assert failed.json()["code"] == "command_failed"
    assert "slave device failure" in failed.json()["message"]
    command_id = failed.json()["detail"]["command"]

    site.sender.delay = 3
    slow = await site.client.post(
        URL, json={"point": "enabled", "value": False}, headers=site.admin
    )
    assert slow.status_code == 504 and slow.json()["code"] == "command_timeout"
    history = (await site.client.get(URL, headers=site.admin)).json()
    assert [(c["id"] == command_id, c["state"]) for c in history] == [
        (False, "timeout"),
        (True, "failed"),
    ]


async def test_only_admins_may_command(site: Site) -> None:
    resp = await site.client.post(URL, json={"point": "enabled", "value": True}, headers=site.user)
    assert resp.status_code == 403 and "may not change device press-1" in resp.json()["message"]
    ghost = await site.client.post(
        "/api/v1/devices/ghost/commands", json={"action": "reset"}, headers=site.admin
    )
    assert ghost.status_code == 404
    assert (await site.client.post(URL, json={"action": "reset"})).status_code == 401
    assert (await site.client.get(URL, headers=site.user)).json() == []
