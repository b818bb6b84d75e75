"""The Modbus connector against real pymodbus servers on loopback: polling, faults, writes."""

from __future__ import annotations

import asyncio
import itertools
import socket
import struct
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from tests.conftest import until
from tests.telemetry.fleet import Fleet, make_user

from indunet import core
from indunet.connect import Backoff, CommandFailed, ConnectorManager, DeviceLink
from indunet.connect.modbus import ModbusConnector
from indunet.core import InvalidInput
from indunet.devices import Action, ModbusForm, Point, ThingModel
from indunet.telemetry import Commands, Sample

TIMEOUT = 15.0


# --- doubles and servers --------------------------------------------------------------


class Recorder:
    """A SampleSink and StatusSink that remembers everything, for assertions."""

    def __init__(self) -> None:
        self.batches: list[list[Sample]] = []
        self.rejects: list[tuple[str | None, str, str]] = []
        self.named: list[tuple[str | None, object]] = []  # each letter's detail name, params
        self.statuses: list[tuple[str, bool]] = []

    async def submit(self, samples: Sequence[Sample], *, source: str) -> None:
        assert source == "modbus"
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
        self.rejects.append((device, reason, str(payload)))
        self.named.append((why, params))

    def device_status(self, device_id: str, online: bool) -> None:
        self.statuses.append((device_id, online))

    def latest(self, device: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for batch in self.batches:
            for s in batch:
                if s.device == device:
                    out[s.point] = s.value
        return out

    def online(self, device: str) -> bool | None:
        states = [on for d, on in self.statuses if d == device]
        return states[-1] if states else None


def _f32(value: float, byte: str = "big", word: str = "big") -> list[int]:
    ab, cd = struct.unpack(">HH", struct.pack(">f", value))
    words = [ab, cd] if word == "big" else [cd, ab]
    if byte == "little":
        words = [int.from_bytes(w.to_bytes(2, "big"), "little") for w in words]
    return words


def _holding() -> list[int]:
    regs = [0] * 21
    regs[0:2] = _f32(21.5)
    regs[2:4] = _f32(-4.25, word="little")
    regs[4:6] = _f32(1.5e-3, byte="little")
    regs[6:8] = _f32(12345.5, byte="little", word="little")
    regs[8] = 65  # pressure, x0.1
    regs[9] = 500  # setpoint
    regs[10:12] = [0x0001, 0x86A0]  # 100000 x 0.01 = 1000.0
    regs[20] = (-120) & 0xFFFF  # target -12.0
    return regs


def _device(unit: int, holding: list[int], rpm: int = 1450) -> SimDevice:
    return SimDevice(
        id=unit,
        simdata=(
            [SimData(0, values=[True, False, False, True], datatype=DataType.BITS)],
            [SimData(0, values=[False, True], datatype=DataType.BITS)],
            [
                SimData(0, values=holding, datatype=DataType.REGISTERS),
                SimData(30, values=[7], datatype=DataType.REGISTERS, readonly=True),
            ],
            [SimData(0, values=[rpm], datatype=DataType.REGISTERS)],
        ),
    )


class Server:
    """A pymodbus TCP server on a loopback port that can be stopped and started again."""

    def __init__(self, devices: list[SimDevice], port: int = 0, *, mute: bool = False) -> None:
        self.devices = devices
        self.port = port
        self.mute = mute  # leave requests for a missing unit unanswered (a dead serial line)
        self.server: ModbusTcpServer | None = None

    async def start(self) -> None:
        self.server = ModbusTcpServer(
            self.devices, address=("127.0.0.1", self.port), ignore_missing_devices=self.mute
        )
        await self.server.serve_forever(background=True)
        self.port = self.server.transport.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server([_device(1, _holding())])
    await srv.start()
    yield srv
    await srv.stop()


def _model() -> ThingModel:
    def pt(name: str, form: ModbusForm, type_: str = "number", **kw: Any) -> Point:
        return Point(name, type_, forms=(form,), **kw)  # type: ignore[arg-type]

    points = [
        pt("temp_bb", ModbusForm("holding", 0, "float32")),
        pt("temp_cdab", ModbusForm("holding", 2, "float32", word_order="little")),
        pt("temp_badc", ModbusForm("holding", 4, "float32", byte_order="little")),
        pt(
            "temp_dcba",
            ModbusForm("holding", 6, "float32", byte_order="little", word_order="little"),
        ),
        pt("pressure", ModbusForm("holding", 8, "int16", scale=0.1)),
        pt("setpoint", ModbusForm("holding", 9, "uint16"), "integer", writable=True, maximum=1000),
        pt("energy", ModbusForm("holding", 10, "uint32", scale=0.01)),
        pt("target", ModbusForm("holding", 20, "int16", scale=0.1), writable=True),
        pt("locked", ModbusForm("holding", 30, "uint16"), "integer", writable=True),
        pt("rpm", ModbusForm("input", 0, "uint16"), "integer"),
        pt("running", ModbusForm("coil", 0, "bool"), "boolean", writable=True),
        pt("alarm", ModbusForm("coil", 3, "bool"), "boolean"),
        pt("door", ModbusForm("discrete", 1, "bool"), "boolean"),
    ]
    actions = {
        "reset": Action("reset", forms=(ModbusForm("coil", 2, "bool"),)),
        "noop": Action("noop"),
    }
    return ThingModel(
        "test:compressor", "1.0.0", {"en": "test"}, {p.name: p for p in points}, actions
    )


def _link(device: str, port: int, **conn: Any) -> DeviceLink:
    return DeviceLink(
        device, _model(), {"host": "127.0.0.1", "port": port, "poll_interval": 0.1, **conn}
    )


EXPECTED = {
    "temp_bb": 21.5,
    "temp_cdab": -4.25,
    "temp_badc": pytest.approx(1.5e-3),
    "temp_dcba": 12345.5,
    "pressure": pytest.approx(6.5),
    "setpoint": 500,
    "energy": pytest.approx(1000.0),
    "target": pytest.approx(-12.0),
    "locked": 7,
    "rpm": 1450,
    "running": True,
    "alarm": True,
    "door": True,
}


async def _raw_client(port: int) -> AsyncModbusTcpClient:
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, reconnect_delay=0)
    assert await client.connect()
    return client


