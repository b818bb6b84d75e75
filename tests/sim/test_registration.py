"""Registering the factory's devices through the platform's real HTTP API (in-process ASGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.conftest import USCC_A, api_token
from tests.integration.servers import free_port

from indunet import core, ids
from indunet.core import AuthenticationFailed, InvalidInput, NotFound, Role
from indunet.devices import ThingModel
from indunet.sim import FactoryPlan, PlatformUnreachable, make_plan, register
from indunet.web import AppState, create_app

URL = "http://testserver"


@pytest.fixture
async def transport(
    state: AppState, allocation: ids.Allocation
) -> AsyncIterator[httpx.ASGITransport]:
    yield httpx.ASGITransport(app=create_app(state))


def _plan(models: dict[str, ThingModel]) -> FactoryPlan:
    return make_plan(models.values()).bound("127.0.0.1", 4840, [5020])


async def _listed(transport: httpx.ASGITransport, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(transport=transport, base_url=URL) as c:
        resp = await c.get("/api/v1/devices", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
        return {d["id"]: d for d in resp.json()}


async def test_admin_registers_the_plan_for_an_enterprise_by_uscc(
    state: AppState,
    enterprise: core.Enterprise,
    transport: httpx.ASGITransport,
    models: dict[str, ThingModel],
) -> None:
    token = api_token(state.engine, "root", Role.PLATFORM_ADMIN)
    plan = _plan(models)
    done = await register(plan, URL, token, enterprise=USCC_A, transport=transport)
    assert sorted(done.created) == sorted(d.id for d in plan.devices)
    assert done.failed == {} and done.existing == []
    listed = await _listed(transport, token)
    meter = listed["meter-0001"]
    assert meter["enterprise_id"] == enterprise.id
    assert meter["connection"].items() >= {"host": "127.0.0.1", "port": 5020, "unit": 3}.items()
    endpoint = listed["cnc-0001"]["connection"]["endpoint"]
    assert endpoint == "opc.tcp://127.0.0.1:4840/indunet/sim"
    assert state.platform is not None
    assert state.platform.devices.authenticate("excavator-0001", plan.devices[7].secret) is not None

    again = await register(plan, URL, token, enterprise=str(enterprise.id), transport=transport)
    assert again.created == [] and len(again.existing) == len(plan.devices)


async def test_an_enterprise_admin_registers_into_their_own_enterprise(
    state: AppState,
    enterprise: core.Enterprise,
    transport: httpx.ASGITransport,
    models: dict[str, ThingModel],
) -> None:
    token = api_token(state.engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
    done = await register(_plan(models), URL, token, transport=transport)
    assert len(done.created) == 10
    assert {d["enterprise_id"] for d in (await _listed(transport, token)).values()} == {
        enterprise.id
    }


async def test_refusals_stop_early_and_register_nothing(
    state: AppState,
    enterprise: core.Enterprise,
    transport: httpx.ASGITransport,
    models: dict[str, ThingModel],
) -> None:
    token = api_token(state.engine, "root", Role.PLATFORM_ADMIN)
    plan = _plan(models)
    with pytest.raises(InvalidInput, match="refused cnc-0001"):
        await register(plan, URL, token, transport=transport)  # whose devices?
    with pytest.raises(NotFound, match="USCC"):
        await register(plan, URL, token, enterprise="91350100M000100Y99", transport=transport)
    with pytest.raises(AuthenticationFailed):
        await register(plan, URL, "not-a-token", enterprise=USCC_A, transport=transport)
    with pytest.raises(InvalidInput, match="URL"):
        await register(plan, "127.0.0.1:8000", token)
    with pytest.raises(PlatformUnreachable):
        await register(plan, f"http://127.0.0.1:{free_port()}", token, enterprise="1")
    assert await _listed(transport, token) == {}
