"""The factory running: steps on its own clock, faults scheduled and injected, counters."""

from __future__ import annotations

import asyncio

import pytest
from pymodbus.client import AsyncModbusTcpClient

from indunet.core import InvalidInput, NotFound
from indunet.devices import ModbusForm, ThingModel
from indunet.sim import Factory, FactoryPlan, make_plan
from indunet.sim.registers import decode


def _modbus_plan(models: dict[str, ThingModel]) -> FactoryPlan:
    return FactoryPlan(tuple(make_plan(models.values()).by_protocol("modbus")))


async def test_factory_steps_serves_and_takes_faults(models: dict[str, ThingModel]) -> None:
    plan = _modbus_plan(models)
    factory = Factory(
        plan,
        models=models.values(),
        mqtt_host=None,
        modbus_base_port=0,
        interval=0.1,  # ten steps a second, so the test is short
        faults=["meter-0001:offline@0.5s,for=0.5s"],
    )
    async with asyncio.timeout(30), factory:
        meter = factory.plan.devices[2]
        assert meter.id == "meter-0001"
        assert meter.connection["unit"] == 3 and meter.connection["port"] > 0
        client = AsyncModbusTcpClient(
            "127.0.0.1", port=meter.connection["port"], timeout=2, retries=0
        )
        await client.connect()
        try:
            # the scheduled drop-out: unit 3 goes silent for 0.5 s, then answers again
            seen = []
            for _ in range(30):
                rr = await client.read_input_registers(0, count=2, device_id=3)
                seen.append(rr.isError() and rr.exception_code == 0x0B)
                await asyncio.sleep(0.05)
            assert any(seen) and not seen[-1]

            # a fault injected at run time: the compressor's bearing passes 80 °C
            form = models["indunet:air-compressor"].points["bearing_temp"].form(ModbusForm)
            assert form is not None
            factory.inject("compressor-0001:bearing_drift,rate=100")
            temps = []
            for _ in range(20):
                rr = await client.read_input_registers(form.address, count=form.count, device_id=1)
                temps.append(decode(form, rr.registers))
                if temps[-1] > 80:
                    break
                await asyncio.sleep(0.1)
            assert temps[-1] > 80
            assert factory.clear("compressor-0001") == 1
        finally:
            client.close()
        counters = factory.counters()
        assert counters["meter-0001"]["offline_steps"] >= 4
        assert counters["compressor-0001"]["requests"] >= 2
        assert counters["compressor-0002"]["samples"] >= 8 * factory.steps - 8
        assert factory.totals()["samples"] == sum(c["samples"] for c in counters.values())


def test_factory_refuses_what_it_cannot_run(models: dict[str, ThingModel]) -> None:
    plan = _modbus_plan(models)
    with pytest.raises(InvalidInput, match="does not know"):
        Factory(plan, models=[models["indunet:cnc-machine"]])
    with pytest.raises(NotFound):
        Factory(plan, models=models.values(), faults=["cnc-0009:offline"])
    with pytest.raises(InvalidInput):
        Factory(plan, models=models.values(), faults=["meter-0001:bearing_drift"])
    with pytest.raises(InvalidInput):
        Factory(plan, models=models.values(), interval=0)
    factory = Factory(plan, models=models.values())
    with pytest.raises(NotFound):
        factory.inject("nobody:offline")