# --- tests ----------------------------------------------------------------------------


async def test_coalesced_polling_decodes_every_point(server: Server) -> None:
    rec = Recorder()
    conn = ModbusConnector(rec, rec)
    conn.add(_link("comp-1", server.port))
    assert conn.read_count("comp-1") == 5  # holding 0-20 and 30, input 0, coils 0-3, discrete 1
    await conn.start()
    try:
        await until(lambda: len(rec.batches) >= 3)
        assert rec.latest("comp-1") == EXPECTED
        assert rec.online("comp-1") is True
        first = rec.batches[0]
        assert len(first) == len(EXPECTED)  # one submit per poll cycle
        assert len({s.ts for s in first}) == 1  # stamped with the poll time
        h = conn.health()
        assert (h.protocol, h.devices, h.connected, h.detail["connections_up"]) == (
            "modbus",
            1,
            1,
            1,
        )
        assert h.detail["reads"] >= 12 and h.detail["exceptions"] == 0
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)


async def test_units_spread_over_connections_poll_side_by_side() -> None:
    srv = Server([_device(1, _holding()), _device(2, _holding())], mute=True)
    await srv.start()
    rec = Recorder()
    conn = ModbusConnector(rec, rec)
    lanes = {"connections": 2, "poll_interval": 0.05}
    conn.add(_link("a", srv.port, unit=1, **lanes))  # lane 1
    conn.add(_link("b", srv.port, unit=2, **lanes))  # lane 0
    conn.add(_link("dead", srv.port, unit=4, timeout=0.3, offline_after=1000, **lanes))  # lane 0
    await conn.start()
    try:
        await until(lambda: rec.online("a") and rec.online("b"))
        assert srv.server is not None
        assert len(srv.server.active_connections) == 2
        assert conn.health().detail["connections_up"] == 2
        before = sum(1 for batch in rec.batches if batch[0].device == "a")
        await asyncio.sleep(1.0)
        polls = sum(1 for batch in rec.batches if batch[0].device == "a") - before
        # lane 0 waits 0.3 s for the dead unit every cycle (3 polls a second at most);
        # unit 1 has a connection of its own and keeps its 20 polls a second
        assert polls >= 10, polls
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)
        await srv.stop()


