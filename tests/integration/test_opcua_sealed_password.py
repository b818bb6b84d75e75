"""A sealed OPC UA password still logs in: a real asyncua server that demands user and password.

The password is stored sealed (the raw ``dev_devices`` row does not contain it); the device as
the registry hands it to the connector carries the clear password, and the connector's session
logs in with it. The sealed text itself is refused by the server, so the test would notice a
connector that got the stored value.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from asyncua import Server, ua
from asyncua.server.user_managers import User, UserManager, UserRole
from tests.conftest import USCC_A, until

from indunet import core, ids
from indunet.connect import DeviceLink
from indunet.connect.opcua import OpcUaConnector
from indunet.telemetry import Sample
from indunet.web import AppState, build_state

pytestmark = pytest.mark.asyncio(loop_scope="module")

USER, PASSWORD = "operator", "pw-Opc-4840-x"
DEVICE = "cnc-sealed"
TIMEOUT = 20.0


class PasswordUsers(UserManager):
    """One user with one password; everything else is refused."""

    def __init__(self) -> None:
        self.tried: list[str | None] = []

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        self.tried.append(password)
        if username == USER and password == PASSWORD:
            return User(role=UserRole.User)
        return None


class Recorder:
    """Sample and status sink that remembers statuses and samples."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.statuses: list[tuple[str, bool]] = []

    async def submit(self, samples: Sequence[Sample], *, source: str) -> None:
        self.samples.extend(samples)

    async def reject(
        self,
        device: str | None,
        *,
        source: str,
        reason: str,
        payload: bytes | str,
        why: str | None = None,
        params: object = None,
    ) -> None:
        pass

    def device_status(self, device_id: str, online: bool) -> None:
        self.statuses.append((device_id, online))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[tuple[Server, str, PasswordUsers]]:
    users = PasswordUsers()
    srv = Server(user_manager=users)
    await srv.init()
    srv.set_endpoint("opc.tcp://127.0.0.1:0/sealed/")
    srv.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    srv.set_identity_tokens([ua.UserNameIdentityToken])
    ns = await srv.register_namespace("urn:indunet:test")
    obj = await srv.nodes.objects.add_object(ua.NodeId(DEVICE, ns), DEVICE)
    await obj.add_variable(ua.NodeId(f"{DEVICE}.SpindleSpeed", ns), "SpindleSpeed", 1500.0)
    await srv.start()
    assert srv.bserver is not None
    yield srv, f"opc.tcp://127.0.0.1:{srv.bserver.port}/sealed/", users
    await asyncio.wait_for(srv.stop(), TIMEOUT)


def _state(data: Path, connection: dict[str, Any]) -> AppState:
    state = build_state(core.Settings(data_dir=data, mqtt_port=0))
    with state.engine.begin() as conn:
        ent = core.create_enterprise(conn, uscc=USCC_A, name="A", actor="t", verified=True)
    ids.allocate(state.hierarchy.front, "88.100.1", ent, actor="t", secret="s3cret-key-for-tests")
    assert state.platform is not None
    state.platform.devices.create(
        ent.id,
        {
            "id": DEVICE,
            "name": "CNC",
            "model": "indunet:cnc-machine",
            "protocol": "opcua",
            "connection": connection,
        },
        actor="t",
    )
    return state


async def _online(connection: dict[str, Any], state: AppState) -> tuple[bool, Recorder]:
    assert state.platform is not None
    rec = Recorder()
    connector = OpcUaConnector(rec, rec)
    connector.add(
        DeviceLink(DEVICE, state.platform.models.get("indunet:cnc-machine", None), connection)
    )
    await connector.start()
    try:
        await until(lambda: rec.statuses, within=TIMEOUT, what="a status")
        await asyncio.sleep(0.5)
        return rec.statuses[-1] == (DEVICE, True), rec
    finally:
        await asyncio.wait_for(connector.stop(), TIMEOUT)


async def test_the_connector_logs_in_with_the_password_stored_sealed(
    server: tuple[Server, str, PasswordUsers], tmp_path: Path
) -> None:
    _srv, endpoint, users = server
    conn = {"endpoint": endpoint, "username": USER, "password": PASSWORD}
    state = await asyncio.to_thread(_state, tmp_path / "data", conn)
    assert state.platform is not None
    with state.engine.connect() as db:
        raw = db.execute(sa.text("SELECT connection FROM dev_devices")).scalar_one()
    assert PASSWORD not in str(raw)
    stored = json.loads(raw)
    # the stored text itself does not log in ...
    online, _ = await _online(stored, state)
    assert not online
    assert users.tried and users.tried[-1] == stored["password"]
    # ... what the registry hands to the connector does
    handed = state.platform.devices.get(DEVICE).connection
    assert handed["password"] == PASSWORD
    online, rec = await _online(handed, state)
    assert online, rec.statuses
    assert any(s.point == "spindle_speed" and s.value == 1500.0 for s in rec.samples)
    state.engine.dispose()
