"""The shipped model library: five models others (virtual factory, connectors) build on."""

from __future__ import annotations

import itertools
import re

from indunet.devices import (
    ModbusForm,
    MqttForm,
    OpcUaForm,
    library_documents,
    library_models,
    parse_model,
)

IDS = [
    "indunet:air-compressor",
    "indunet:cnc-machine",
    "indunet:env-sensor",
    "indunet:excavator",
    "indunet:power-meter",
]


def by_id() -> dict[str, object]:
    return {m.id: m for m in library_models()}


def test_five_models_with_chinese_and_english_titles_everywhere():
    models = library_models()
    assert [m.id for m in models] == IDS
    for m in models:
        assert m.version == "1.0.0"
        assert m.title["zh"] and m.title["en"], m.id
        for p in m.points.values():
            assert p.title["zh"] and p.title["en"], (m.id, p.name)
            assert re.fullmatch(r"[a-z][a-z0-9_]*", p.name)
            if p.type in ("number", "integer") and p.name != "power_factor":
                assert p.unit, (m.id, p.name)
            if p.type in ("number", "integer"):
                assert p.minimum is not None and p.maximum is not None
                assert p.minimum < p.maximum


def test_documents_round_trip_and_are_copies():
    docs = library_documents()
    assert [parse_model(d) for d in docs] == library_models()
    docs[0]["title"] = "changed"
    assert library_documents()[0]["title"] != "changed"


def test_points_named_in_the_brief_are_there():
    m = {x.id: x for x in library_models()}
    assert set(m["indunet:cnc-machine"].points) == {
        "spindle_speed", "spindle_load", "feed_rate", "bearing_temp", "vibration",
        "part_count", "running", "program", "feed_override",
    }  # fmt: skip
    assert set(m["indunet:cnc-machine"].actions) == {"start", "stop", "reset"}
    assert set(m["indunet:air-compressor"].points) == {
        "discharge_pressure", "motor_temp", "bearing_temp", "motor_current", "vibration",
        "run_hours", "running", "pressure_setpoint",
    }  # fmt: skip
    assert set(m["indunet:power-meter"].points) == {
        "voltage_a", "voltage_b", "voltage_c", "current_a", "current_b", "current_c",
        "active_power", "power_factor", "frequency", "energy_kwh",
    }  # fmt: skip
    assert set(m["indunet:excavator"].points) == {
        "engine_rpm", "engine_temp", "hydraulic_pressure", "fuel_level", "latitude",
        "longitude", "working", "operating_hours",
    }  # fmt: skip
    assert set(m["indunet:excavator"].actions) == {"engine_lock"}
    assert set(m["indunet:env-sensor"].points) == {"temperature", "humidity", "pm25", "noise"}


def test_only_the_setpoints_are_writable():
    writable = {(m.id, p.name) for m in library_models() for p in m.points.values() if p.writable}
    assert writable == {
        ("indunet:cnc-machine", "feed_override"),
        ("indunet:air-compressor", "pressure_setpoint"),
    }


def test_modbus_layouts_are_contiguous_blocks_per_table():
    for mid in ("indunet:air-compressor", "indunet:power-meter"):
        m = next(x for x in library_models() if x.id == mid)
        tables: dict[str, list[ModbusForm]] = {}
        for p in m.points.values():
            f = p.form(ModbusForm)
            assert f is not None, (mid, p.name)
            tables.setdefault(f.table, []).append(f)
            if p.writable:
                assert f.table in ("coil", "holding")
        for forms in tables.values():
            forms.sort(key=lambda f: f.address)
            assert forms[0].address == 0
            for a, b in itertools.pairwise(forms):
                assert b.address == a.address + a.count, (mid, a, b)
    meter = next(x for x in library_models() if x.id == "indunet:power-meter")
    energy = meter.points["energy_kwh"].form(ModbusForm)
    assert energy is not None and (energy.datatype, energy.scale) == ("uint32", 0.1)


def test_cnc_node_ids_and_mqtt_topics_carry_the_device_id():
    m = {x.id: x for x in library_models()}
    cnc = m["indunet:cnc-machine"]
    speed = cnc.points["spindle_speed"].form(OpcUaForm)
    assert speed is not None and speed.node_id == "ns=2;s={{DEVICE_ID}}.SpindleSpeed"
    assert all(p.form(OpcUaForm) for p in cnc.points.values())
    for mid in ("indunet:excavator", "indunet:env-sensor"):
        for p in m[mid].points.values():
            f = p.form(MqttForm)
            assert f is not None
            assert f.topic == "indunet/v1/{{DEVICE_ID}}/telemetry"
            assert f.json_path == f"$.values.{p.name}"
    lock = m["indunet:excavator"].actions["engine_lock"].form(MqttForm)
    assert lock is not None and lock.topic == "indunet/v1/{{DEVICE_ID}}/commands"