async def test_polls_on_a_drift_free_schedule(server: Server) -> None:
    rec = Recorder()
    conn = ModbusConnector(rec, rec)
    conn.add(_link("comp-1", server.port, poll_interval=0.05))
    await conn.start()
    try:
        await asyncio.sleep(1.0)
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)
    stamps = [b[0].ts for b in rec.batches]
    assert 10 <= len(stamps) <= 21  # 20 ticks in 1 s; a loaded machine may skip some
    gaps = sorted(b - a for a, b in itertools.pairwise(stamps))
    assert 40 <= gaps[len(gaps) // 2] <= 60  # the typical spacing is the interval


async def test_a_gateway_shares_one_connection_between_unit_ids() -> None:
    srv = Server([_device(1, _holding(), rpm=100), _device(2, _holding(), rpm=200)])
    await srv.start()
    rec = Recorder()
    conn = ModbusConnector(rec, rec)
    conn.add(_link("unit-1", srv.port, unit=1))
    conn.add(_link("unit-2", srv.port, unit=2))
    await conn.start()
    try:
        await until(lambda: "rpm" in rec.latest("unit-1") and "rpm" in rec.latest("unit-2"))
        assert rec.latest("unit-1")["rpm"] == 100
        assert rec.latest("unit-2")["rpm"] == 200
        assert conn.health().detail["connections"] == 1
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)
        await srv.stop()


async def test_an_exception_answer_is_one_dead_letter_and_other_points_flow(server: Server) -> None:
    model = ThingModel(
        "test:holes",
        "1.0.0",
        {},
        {
            "ok": Point("ok", "integer", forms=(ModbusForm("holding", 9),)),
            "hole": Point("hole", "integer", forms=(ModbusForm("holding", 25),)),  # 21-29 unmapped
            "far": Point("far", "integer", forms=(ModbusForm("holding", 100),)),
        },
    )
    rec = Recorder()
    conn = ModbusConnector(rec, rec)
    conn.add(
        DeviceLink(
            "holes",
            model,
            {"host": "127.0.0.1", "port": server.port, "poll_interval": 0.05, "max_gap": 20},
        )
    )
    assert conn.read_count("holes") == 2  # 9-25 coalesced, 100 alone
    await conn.start()
    try:
        await until(lambda: len(rec.batches) >= 5)
        assert rec.online("holes") is True  # the device answers; only some addresses are wrong
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)
    assert rec.latest("holes") == {"ok": 500}
    reasons = sorted(r for _, r, _ in rec.rejects)
    assert reasons == [
        "modbus exception 2 (illegal data address) reading holding 100 (unit 1)",
        "modbus exception 2 (illegal data address) reading holding 25 (unit 1)",
    ]
    blocks = sorted(p["block"] for w, p in rec.named if w == "modbus_exception")  # type: ignore[index]
    assert blocks == ["holding 100 (unit 1)", "holding 25 (unit 1)"]  # said in zh-CN too
    assert rec.statuses == [("holes", True), ("holes", False)]  # offline again at stop
    h = conn.health()
    assert h.detail["split_blocks"] == 1  # the coalesced read was split to save "ok"


async def test_a_silent_device_times_out_and_goes_offline() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.read(-1)  # never answers

    srv = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    rec = Recorder()
    conn = ModbusConnector(rec, rec)
    conn.add(_link("mute", port, timeout=0.1, offline_after=2, poll_interval=0.05))
    # a second unit on the same connection that tolerates silence keeps the connection up
    conn.add(_link("patient", port, unit=2, timeout=0.1, offline_after=1000, poll_interval=0.05))
    await conn.start()
    try:
        await until(lambda: rec.online("mute") is False)
        h = conn.health()
        assert h.detail["timeouts"] >= 2 and h.connected == 0
        await until(lambda: conn.health().detail["skipped_ticks"] > 0)
        with pytest.raises(
            CommandFailed, match=r"no answer within 0.1 s writing holding 9 \(unit 2\)"
        ):
            await asyncio.wait_for(conn.write("patient", "setpoint", 1), TIMEOUT)
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)
        srv.close()
        for w in accepted:
            w.close()
    assert rec.batches == []
    assert accepted  # it did connect: the silence is the device's


