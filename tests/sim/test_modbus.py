"""The Modbus gateway, read and written with pymodbus's own client over loopback TCP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from pymodbus.client import AsyncModbusTcpClient

from indunet.devices import ModbusForm, ThingModel
from indunet.sim import Equipment, ModbusGateway, make_plan
from indunet.sim.registers import decode, encode


@pytest.fixture
async def gateway(
    models: dict[str, ThingModel],
) -> AsyncIterator[tuple[ModbusGateway, AsyncModbusTcpClient]]:
    plan = make_plan(models.values())  # units: compressor-0001, -0002, meter-0001, -0002
    eqs = [Equipment(d, models[d.model_id], seed=4) for d in plan.by_protocol("modbus")]
    for i in range(30):
        for eq in eqs:
            eq.tick(time.time() + i)
    gw = ModbusGateway(eqs)
    await gw.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=gw.port, timeout=3, retries=0)
    async with asyncio.timeout(10):
        assert await client.connect()
    try:
        yield gw, client
    finally:
        client.close()
        await gw.stop()


async def _read(client: AsyncModbusTcpClient, unit: int, form: ModbusForm) -> object:
    if form.table == "coil":
        rr = await client.read_coils(form.address, count=1, device_id=unit)
        return rr.bits[0]
    if form.table == "discrete":
        rr = await client.read_discrete_inputs(form.address, count=1, device_id=unit)
        return rr.bits[0]
    read = client.read_input_registers if form.table == "input" else client.read_holding_registers
    rr = await read(form.address, count=form.count, device_id=unit)
    assert not rr.isError(), rr
    return decode(form, rr.registers)


async def test_every_point_decodes_to_the_value_in_range(
    gateway: tuple[ModbusGateway, AsyncModbusTcpClient],
) -> None:
    gw, client = gateway
    async with asyncio.timeout(20):
        for unit, eq in enumerate(gw.equipment, start=1):
            for name, point in eq.model.points.items():
                form = point.form(ModbusForm)
                assert form is not None
                value = await _read(client, unit, form)
                expected = eq.values[name]
                if isinstance(expected, bool):
                    assert value is expected
                else:
                    assert value == pytest.approx(expected, rel=1e-6, abs=0.051), name
                    if point.minimum is not None:
                        assert value >= point.minimum  # type: ignore[operator]
                    if point.maximum is not None:
                        assert value <= point.maximum  # type: ignore[operator]
        # one read across a whole table, as a poller joining points would do
        rr = await client.read_input_registers(0, count=20, device_id=3)
        assert not rr.isError() and len(rr.registers) == 20


async def test_setpoint_write_is_honoured_and_bad_writes_change_nothing(
    gateway: tuple[ModbusGateway, AsyncModbusTcpClient],
) -> None:
    gw, client = gateway
    eq = gw.equipment[0]  # compressor-0001
    form = eq.model.points["pressure_setpoint"].form(ModbusForm)
    assert form is not None
    async with asyncio.timeout(20):
        rr = await client.write_registers(form.address, encode(form, 0.65), device_id=1)
        assert not rr.isError()
        assert eq.values["pressure_setpoint"] == pytest.approx(0.65)
        assert await _read(client, 1, form) == pytest.approx(0.65)
        eq.tick(time.time())
        assert eq.values["pressure_setpoint"] == pytest.approx(0.65)  # the process keeps it

        out_of_range = await client.write_registers(form.address, encode(form, 1.5), device_id=1)
        assert out_of_range.isError() and out_of_range.exception_code == 3  # ILLEGAL VALUE
        half = await client.write_register(form.address, 0x4000, device_id=1)  # one word of two
        assert half.isError()
        running = await client.write_coil(0, False, device_id=1)  # a read-only coil
        assert running.isError() and running.exception_code == 2  # ILLEGAL ADDRESS
        assert eq.values["pressure_setpoint"] == pytest.approx(0.65)
        assert await _read(client, 1, form) == pytest.approx(0.65)
        assert eq.counters.writes == 1 and eq.counters.refused >= 1


async def test_a_unit_off_the_network_stops_answering_then_comes_back(
    gateway: tuple[ModbusGateway, AsyncModbusTcpClient],
) -> None:
    gw, client = gateway
    meter = gw.equipment[2]
    async with asyncio.timeout(20):
        meter.online = False
        rr = await client.read_input_registers(0, count=2, device_id=3)
        assert rr.isError() and rr.exception_code == 0x0B  # gateway: target did not respond
        other = await client.read_input_registers(0, count=2, device_id=4)
        assert not other.isError()  # the other units still answer
        meter.online = True
        assert not (await client.read_input_registers(0, count=2, device_id=3)).isError()
        unknown = await client.read_input_registers(0, count=2, device_id=99)
        assert unknown.isError() and unknown.exception_code == 0x0A
