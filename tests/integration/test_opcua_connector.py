"""The OPC UA connector against a real asyncua server on loopback.

Starting an asyncua server costs ~3 s (it builds the standard address space), so one server,
holding nodes for several devices, serves the whole module; each test uses its own devices.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from asyncua import Server, ua, uamethod
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID
from tests.conftest import until
from tests.telemetry.fleet import Fleet, make_user

from indunet import core
from indunet.connect import CommandFailed, ConnectorManager, DeviceLink
from indunet.connect.opcua import OpcUaConnector
from indunet.core import InvalidInput, NotFound
from indunet.devices import Action, OpcUaForm, Point, ThingModel
from indunet.telemetry import BAD, GOOD, UNCERTAIN, Commands, Sample

pytestmark = pytest.mark.asyncio(loop_scope="module")

DEVICES = ("cnc-1", "cnc-2", "cnc-3", "cnc-4", "cnc-5", "cnc-6", "cnc-7")
SERVER_URI = "urn:indunet:test:opcua-server"
CLIENT_URI = "urn:indunet:test:opcua-client"
TIMEOUT = 20.0


class Recorder:
    """A SampleSink and StatusSink that remembers everything, for assertions."""

    def __init__(self) -> None:
        self.batches: list[list[Sample]] = []
        self.rejects: list[tuple[str | None, str]] = []
        self.statuses: list[tuple[str, bool]] = []

    async def submit(self, samples: Sequence[Sample], *, source: str) -> None:
        assert source == "opcua"
        self.batches.append(list(samples))

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
        self.rejects.append((device, reason))

    def device_status(self, device_id: str, online: bool) -> None:
        self.statuses.append((device_id, online))

    def samples(self, device: str, point: str | None = None) -> list[Sample]:
        return [
            s for b in self.batches for s in b if s.device == device and point in (None, s.point)
        ]

    def latest(self, device: str) -> dict[str, Any]:
        return {s.point: s.value for s in self.samples(device)}

    def online(self, device: str) -> bool | None:
        states = [on for d, on in self.statuses if d == device]
        return states[-1] if states else None


class Plant:
    """An asyncua server with a machine object per device id."""

    def __init__(self, server: Server, port: int, cert_dir: Path) -> None:
        self.server = server
        self.port = port
        self.cert_dir = cert_dir

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/indunet/"

    def node(self, node_id: str) -> Any:
        return self.server.get_node(node_id)

    async def set(self, node_id: str, dv: ua.DataValue) -> None:
        await self.node(node_id).write_value(dv)

    async def restart(self, down: Callable[[], Any]) -> None:
        await self.server.stop()
        await until(down)
        self.server.set_endpoint(self.endpoint)
        await self.server.start()


@uamethod
def _reset(parent: ua.NodeId, level: int) -> str:
    return f"reset {level} on {parent.Identifier}"


async def _plant(cert_dir: Path) -> Plant:
    server_key, server_cert = cert_dir / "server-key.pem", cert_dir / "server-cert.der"
    await setup_self_signed_certificate(
        server_key,
        server_cert,
        SERVER_URI,
        socket.gethostname(),
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        {},
    )
    await setup_self_signed_certificate(
        cert_dir / "client-key.pem",
        cert_dir / "client-cert.der",
        CLIENT_URI,
        socket.gethostname(),
        [ExtendedKeyUsageOID.CLIENT_AUTH],
        {},
    )
    server = Server()
    await server.init()
    await server.set_application_uri(SERVER_URI)
    server.set_endpoint("opc.tcp://127.0.0.1:0/indunet/")
    server.set_security_policy(
        [ua.SecurityPolicyType.NoSecurity, ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt]
    )
    await server.load_certificate(server_cert)
    await server.load_private_key(server_key)
    ns = await server.register_namespace("urn:indunet:test")
    assert ns == 2
    for dev in DEVICES:
        obj = await server.nodes.objects.add_object(ua.NodeId(dev, ns), dev)
        await obj.add_variable(ua.NodeId(f"{dev}.SpindleSpeed", ns), "SpindleSpeed", 1200.0)
        await obj.add_variable(
            ua.NodeId(f"{dev}.PartCount", ns), "PartCount", ua.Variant(7, ua.VariantType.UInt32)
        )
        await obj.add_variable(ua.NodeId(f"{dev}.Running", ns), "Running", True)
        await obj.add_variable(ua.NodeId(f"{dev}.Program", ns), "Program", "O1000")
        feed = await obj.add_variable(
            ua.NodeId(f"{dev}.FeedOverride", ns),
            "FeedOverride",
            ua.Variant(100, ua.VariantType.Int16),
        )
        await feed.set_writable()
        level = ua.Argument(Name="level", DataType=ua.NodeId(ua.ObjectIds.UInt16), ValueRank=-1)
        await obj.add_method(
            ua.NodeId(f"{dev}.Reset", ns), "Reset", _reset, [level], [ua.VariantType.String]
        )
    await server.start()
    assert server.bserver is not None
    return Plant(server, server.bserver.port, cert_dir)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def plant(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Plant]:
    p = await asyncio.wait_for(_plant(tmp_path_factory.mktemp("opcua-certs")), 60)
    yield p
    await asyncio.wait_for(p.server.stop(), TIMEOUT)


def _model() -> ThingModel:
    def pt(name: str, type_: str, node: str, **kw: Any) -> Point:
        form = OpcUaForm(f"ns=2;s={{{{DEVICE_ID}}}}.{node}", sampling_interval=50)
        return Point(name, type_, forms=(form,), **kw)  # type: ignore[arg-type]

    points = [
        pt("spindle_speed", "number", "SpindleSpeed"),
        pt("part_count", "integer", "PartCount"),
        pt("running", "boolean", "Running"),
        pt("program", "string", "Program", writable=True),  # the server says otherwise
        pt("feed_override", "integer", "FeedOverride", writable=True, minimum=0, maximum=150),
        pt("ghost", "number", "Ghost"),  # not on the server
    ]
    actions = {
        "reset": Action("reset", forms=(OpcUaForm("ns=2;s={{DEVICE_ID}}.Reset"),)),
        "start": Action("start"),
    }
    return ThingModel("test:cnc", "1.0.0", {"en": "cnc"}, {p.name: p for p in points}, actions)


def _link(device: str, plant: Plant, **conn: Any) -> DeviceLink:
    return DeviceLink(device, _model(), {"endpoint": plant.endpoint, **conn})


async def _started(plant: Plant, *devices: str, **conn: Any) -> tuple[OpcUaConnector, Recorder]:
    rec = Recorder()
    connector = OpcUaConnector(rec, rec)
    for d in devices:
        connector.add(_link(d, plant, **conn))
    await connector.start()
    await until(lambda: all(rec.online(d) for d in devices))
    return connector, rec


async def test_subscriptions_feed_samples_for_devices_sharing_a_server(plant: Plant) -> None:
    conn, rec = await _started(plant, "cnc-1", "cnc-2")
    try:
        await plant.set(
            "ns=2;s=cnc-2.SpindleSpeed", ua.DataValue(ua.Variant(900.5, ua.VariantType.Double))
        )
        await until(lambda: rec.latest("cnc-2").get("spindle_speed") == 900.5)
        one = rec.latest("cnc-1")
        assert one == {
            "spindle_speed": 1200.0,
            "part_count": 7,
            "running": True,
            "program": "O1000",
            "feed_override": 100,
        }
        assert [type(one[k]) for k in ("spindle_speed", "part_count", "running")] == [
            float,
            int,
            bool,
        ]
        h = conn.health()
        assert (h.devices, h.connected, h.detail["sessions"], h.detail["monitored_items"]) == (
            2,
            2,
            1,
            10,
        )
        assert sorted(r for _, r in rec.rejects) == [
            "OPC UA server refused to monitor ghost (ns=2;s=cnc-1.Ghost): BadNodeIdUnknown",
            "OPC UA server refused to monitor ghost (ns=2;s=cnc-2.Ghost): BadNodeIdUnknown",
        ]
        # initial values of both devices arrive together: notifications are batched
        assert len(rec.batches) < len(rec.samples("cnc-1")) + len(rec.samples("cnc-2"))
        samples = await asyncio.wait_for(conn.read("cnc-1", ["part_count", "running"]), TIMEOUT)
        assert {s.point: s.value for s in samples} == {"part_count": 7, "running": True}
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)
    assert rec.online("cnc-1") is False  # stop reports the devices offline


async def test_status_codes_become_quality_and_source_time_is_kept(plant: Plant) -> None:
    conn, rec = await _started(plant, "cnc-3")
    node = "ns=2;s=cnc-3.SpindleSpeed"
    stamp = datetime(2025, 3, 1, 8, 0, 0, 250000, tzinfo=UTC)
    ms = int(stamp.timestamp() * 1000)

    def last() -> tuple[Any, int, int] | None:
        got = rec.samples("cnc-3", "spindle_speed")
        return (got[-1].value, got[-1].quality, got[-1].ts) if got else None

    try:
        # a Bad status comes without a value (OPC UA servers drop it): the last one is kept
        for value, code, expected in (
            (5.0, ua.StatusCodes.UncertainLastUsableValue, (5.0, UNCERTAIN, ms)),
            (6.0, ua.StatusCodes.BadSensorFailure, (5.0, BAD, ms)),
            (7.0, ua.StatusCodes.Good, (7.0, GOOD, ms)),
        ):
            await plant.set(
                node,
                ua.DataValue(
                    ua.Variant(value, ua.VariantType.Double),
                    StatusCode=ua.StatusCode(code),
                    SourceTimestamp=stamp,
                    ServerTimestamp=stamp,
                ),
            )
            await until(lambda e=expected: last() == e)
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)


async def test_writes_use_the_node_type_and_refusals_name_the_reason(plant: Plant) -> None:
    conn, rec = await _started(plant, "cnc-4")
    node = plant.node("ns=2;s=cnc-4.FeedOverride")
    try:
        await asyncio.wait_for(conn.write("cnc-4", "feed_override", 120), TIMEOUT)
        dv = await node.read_data_value()
        assert (dv.Value.Value, dv.Value.VariantType) == (120, ua.VariantType.Int16)
        await until(lambda: rec.latest("cnc-4").get("feed_override") == 120)

        with pytest.raises(InvalidInput, match="outside the range"):
            await conn.write("cnc-4", "feed_override", 151)
        with pytest.raises(InvalidInput, match=r"not a whole number.*Int16"):
            await conn.write("cnc-4", "feed_override", 1.5)
        with pytest.raises(InvalidInput, match="read-only"):
            await conn.write("cnc-4", "spindle_speed", 1.0)
        with pytest.raises(NotFound):
            await conn.write("cnc-9", "feed_override", 1)
        assert (await node.read_value()) == 120  # nothing was written
        with pytest.raises(
            CommandFailed, match=r"write to ns=2;s=cnc-4.Program failed: Bad\w*(Writable|Denied)"
        ):
            await asyncio.wait_for(conn.write("cnc-4", "program", "O2000"), TIMEOUT)
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)
    with pytest.raises(CommandFailed, match="not connected"):
        await conn.write("cnc-4", "feed_override", 1)


async def test_actions_call_methods_on_their_parent_object(plant: Plant) -> None:
    conn, _ = await _started(plant, "cnc-5")
    try:
        assert (
            await asyncio.wait_for(conn.invoke("cnc-5", "reset", 3), TIMEOUT) == "reset 3 on cnc-5"
        )
        assert await asyncio.wait_for(conn.invoke("cnc-5", "reset", {"level": 2}), TIMEOUT) == (
            "reset 2 on cnc-5"
        )
        with pytest.raises(InvalidInput, match="not a number"):
            await asyncio.wait_for(conn.invoke("cnc-5", "reset", "hard"), TIMEOUT)
        with pytest.raises(InvalidInput, match="out of range"):
            await asyncio.wait_for(conn.invoke("cnc-5", "reset", 70000), TIMEOUT)
        with pytest.raises(CommandFailed, match="not supported"):
            await conn.invoke("cnc-5", "start", None)
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)


async def test_server_restart_goes_offline_then_reconnects_and_resubscribes(plant: Plant) -> None:
    conn, rec = await _started(plant, "cnc-6", watchdog_interval=0.2)
    node = "ns=2;s=cnc-6.SpindleSpeed"
    try:
        await plant.restart(down=lambda: rec.online("cnc-6") is False)
        await plant.set(node, ua.DataValue(ua.Variant(4321.0, ua.VariantType.Double)))
        await until(lambda: rec.latest("cnc-6").get("spindle_speed") == 4321.0, within=TIMEOUT)
        assert [on for d, on in rec.statuses if d == "cnc-6"] == [True, False, True]
        h = conn.health()
        assert h.reconnects >= 1 and h.connected == 1 and h.detail["monitored_items"] == 5
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)


async def test_signed_and_encrypted_channel_with_a_self_signed_certificate(plant: Plant) -> None:
    secure = {
        "security_policy": "Basic256Sha256",
        "security_mode": "SignAndEncrypt",
        "certificate": str(plant.cert_dir / "client-cert.der"),
        "private_key": str(plant.cert_dir / "client-key.pem"),
    }
    conn, rec = await _started(plant, "cnc-7", **secure)
    try:
        await until(lambda: rec.latest("cnc-7").get("part_count") == 7)
        client = conn._links.get("cnc-7").client  # type: ignore[union-attr]
        assert client is not None
        assert client.security_policy.Mode == ua.MessageSecurityMode.SignAndEncrypt
        assert client.application_uri == CLIENT_URI  # taken from the certificate
        await asyncio.wait_for(conn.write("cnc-7", "feed_override", 42), TIMEOUT)
        assert await plant.node("ns=2;s=cnc-7.FeedOverride").read_value() == 42
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)


async def test_an_unreachable_server_is_offline_and_bad_devices_are_refused(plant: Plant) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rec = Recorder()
    conn = OpcUaConnector(rec, rec)
    conn.add(
        DeviceLink("cnc-1", _model(), {"endpoint": f"opc.tcp://127.0.0.1:{port}/", "timeout": 0.5})
    )
    await asyncio.wait_for(conn.start(), TIMEOUT)
    try:
        await until(lambda: rec.online("cnc-1") is False)
        assert conn.health().errors >= 1
        with pytest.raises(CommandFailed, match="not connected"):
            await conn.invoke("cnc-1", "reset", 1)
        with pytest.raises(InvalidInput, match=r"connection\.endpoint"):
            conn.add(DeviceLink("cnc-2", _model(), {"endpoint": "http://x"}))
        empty = ThingModel("test:none", "1.0.0", {}, {"x": Point("x", "number")})
        with pytest.raises(InvalidInput, match="no point with an OPC UA form"):
            conn.add(DeviceLink("cnc-2", empty, {"endpoint": plant.endpoint}))
        assert conn.health().devices == 1
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)


async def test_a_value_the_node_type_cannot_hold_is_refused_before_a_command_is_recorded(
    plant: Plant, engine: sa.Engine, enterprise: core.Enterprise
) -> None:
    base = _model()
    unbounded = Point(  # the model allows any integer: only the node's Int16 type refuses
        "feed_override",
        "integer",
        forms=(OpcUaForm("ns=2;s={{DEVICE_ID}}.FeedOverride", sampling_interval=50),),
        writable=True,
    )
    model = ThingModel(
        base.id, base.version, base.title, {**base.points, "feed_override": unbounded}
    )
    rec = Recorder()
    connector = OpcUaConnector(rec, rec)
    manager = ConnectorManager({"opcua": connector})
    manager.attach("opcua", DeviceLink("cnc-2", model, {"endpoint": plant.endpoint}))
    fleet = Fleet()
    fleet.add("cnc-2", enterprise.id, model)
    commands = Commands(engine, manager, fleet, timeout=TIMEOUT)
    admin = make_user(engine, "ent-admin", core.Role.ENTERPRISE_ADMIN, enterprise.id)
    node = plant.node("ns=2;s=cnc-2.FeedOverride")
    await manager.start()
    try:
        await until(lambda: rec.online("cnc-2") is True)
        before = await node.read_value()
        for value in (40000, -32769):
            with pytest.raises(InvalidInput, match=r"out of range .*Int16") as refused:
                await commands.request(admin, "cnc-2", point="feed_override", value=value)
            assert refused.value.status == 400
        assert commands.history(admin, "cnc-2") == []  # no command recorded
        assert await node.read_value() == before
        done = await commands.request(admin, "cnc-2", point="feed_override", value=-32768)
        assert done.state == "succeeded"
        assert await node.read_value() == -32768
    finally:
        await asyncio.wait_for(manager.stop(), TIMEOUT)


async def test_removing_the_last_device_of_a_session_leaves_no_task_after_stop(
    plant: Plant,
) -> None:
    current = asyncio.current_task()
    before = asyncio.all_tasks()
    conn, _ = await _started(plant, "cnc-3")
    conn.remove("cnc-3")  # the session closes with its last device
    await asyncio.wait_for(conn.stop(), TIMEOUT)
    left = [
        t.get_coro().__qualname__  # type: ignore[union-attr]
        for t in asyncio.all_tasks() - before
        if t is not current and not t.done() and _client_side(t)
    ]
    assert left == []  # the session's closing was awaited by stop, not left running
    assert conn.health().detail["sessions"] == 0


def _client_side(task: asyncio.Task[Any]) -> bool:
    """A task of the connector or of asyncua's client (the test's server has tasks too)."""
    code = getattr(task.get_coro(), "cr_code", None)
    where = code.co_filename if code is not None else ""
    return "/indunet/" in where or "/asyncua/client/" in where
