"""Faults: written forms, a bearing that overheats in minutes, vibration spikes, drop-outs."""

from __future__ import annotations

import pytest

from indunet.core import InvalidInput
from indunet.devices import ThingModel
from indunet.sim import Equipment, Fault, make_plan, parse_fault

T0 = 1_750_000_000.0


def _cnc(models: dict[str, ThingModel], device: str = "cnc-0002") -> Equipment:
    plan = make_plan(models.values())
    d = next(x for x in plan.devices if x.id == device)
    return Equipment(d, models[d.model_id], seed=1)


def test_fault_specs_parse_and_print_back() -> None:
    f = parse_fault("cnc-0002:bearing_drift@60s")
    assert f == Fault("cnc-0002", "bearing_drift", at=60.0)
    g = parse_fault("meter-0001:offline@2m,for=90s")
    assert (g.at, g.duration, g.effect) == (120.0, 90.0, "offline")
    h = parse_fault("compressor-0001:drift,point=motor_temp,rate=0.5")
    assert (h.at, h.point, h.rate) == (0.0, "motor_temp", 0.5)
    assert parse_fault(g.spec()) == g and parse_fault(h.spec()) == h


@pytest.mark.parametrize(
    "spec",
    [
        "cnc-0002",
        "CNC-0002:bearing_drift",
        "cnc-0002:melt",
        "cnc-0002:bearing_drift@soon",
        "cnc-0002:bearing_drift,rate=-1",
        "cnc-0002:bearing_drift,rate=x",
        "cnc-0002:bearing_drift,colour=red",
        "cnc-0002:offline,for",
    ],
)
def test_bad_fault_specs_are_refused(spec: str) -> None:
    with pytest.raises(InvalidInput):
        parse_fault(spec)


def test_bearing_drift_crosses_80_degrees_within_the_configured_time(
    models: dict[str, ThingModel],
) -> None:
    eq = _cnc(models)
    eq.schedule(parse_fault("cnc-0002:bearing_drift@60s,rate=0.5"))
    temps = []
    for i in range(400):
        eq.tick(T0 + i)
        temps.append(eq.values["bearing_temp"])
    assert max(temps[:60]) < 70  # healthy before the fault
    crossed = next(i for i, t in enumerate(temps) if t > 80)
    # +0.5 °C/s from where it stood when the fault began (slack: the machine's own warming)
    due = 60 + (80 - temps[59]) / 0.5
    assert 60 < crossed <= due + 15
    assert crossed < 180  # within minutes
    assert max(temps) <= models["indunet:cnc-machine"].points["bearing_temp"].maximum  # type: ignore[operator]


def test_a_drift_that_ends_cools_back(models: dict[str, ThingModel]) -> None:
    eq = _cnc(models)
    eq.schedule(parse_fault("cnc-0002:bearing_drift,rate=1,for=60s"))
    for i in range(60):
        eq.tick(T0 + i)
    hot = eq.values["bearing_temp"]
    assert hot > 80
    for i in range(60, 60 + 900):
        eq.tick(T0 + i)
    assert eq.values["bearing_temp"] < hot - 40


def test_vibration_spikes(models: dict[str, ThingModel]) -> None:
    calm, spiky = _cnc(models, "cnc-0001"), _cnc(models, "cnc-0001")
    spiky.inject(parse_fault("cnc-0001:vibration_spike,for=120s,rate=0.5"))
    a, b = [], []
    for i in range(120):
        calm.tick(T0 + i)
        spiky.tick(T0 + i)
        a.append(calm.values["vibration"])
        b.append(spiky.values["vibration"])
    jumps = sum(1 for x, y in zip(a, b, strict=False) if y > 2.5 * x + 0.5)
    assert jumps >= 20


def test_offline_for_n_seconds_then_back(models: dict[str, ThingModel]) -> None:
    eq = _cnc(models)
    eq.schedule(parse_fault("cnc-0002:offline@10s,for=5s"))
    states = []
    for i in range(1, 31):
        eq.tick(T0 + i)
        states.append(eq.online)
    assert states.index(False) == 9 and states.count(False) == 5  # steps at t=10..14 s
    assert all(states[14:])
    assert eq.counters.offline_steps == 5
    assert eq.counters.produced == 25 * len(eq.model.points)
    assert 0 < eq.counters.changed <= eq.counters.produced


def test_runtime_injection_and_clear(models: dict[str, ThingModel]) -> None:
    eq = _cnc(models)
    eq.tick(T0)
    eq.inject(parse_fault("cnc-0002:offline"))
    eq.tick(T0 + 1)
    assert not eq.online
    assert eq.faults.clear("offline") == 1
    eq.tick(T0 + 2)
    assert eq.online


def test_faults_that_do_not_fit_the_model_are_refused(models: dict[str, ThingModel]) -> None:
    eq = _cnc(models)
    with pytest.raises(InvalidInput, match="numeric points"):
        eq.inject(parse_fault("cnc-0002:drift"))  # which point?
    with pytest.raises(InvalidInput, match="no numeric point"):
        eq.inject(parse_fault("cnc-0002:drift,point=program"))
    with pytest.raises(InvalidInput):
        eq.inject(parse_fault("cnc-0001:offline"))  # another device's fault
    meter = Equipment(
        make_plan(models.values()).by_protocol("modbus")[-1], models["indunet:power-meter"]
    )
    with pytest.raises(InvalidInput, match="point=NAME"):
        meter.inject(parse_fault(f"{meter.id}:bearing_drift"))
    assert eq.faults.active == [] and meter.faults.active == []
