"""The registry's table of connection settings matches what the connectors read.

``devices`` may not import ``connect``, so it keeps its own typed table of Modbus and OPC UA
settings. A setting the connector understands but the registry refuses cannot be configured;
one the registry stores but the connector refuses breaks the device at its first poll. These
tests keep the two in step: same names, same bounds, same choices, and whatever the registry
stores the connector parses to the same values.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from indunet.connect import ModbusSettings, OpcUaSettings
from indunet.connect.opcua import config as opcua_config
from indunet.core import InvalidInput
from indunet.devices import connections

MODBUS_BASE = {"host": "10.0.4.20"}
OPCUA_BASE = {"endpoint": "opc.tcp://10.0.4.31:4840/line1"}


def _numeric(table: tuple[connections.Setting, ...]) -> list[connections.Setting]:
    return [s for s in table if s.kind in ("int", "seconds")]


def test_the_tables_name_every_setting_the_connectors_read() -> None:
    assert [s.name for s in connections.MODBUS] == [
        f.name for f in dataclasses.fields(ModbusSettings)
    ]
    assert [s.name for s in connections.OPCUA] == [
        f.name for f in dataclasses.fields(OpcUaSettings)
    ]
    assert connections.SECURITY_POLICIES == opcua_config.POLICIES
    assert connections.SECURITY_MODES == opcua_config.MODES
    assert {"password", "private_key", "private_key_password"} <= connections.SECRET_KEYS


@pytest.mark.parametrize(
    ("parse", "base", "setting"),
    [
        pytest.param(ModbusSettings.parse, MODBUS_BASE, s, id=f"modbus-{s.name}")
        for s in _numeric(connections.MODBUS)
    ]
    + [
        pytest.param(OpcUaSettings.parse, OPCUA_BASE, s, id=f"opcua-{s.name}")
        for s in _numeric(connections.OPCUA)
    ],
)
def test_numeric_bounds_are_the_same(parse: Any, base: dict[str, Any], setting: Any) -> None:
    protocol = "modbus" if base is MODBUS_BASE else "opcua"
    step = 1 if setting.kind == "int" else setting.low / 2
    edges = [setting.low, setting.high]
    if setting.kind == "int":
        edges = [int(setting.low), int(setting.high)]
    for value in edges:
        stored = connections.check_connection(protocol, {**base, setting.name: value})
        assert getattr(parse(stored), setting.name) == value
    for value in (setting.low - step, setting.high + step):
        if setting.kind == "int":
            value = int(value)
        with pytest.raises(InvalidInput, match=setting.name):
            connections.check_connection(protocol, {**base, setting.name: value})
        with pytest.raises(InvalidInput, match=setting.name):
            parse({**base, setting.name: value})


def test_a_full_modbus_connection_is_read_back_by_the_connector() -> None:
    given = {
        "host": "10.0.4.20",
        "port": "1502",  # text, as from a CSV file: stored typed
        "unit": 7,
        "timeout": "0.5",
        "retries": 2,
        "poll_interval": 0.25,
        "max_gap": 0,
        "max_block": 60,
        "max_bits": 800,
        "offline_after": 5,
        "connections": "4",
    }
    stored = connections.check_connection("modbus", given)
    parsed = ModbusSettings.parse(stored)
    assert dataclasses.asdict(parsed) == {
        **given,
        "port": 1502,
        "timeout": 0.5,
        "connections": 4,
    }


def test_a_full_opc_ua_connection_is_read_back_by_the_connector(tmp_path: Path) -> None:
    files = {}
    for name in ("certificate", "private_key", "server_certificate"):
        path = tmp_path / f"{name}.pem"
        path.write_bytes(b"-----BEGIN-----\n")
        files[name] = str(path)
    given = {
        **OPCUA_BASE,
        "security_policy": "Basic256Sha256",
        "security_mode": "Sign",
        **files,
        "private_key_password": "key-pass-1",
        "application_uri": "urn:indunet:client",
        "username": "op",
        "password": "pw-123456",
        "timeout": 8,
        "watchdog_interval": "2.5",
    }
    stored = connections.check_connection("opcua", given)
    parsed = dataclasses.asdict(OpcUaSettings.parse(stored))
    for name in files:
        assert parsed[name] == Path(files[name])
    assert {k: v for k, v in parsed.items() if k not in files} == {
        **{k: v for k, v in given.items() if k not in files},
        "timeout": 8.0,
        "watchdog_interval": 2.5,
    }