async def test_when_no_unit_answers_the_connection_is_renewed() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.read(-1)

    srv = await asyncio.start_server(mute, "127.0.0.1", 0)
    rec = Recorder()
    conn = ModbusConnector(rec, rec)
    conn.add(_link("mute", srv.sockets[0].getsockname()[1], timeout=0.05, offline_after=2))
    await conn.start()
    try:
        await until(lambda: len(accepted) >= 2)  # a half-open link is not kept forever
        assert conn.health().reconnects >= 1
        assert rec.statuses == [("mute", False)]
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)
        srv.close()
        for w in accepted:
            w.close()


async def test_disconnect_marks_offline_and_reconnects_on_the_same_port(server: Server) -> None:
    rec = Recorder()
    conn = ModbusConnector(rec, rec)
    conn.add(_link("comp-1", server.port))
    await conn.start()
    try:
        await until(lambda: rec.online("comp-1") is True)
        await server.stop()
        await until(lambda: rec.online("comp-1") is False)
        writes = len(rec.batches)
        with pytest.raises(CommandFailed, match="not connected"):
            await conn.write("comp-1", "setpoint", 1)
        server.devices = [_device(1, _holding(), rpm=999)]
        await server.start()
        await until(lambda: rec.latest("comp-1").get("rpm") == 999, within=10)
        assert rec.online("comp-1") is True
        assert len(rec.batches) > writes
        assert [on for d, on in rec.statuses if d == "comp-1"] == [True, False, True]
        assert conn.health().reconnects >= 1
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)


async def test_writes_registers_and_coils_and_refuses_bad_ones(server: Server) -> None:
    rec = Recorder()
    conn = ModbusConnector(rec, rec)
    conn.add(_link("comp-1", server.port, poll_interval=5.0))
    await conn.start()
    raw = await _raw_client(server.port)
    try:
        await until(lambda: rec.online("comp-1") is True)
        await asyncio.wait_for(conn.write("comp-1", "setpoint", 750), TIMEOUT)  # FC6
        await asyncio.wait_for(conn.write("comp-1", "target", -3.5), TIMEOUT)  # FC6, scaled
        await asyncio.wait_for(conn.write("comp-1", "running", False), TIMEOUT)  # FC5
        await asyncio.wait_for(conn.invoke("comp-1", "reset", None), TIMEOUT)  # FC5 via action
        regs = (await raw.read_holding_registers(9, count=1)).registers
        assert regs == [750]
        assert (await raw.read_holding_registers(20, count=1)).registers == [(-35) & 0xFFFF]
        assert (await raw.read_coils(0, count=3)).bits[:3] == [False, False, True]

        # refused before anything is sent: nothing changes on the device
        with pytest.raises(InvalidInput, match="above the maximum 1000"):
            await conn.write("comp-1", "setpoint", 1001)
        with pytest.raises(InvalidInput, match="out of range"):
            await conn.write("comp-1", "target", 4000)
        with pytest.raises(InvalidInput, match="read-only"):
            await conn.write("comp-1", "rpm", 5)
        with pytest.raises(InvalidInput, match="no point"):
            await conn.write("comp-1", "nope", 5)
        with pytest.raises(CommandFailed, match="not supported"):
            await conn.invoke("comp-1", "noop", None)
        assert (await raw.read_holding_registers(9, count=1)).registers == [750]
        assert (await raw.read_holding_registers(20, count=1)).registers == [(-35) & 0xFFFF]

        # refused by the device: the Modbus reason comes back
        with pytest.raises(
            CommandFailed,
            match=r"modbus exception 2 \(illegal data address\) writing holding 30 \(unit 1\)",
        ):
            await asyncio.wait_for(conn.write("comp-1", "locked", 1), TIMEOUT)

        samples = await asyncio.wait_for(conn.read("comp-1", ["setpoint", "running"]), TIMEOUT)
        assert {s.point: s.value for s in samples} == {"setpoint": 750, "running": False}
    finally:
        raw.close()
        await asyncio.wait_for(conn.stop(), TIMEOUT)


