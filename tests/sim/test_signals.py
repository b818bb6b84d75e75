"""Signals: inside the model's ranges and types, deterministic per seed, plausible per machine."""

from __future__ import annotations

import itertools
import math

import pytest

from indunet.core import Conflict, InvalidInput
from indunet.devices import Point, ThingModel
from indunet.sim import Signals
from indunet.sim.processes import XIAMEN, day_load, local_hour

T0 = 1_750_000_000.0  # a fixed Unix time, so the day shape is the same on every run
TYPES = {"number": (int, float), "integer": (int,), "boolean": (bool,), "string": (str,)}


def _run(model: ThingModel, device: str, seed: int, steps: int, t0: float = T0) -> list[dict]:
    s = Signals(model, device, seed)
    return [dict(s.step(t0 + i)) for i in range(steps)]


def _check(point: Point, value: object) -> None:
    assert isinstance(value, TYPES[point.type]), (point.name, value)
    if point.type in ("number", "integer"):
        assert not isinstance(value, bool)
        assert math.isfinite(value)  # type: ignore[arg-type]
        if point.minimum is not None:
            assert value >= point.minimum, (point.name, value)  # type: ignore[operator]
        if point.maximum is not None:
            assert value <= point.maximum, (point.name, value)  # type: ignore[operator]


def test_every_library_point_stays_in_its_range_and_type(models: dict[str, ThingModel]) -> None:
    for model in models.values():
        for seed in (0, 7):
            rows = _run(model, "dev-0001", seed, 1800)
            for row in rows:
                assert row.keys() == model.points.keys()
                for name, value in row.items():
                    _check(model.points[name], value)


def test_same_seed_same_values_other_seed_other_values(models: dict[str, ThingModel]) -> None:
    for model in models.values():
        a = _run(model, "dev-0001", 42, 300)
        assert _run(model, "dev-0001", 42, 300) == a
        assert _run(model, "dev-0001", 43, 300) != a
        assert _run(model, "dev-0002", 42, 300) != a


def test_cnc_runs_about_80_percent_with_programs_and_correlated_load(
    models: dict[str, ThingModel],
) -> None:
    rows = _run(models["indunet:cnc-machine"], "cnc-0001", 1, 4 * 3600)
    running = [r for r in rows if r["running"]]
    assert 0.65 < len(running) / len(rows) < 0.92
    assert all(r["spindle_speed"] < 50 for r in rows if not r["running"])
    speeds = {round(r["spindle_speed"], -2) for r in running}
    assert len(speeds) > 10  # programs step through several speeds
    assert len({r["program"] for r in running}) >= 3
    assert all(r["program"].startswith("O") for r in rows)
    idle_load = sum(r["spindle_load"] for r in rows if not r["running"]) / (
        len(rows) - len(running)
    )
    busy_load = sum(r["spindle_load"] for r in running) / len(running)
    assert busy_load > idle_load + 20
    assert rows[-1]["part_count"] > rows[0]["part_count"]
    assert all(b["part_count"] >= a["part_count"] for a, b in itertools.pairwise(rows))


def test_compressor_pressure_is_a_sawtooth_between_its_thresholds(
    models: dict[str, ThingModel],
) -> None:
    model = models["indunet:air-compressor"]
    s = Signals(model, "compressor-0001", 3)
    rows = [dict(s.step(T0 + i)) for i in range(1800)]
    pressure = [r["discharge_pressure"] for r in rows]
    setpoint = rows[0]["pressure_setpoint"]
    assert max(pressure) <= setpoint + 0.01
    assert min(pressure) >= setpoint - 0.2
    high, cycles = False, 0  # count the peaks, with hysteresis against the noise
    for p in pressure:
        if not high and p > setpoint - 0.02:
            high, cycles = True, cycles + 1
        elif high and p < setpoint - 0.08:
            high = False
    assert cycles >= 10  # many load/unload cycles in half an hour
    loaded = [r["motor_current"] for r in rows[300:]]
    assert max(loaded) > 2 * min(loaded)  # loaded vs unloaded current

    s.write("pressure_setpoint", 0.6)  # a lower setpoint: the sawtooth moves down
    later = [s.step(T0 + 1800 + i)["discharge_pressure"] for i in range(900)]
    assert max(later[300:]) <= 0.61


