"""The events notify listens for are published where they happen: a failed or timed-out
command (``command.failed``) and a finished bulk import (``bulk.finished``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import bearer, until
from typer.testing import CliRunner

from indunet import core, ids, telemetry
from indunet.cli import app as cli
from indunet.core import Event, Role, Settings
from indunet.ids import upkeep
from indunet.web import AppState, create_app


class Broken:
    """A command sender whose device refuses everything."""

    async def write(self, device_id: str, point: str, value: Any) -> Any:
        raise RuntimeError("PLC answered exception 0x04")

    async def invoke(self, device_id: str, action: str, payload: Any) -> Any:
        raise RuntimeError("PLC answered exception 0x04")


async def test_a_failed_command_is_published(
    state: AppState, enterprise: core.Enterprise, allocation: ids.Allocation
) -> None:
    platform = state.platform
    assert platform is not None
    platform.devices.create(
        enterprise.id,
        {
            "id": "cnc-0001",
            "name": "加工中心",
            "model": "indunet:cnc-machine",
            "connection": {"endpoint": "opc.tcp://127.0.0.1:4840"},
        },
        actor="test",
    )
    seen: list[Event] = []

    async def record(event: Event) -> None:
        seen.append(event)

    state.bus.subscribe("command.failed", record)
    commands = telemetry.Commands(state.engine, Broken(), platform.devices, bus=state.bus)
    with state.engine.begin() as conn:
        admin = core.create_user(
            conn,
            username="ea",
            password="a-long-password",
            role=Role.ENTERPRISE_ADMIN,
            actor="t",
            enterprise_id=enterprise.id,
        )
    with pytest.raises(telemetry.CommandFailed):
        await commands.request(admin, "cnc-0001", action="start", payload=None)
    (event,) = seen
    assert event.enterprise_id == enterprise.id
    assert event.data["device_id"] == "cnc-0001" and event.data["name"] == "start"
    assert "0x04" in event.data["error"] and event.data["state"] == "failed"


async def test_a_finished_bulk_import_is_published(
    state: AppState, enterprise: core.Enterprise, allocation: ids.Allocation
) -> None:
    seen: list[Event] = []

    async def record(event: Event) -> None:
        seen.append(event)

    state.bus.subscribe("bulk.finished", record)
    headers = bearer(state.engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
    csv = "handle,URL\n88.100.1/n-1,https://example.com/1\n88.100.1/n-2,not a url at all\n"
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        resp = await client.post(
            "/api/v1/bulk",
            files={"file": ("pumps.csv", csv, "text/csv")},
            data={"wait": "true"},
            headers=headers,
        )
    assert resp.status_code == 200, resp.text
    (event,) = seen
    assert event.enterprise_id == enterprise.id and event.data["source"] == "pumps.csv"
    assert (event.data["registered"], event.data["total"]) == (resp.json()["registered"], 2)
    assert "errors" not in event.data


async def test_a_bulk_import_run_by_the_cli_is_published_by_the_running_server(
    state: AppState,
    settings: Settings,
    enterprise: core.Enterprise,
    allocation: ids.Allocation,
    tmp_path: Path,
) -> None:
    seen: list[Event] = []

    async def record(event: Event) -> None:
        seen.append(event)

    state.bus.subscribe("bulk.finished", record)
    keeper = upkeep.service(state)  # the ids service a running server starts
    keeper.every = 0.05
    await keeper.start()
    try:
        path = tmp_path / "valves.csv"
        rows = ["handle,URL", "88.100.1/v-1,https://example.com/1", "no-slash,https://x.cn/2"]
        path.write_text("\n".join(rows) + "\n")
        args = ["id", "import", str(path), "--data-dir", str(settings.data_dir)]
        result = await asyncio.to_thread(CliRunner().invoke, cli, args)
        assert result.exit_code == 1, result.output  # one bad row
        await until(lambda: seen, within=5, what="bulk.finished of the CLI's import")
        (event,) = seen
        assert event.data["source"].endswith("valves.csv")
        assert (event.data["total"], event.data["registered"], event.data["failed"]) == (2, 1, 1)

        headers = bearer(state.engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
        transport = httpx.ASGITransport(app=create_app(state))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            csv = "handle,URL\n88.100.1/n-1,https://example.com/1\n"
            resp = await client.post(
                "/api/v1/bulk",
                files={"file": ("pumps.csv", csv, "text/csv")},
                data={"wait": "true"},
                headers=headers,
            )
        assert resp.status_code == 200, resp.text
        assert [e.data["source"] for e in seen][1:] == ["pumps.csv"]  # published at once
        await asyncio.sleep(0.3)  # several upkeep passes
        assert len(seen) == 2  # neither published twice
    finally:
        await keeper.stop()