async def test_bad_settings_and_models_are_refused_without_change(server: Server) -> None:
    rec = Recorder()
    conn = ModbusConnector(rec, rec)
    conn.add(_link("comp-1", server.port))
    with pytest.raises(InvalidInput, match=r"connection\.port"):
        conn.add(_link("comp-1", 70000))
    empty = ThingModel("test:none", "1.0.0", {}, {"x": Point("x", "number")})
    with pytest.raises(InvalidInput, match="no point with a Modbus form"):
        conn.add(DeviceLink("other", empty, {"host": "127.0.0.1"}))
    assert conn.health().devices == 1
    assert conn.read_count("comp-1") == 5  # the first registration is intact
    conn.remove("comp-1")
    conn.remove("comp-1")
    assert conn.health().devices == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_unreachable_device_is_offline_and_start_does_not_raise() -> None:
    rec = Recorder()
    conn = ModbusConnector(rec, rec)
    conn.add(_link("ghost", _free_port(), timeout=0.2))
    await asyncio.wait_for(conn.start(), TIMEOUT)
    try:
        await until(lambda: rec.online("ghost") is False)
        assert conn.health().errors >= 1
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)


# --- a PLC that answers well-framed but short reads ------------------------------------


class ShortAnswers:
    """A raw Modbus TCP peer: unit 1 answers every read, unit 2 answers short ones.

    Unit 2's answers are well framed (MBAP header, function code, byte count) but hold
    fewer registers or bits than asked: ``short`` is the byte count it sends.
    """

    def __init__(self, short: int = 0) -> None:
        self.short = short
        self.accepted = 0
        self.requests: dict[int, int] = {1: 0, 2: 0}
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readexactly(7)
                tid, _, length, unit = struct.unpack(">HHHB", head)
                pdu = await reader.readexactly(length - 1)
                fc, address, count = struct.unpack(">BHH", pdu[:5])
                self.requests[unit] = self.requests.get(unit, 0) + 1
                if unit == 2:
                    body = bytes([fc, self.short]) + bytes(self.short)
                elif fc in (1, 2):
                    body = bytes([fc, (count + 7) // 8]) + b"\xff" * ((count + 7) // 8)
                else:
                    regs = [address + i for i in range(count)]
                    body = bytes([fc, 2 * count]) + struct.pack(f">{count}H", *regs)
                writer.write(struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def _plain_model() -> ThingModel:
    points = {
        "a": Point("a", "integer", forms=(ModbusForm("holding", 10),)),
        "b": Point("b", "integer", forms=(ModbusForm("holding", 13),)),
        "flag": Point("flag", "boolean", forms=(ModbusForm("coil", 0, "bool"),)),
    }
    return ThingModel("test:plain", "1.0.0", {}, points)


@pytest.mark.parametrize(
    ("short", "reasons"),
    [
        (  # byte count 0: no bits, no registers
            0,
            [
                "short answer (0 of 1 bits) reading coil 0 (unit 2)",
                "short answer (0 of 4 registers) reading holding 10-13 (unit 2)",
            ],
        ),
        (2, ["short answer (1 of 4 registers) reading holding 10-13 (unit 2)"]),  # 16 bits do
    ],
)
async def test_a_unit_answering_short_reads_is_dead_lettered_and_its_neighbour_keeps_polling(
    short: int, reasons: list[str]
) -> None:
    plc = ShortAnswers(short)
    await plc.start()
    rec = Recorder()
    conn = ModbusConnector(rec, rec)
    common = {"host": "127.0.0.1", "port": plc.port, "poll_interval": 0.05}
    conn.add(DeviceLink("good", _plain_model(), {**common, "unit": 1}))
    conn.add(DeviceLink("bad", _plain_model(), {**common, "unit": 2}))
    await conn.start()
    try:
        await until(lambda: len(rec.rejects) >= 1 and rec.latest("good").get("b") == 13)
        good_polls = sum(1 for b in rec.batches if b[0].device == "good")
        bad_requests = plc.requests[2]
        await asyncio.sleep(1.0)
        polls = sum(1 for b in rec.batches if b[0].device == "good") - good_polls
        assert polls >= 10, polls  # 20 ticks a second; the neighbour is not held up
        # the bad unit is backed off: far fewer than its 2 reads per 50 ms tick
        assert plc.requests[2] - bad_requests <= 10, plc.requests[2] - bad_requests
        in_range = await asyncio.wait_for(conn.read("good", ["a"]), TIMEOUT)
        assert [(s.point, s.value) for s in in_range] == [("a", 10)]
        with pytest.raises(CommandFailed, match=r"short answer .*reading holding 10-13 \(unit 2\)"):
            await asyncio.wait_for(conn.read("bad", ["a", "b"]), TIMEOUT)
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)
        await plc.stop()
    assert plc.accepted == 1  # the shared connection was kept
    assert conn.health().reconnects == 0
    assert [on for d, on in rec.statuses if d == "good"] == [True, False]  # False at stop only
    assert "a" not in rec.latest("bad") and "b" not in rec.latest("bad")
    # one dead letter per failing read (not one per poll), naming unit, table and range
    assert sorted((d, r) for d, r, _ in rec.rejects) == [("bad", r) for r in reasons]
    assert all("unit=2" in p for _, _, p in rec.rejects)
    assert conn.health().detail["short_answers"] >= len(reasons)


async def test_a_plc_back_from_a_restart_is_polled_within_seconds_not_after_the_backoff() -> None:
    port = _free_port()
    rec = Recorder()
    # a reconnect delay of 10 to 20 s stands for the 30 s cap reached after a long outage
    conn = ModbusConnector(rec, rec, backoff=lambda: Backoff(base=20.0, cap=20.0))
    conn.add(_link("plc", port, timeout=0.2))
    await conn.start()
    srv = Server([_device(1, _holding())], port=port)
    try:
        await until(lambda: rec.online("plc") is False)  # refused: nobody listens yet
        await asyncio.sleep(1.0)
        await srv.start()  # the PLC is back
        loop = asyncio.get_running_loop()
        back = loop.time()
        await until(lambda: rec.online("plc") is True, within=8)
        # a probe every second saw the listener come back; the backoff alone waits 10-20 s
        assert loop.time() - back < 6.0
    finally:
        await asyncio.wait_for(conn.stop(), TIMEOUT)
        await srv.stop()


async def test_a_value_the_register_cannot_hold_is_refused_before_a_command_is_recorded(
    server: Server, engine: sa.Engine, enterprise: core.Enterprise
) -> None:
    rec = Recorder()
    conn = ModbusConnector(rec, rec)
    manager = ConnectorManager({"modbus": conn})
    manager.attach("modbus", _link("comp-1", server.port, poll_interval=5.0))
    fleet = Fleet()
    fleet.add("comp-1", enterprise.id, _model())
    commands = Commands(engine, manager, fleet, timeout=5.0)
    admin = make_user(engine, "ent-admin", core.Role.ENTERPRISE_ADMIN, enterprise.id)
    await manager.start()
    raw = await _raw_client(server.port)
    try:
        await until(lambda: rec.online("comp-1") is True)
        before = (await raw.read_holding_registers(20, count=1)).registers
        # 12.34 is not a multiple of the int16 register's 0.1 scale; 4000 is past 3276.7
        for value in (12.34, 4000):
            with pytest.raises(InvalidInput) as refused:
                await commands.request(admin, "comp-1", point="target", value=value)
            assert refused.value.status == 400
        assert commands.history(admin, "comp-1") == []  # no command recorded
        assert (await raw.read_holding_registers(20, count=1)).registers == before
        with pytest.raises(InvalidInput):
            await manager.check_write("comp-1", "running", 2)  # a coil takes 0/1
        done = await commands.request(admin, "comp-1", point="target", value=-3.5)
        assert done.state == "succeeded"
        assert (await raw.read_holding_registers(20, count=1)).registers == [(-35) & 0xFFFF]
    finally:
        raw.close()
        await asyncio.wait_for(manager.stop(), TIMEOUT)


async def test_removing_the_last_device_of_a_connection_leaves_no_task_after_stop(
    server: Server,
) -> None:
    current = asyncio.current_task()
    before = asyncio.all_tasks()
    rec = Recorder()
    conn = ModbusConnector(rec, rec)
    conn.add(_link("comp-1", server.port))
    await conn.start()
    await until(lambda: rec.online("comp-1") is True)
    conn.remove("comp-1")  # the connection closes with its last device
    await asyncio.wait_for(conn.stop(), TIMEOUT)
    left = [
        t.get_name()
        for t in asyncio.all_tasks() - before
        if t is not current and not t.done() and "/indunet/" in _where(t)
    ]
    assert left == []
    assert conn.health().detail["connections"] == 0


def _where(task: asyncio.Task[Any]) -> str:
    code = getattr(task.get_coro(), "cr_code", None)
    return code.co_filename if code is not None else ""
