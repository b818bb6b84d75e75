"""An OPC UA server that refuses the connector's user name and password: each refused attempt
is noted as an ``opcua`` auth failure with the endpoint and the user name (a real asyncua
server in this process), and a server that lets it in notes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Server, ua
from asyncua.server.user_managers import User, UserManager, UserRole
from tests.conftest import until

from indunet.connect import DeviceLink
from indunet.connect.events import AUTH_FAILURES
from indunet.connect.opcua import OpcUaConnector
from indunet.core.signals import Signal
from indunet.devices import library_models

from .test_opcua_sealed_password import Recorder

pytestmark = pytest.mark.asyncio(loop_scope="module")

USER, PASSWORD = "operator", "pw-Opc-4840-y"
DEVICE = "cnc-refused"
TIMEOUT = 20.0


class OneUser(UserManager):
    """One user with one password; everything else is refused."""

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        return User(role=UserRole.User) if (username, password) == (USER, PASSWORD) else None


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def endpoint() -> AsyncIterator[str]:
    srv = Server(user_manager=OneUser())
    await srv.init()
    srv.set_endpoint("opc.tcp://127.0.0.1:0/refusing/")
    srv.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    srv.set_identity_tokens([ua.UserNameIdentityToken])
    ns = await srv.register_namespace("urn:indunet:test")
    obj = await srv.nodes.objects.add_object(ua.NodeId(DEVICE, ns), DEVICE)
    await obj.add_variable(ua.NodeId(f"{DEVICE}.SpindleSpeed", ns), "SpindleSpeed", 1500.0)
    await srv.start()
    assert srv.bserver is not None
    yield f"opc.tcp://127.0.0.1:{srv.bserver.port}/refusing/"
    await asyncio.wait_for(srv.stop(), TIMEOUT)


async def _attempts(
    connection: dict[str, Any], done: Callable[[Signal, Recorder], bool]
) -> tuple[Signal, Recorder]:
    refused = Signal(AUTH_FAILURES)
    rec = Recorder()
    connector = OpcUaConnector(rec, rec, refused)
    model = next(m for m in library_models() if m.id == "indunet:cnc-machine")
    connector.add(DeviceLink(DEVICE, model, connection))
    await connector.start()
    try:
        await until(lambda: done(refused, rec), TIMEOUT, "connection attempts")
        await asyncio.sleep(0.3)
    finally:
        await asyncio.wait_for(connector.stop(), TIMEOUT)
    return refused, rec


async def test_each_refused_identity_is_noted_with_the_endpoint(endpoint: str) -> None:
    refused, rec = await _attempts(
        {"endpoint": endpoint, "username": USER, "password": "not-it"},
        lambda refused, _: len(refused.records) >= 2,
    )
    assert (DEVICE, True) not in rec.statuses
    event = refused.take()
    assert event is not None
    records = event.data["records"]
    assert len(records) >= 2  # one per attempt: the connector keeps trying, with backoff
    assert records[0] == {
        "src": None,
        "user": USER,
        "device": DEVICE,
        "target": "opcua",
        "endpoint": endpoint,
    }


async def test_a_server_that_lets_the_connector_in_notes_nothing(endpoint: str) -> None:
    refused, rec = await _attempts(
        {"endpoint": endpoint, "username": USER, "password": PASSWORD},
        lambda _, rec: (DEVICE, True) in rec.statuses,
    )
    assert (DEVICE, True) in rec.statuses
    assert refused.take() is None
