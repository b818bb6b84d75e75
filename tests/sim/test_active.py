"""Virtual devices with active identifiers: enrolled by the enterprise's token, announced
signed by each device through the platform's real HTTP API (in-process ASGI), and linked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import api_token

from indunet import core, ids
from indunet.core import Role
from indunet.devices import ThingModel
from indunet.sim import announce_active, make_plan, register
from indunet.web import AppState, create_app

URL = "http://testserver"


@pytest.fixture
async def transport(
    state: AppState, allocation: ids.Allocation
) -> AsyncIterator[httpx.ASGITransport]:
    yield httpx.ASGITransport(app=create_app(state))


@pytest.mark.parametrize("alg", ["sm2", "ed25519"])
async def test_sim_devices_announce_themselves_and_get_linked(
    state: AppState,
    enterprise: core.Enterprise,
    transport: httpx.ASGITransport,
    models: dict[str, ThingModel],
    tmp_path: Path,
    alg: str,
) -> None:
    plan = make_plan(models.values(), 4).bound("127.0.0.1", 4840, [5020])
    token = api_token(state.engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
    await register(plan, URL, token, transport=transport)
    keys = tmp_path / "keys"
    done = await announce_active(plan, URL, token, algorithm=alg, keys=keys, transport=transport)
    assert done.failed == {}
    every = sorted(d.id for d in plan.devices)
    assert sorted(done.enrolled) == every and sorted(done.linked) == every
    node = state.hierarchy.front
    for d in plan.devices:
        act = node.record(f"88.100.1/ai-{d.id}")
        dev = node.record(f"88.100.1/dev-{d.id}")
        assert act is not None and dev is not None
        by_index = {v.index: v.value for v in act.values}
        assert by_index[2101] == "online" and by_index[2105] == f"88.100.1/dev-{d.id}"
        assert {v.index: v.value for v in dev.values}[2110] == f"88.100.1/ai-{d.id}"
        assert (keys / f"{d.id}.key.json").is_file()

    # a second run signs with the saved keys: nothing to enrol, announced and linked again
    again = await announce_active(plan, URL, token, algorithm=alg, keys=keys, transport=transport)
    assert again.failed == {} and again.enrolled == [] and sorted(again.linked) == every
    # without the saved keys the devices cannot prove who they are
    lost = await announce_active(plan, URL, token, algorithm=alg, transport=transport)
    assert sorted(lost.failed) == every and lost.announced == []
