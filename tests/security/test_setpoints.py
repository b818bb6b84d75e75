"""Register writes checked against the device model (the data dictionary): a pressure setpoint
of 1.5 MPa written as float32 to a compressor whose model allows 0.4–1.0 raises an alert."""

from __future__ import annotations

from dataclasses import replace

from tests.conftest import until

from indunet import core, ids
from indunet.core import Role, User
from indunet.devices import ModbusForm, registers
from indunet.security import Security, SecurityEvent
from indunet.security.cases import AlertFilter, find_alerts
from indunet.security.setpoints import ModelRanges
from indunet.web import AppState

ADMIN = User(id=1, username="root", role=Role.PLATFORM_ADMIN, enterprise_id=None)


def write(value: float, *, unit: int = 1, enterprise: int | None = None) -> SecurityEvent:
    from indunet import devices

    model = next(m for m in devices.library_models() if m.id == "indunet:air-compressor")
    form = model.points["pressure_setpoint"].form(ModbusForm)
    assert form is not None
    regs = registers.encode_registers(form, value)
    return SecurityEvent(
        ts=1_765_000_000.0, source="sensor", kind="ot.transaction", enterprise_id=enterprise,
        protocol="modbus", action="write_multiple_registers", src_ip="192.168.10.5",
        dst_ip="192.168.10.21", dst_port=502,
        fields={"function": 16, "write": True, "unit": unit, "address": form.address,
                "count": len(regs), "values": list(regs)},
    )  # fmt: skip


def compressor(state: AppState, enterprise: core.Enterprise) -> None:
    reg = state.platform.devices  # type: ignore[union-attr]
    spec = {
        "id": "comp-1",
        "name": "1号空压机",
        "model": "indunet:air-compressor",
        "connection": {"host": "192.168.10.21", "port": 502, "unit": 1},
    }
    reg.create(enterprise.id, spec, actor="t")


def test_a_value_outside_the_model_range_is_recognised(
    state: AppState, allocation: ids.Allocation, enterprise: core.Enterprise
) -> None:
    compressor(state, enterprise)
    ranges = ModelRanges(state.platform.devices)  # type: ignore[union-attr]
    assert ranges.refresh() == 1
    assert ranges.outside(write(1.5)) is True
    assert ranges.outside(write(0.8)) is False  # within 0.4–1.0
    assert ranges.outside(write(0.1)) is True
    assert ranges.outside(write(1.5, unit=2)) is False  # no device there
    assert ranges.outside(write(1.5, enterprise=enterprise.id + 1)) is False  # not its device
    half = write(1.5)
    cut = replace(half, fields={**half.fields, "values": half.fields["values"][:1]})
    assert ranges.outside(cut) is False  # half a float: the value is not known


async def test_the_rule_fires_through_the_service(
    state: AppState, allocation: ids.Allocation, enterprise: core.Enterprise
) -> None:
    compressor(state, enterprise)
    svc = state.services["security"]
    assert isinstance(svc, Security)
    await svc.start()
    try:
        await svc.hub.submit([write(0.8, enterprise=enterprise.id)])
        await svc.hub.submit([replace(write(1.5, enterprise=enterprise.id), id="too-high")])
        await svc.hub.drained()

        def fired() -> list[str]:
            return [a.rule for a in find_alerts(state.engine, ADMIN, AlertFilter())[0]]

        await until(lambda: "ot.setpoint.out-of-range" in fired(), 10, "the setpoint alert")
    finally:
        await svc.stop()
    assert fired().count("ot.setpoint.out-of-range") == 1