def test_power_meter_follows_the_plant_day(models: dict[str, ThingModel]) -> None:
    model = models["indunet:power-meter"]
    midnight = T0 - (local_hour(T0) * 3600)  # local midnight before T0
    s = Signals(model, "meter-0001", 5)
    night = [s.step(midnight + 3 * 3600 + i)["active_power"] for i in range(600)]
    s2 = Signals(model, "meter-0001", 5)
    day = [s2.step(midnight + 10.5 * 3600 + i)["active_power"] for i in range(600)]
    assert sum(day) / len(day) > 1.8 * sum(night) / len(night)
    assert day_load(midnight + 10.5 * 3600) > day_load(midnight + 3 * 3600)
    rows = _run(model, "meter-0002", 5, 600)
    assert rows[-1]["energy_kwh"] > rows[0]["energy_kwh"]  # the counter integrates power
    assert all(45 <= r["frequency"] <= 55 and 200 < r["voltage_a"] < 240 for r in rows)


def test_excavator_moves_around_a_site_near_xiamen(models: dict[str, ThingModel]) -> None:
    rows = _run(models["indunet:excavator"], "excavator-0001", 9, 4 * 3600)
    lats = [r["latitude"] for r in rows]
    lons = [r["longitude"] for r in rows]
    assert all(
        abs(lat - XIAMEN[0]) < 0.2 and abs(lon - XIAMEN[1]) < 0.25
        for lat, lon in zip(lats, lons, strict=False)
    )
    assert len(set(zip(lats, lons, strict=False))) > 50  # it travels
    assert max(lats) - min(lats) < 0.01  # ... but stays on its site (about 1 km)
    working = [r for r in rows if r["working"]]
    assert 0.3 < len(working) / len(rows) < 0.9


def test_env_sensor_drifts_slowly(models: dict[str, ThingModel]) -> None:
    rows = _run(models["indunet:env-sensor"], "env-0001", 2, 3600)
    temps = [r["temperature"] for r in rows]
    steps = [abs(b - a) for a, b in itertools.pairwise(temps)]
    assert max(steps) < 0.5  # no jumps from one second to the next
    assert 10 < sum(temps) / len(temps) < 40


def test_writes_are_checked_against_the_model(models: dict[str, ThingModel]) -> None:
    s = Signals(models["indunet:cnc-machine"], "cnc-0001", 0)
    s.step(T0)
    assert s.write("feed_override", 120) == 120
    assert s.step(T0 + 1)["feed_override"] == 120
    for point, value in [
        ("feed_override", 151),
        ("feed_override", "fast"),
        ("feed_override", 1.5),
        ("spindle_speed", 10),
        ("nope", 1),
    ]:
        with pytest.raises(InvalidInput):
            s.write(point, value)
    assert s.step(T0 + 2)["feed_override"] == 120  # nothing changed


def test_actions_of_the_model_and_only_those(models: dict[str, ThingModel]) -> None:
    cnc = Signals(models["indunet:cnc-machine"], "cnc-0001", 0)
    cnc.step(T0)
    assert cnc.invoke("stop") == {"state": "stopped"}
    assert not any(cnc.step(T0 + i)["running"] for i in range(1, 600))  # stays stopped
    cnc.invoke("start")
    assert any(cnc.step(T0 + 600 + i)["running"] for i in range(5))
    cnc.process.memo["state"] = "alarm"
    with pytest.raises(Conflict):
        cnc.invoke("start")
    cnc.invoke("reset")
    with pytest.raises(InvalidInput):
        cnc.invoke("explode")

    exc = Signals(models["indunet:excavator"], "excavator-0001", 0)
    with pytest.raises(InvalidInput):
        exc.invoke("engine_lock", "yes")
    assert exc.invoke("engine_lock", True) == {"locked": True}
    rows = [exc.step(T0 + i) for i in range(60)]
    assert rows[-1]["engine_rpm"] < 5 and not rows[-1]["working"]
