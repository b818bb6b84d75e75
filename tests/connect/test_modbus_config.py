"""Modbus TCP settings: defaults, and a clear error naming the field for bad input."""

from __future__ import annotations

import pytest

from indunet.connect.modbus import ModbusSettings
from indunet.core import InvalidInput


def test_defaults_and_overrides() -> None:
    s = ModbusSettings.parse({"host": "10.0.0.5"})
    assert (s.host, s.port, s.unit, s.timeout, s.retries, s.poll_interval) == (
        "10.0.0.5",
        502,
        1,
        1.0,
        0,
        None,
    )
    assert (s.max_gap, s.max_block, s.max_bits, s.offline_after) == (8, 125, 2000, 3)
    s = ModbusSettings.parse(
        {
            "protocol": "modbus",
            "host": "gw",
            "port": 5020,
            "unit": 17,
            "timeout": 2,
            "retries": 1,
            "poll_interval": 0.5,
            "max_gap": 0,
            "max_block": 60,
            "offline_after": 5,
        }
    )
    assert (s.port, s.unit, s.timeout, s.poll_interval, s.max_block) == (5020, 17, 2.0, 0.5, 60)
    assert s.address == ("gw", 5020)


@pytest.mark.parametrize(
    ("connection", "field"),
    [
        ({}, "host"),
        ({"host": ""}, "host"),
        ({"host": "a b"}, "host"),
        ({"host": "h", "port": 0}, "port"),
        ({"host": "h", "port": "502"}, "port"),
        ({"host": "h", "unit": 256}, "unit"),
        ({"host": "h", "unit": True}, "unit"),
        ({"host": "h", "timeout": 0}, "timeout"),
        ({"host": "h", "timeout": float("nan")}, "timeout"),
        ({"host": "h", "retries": -1}, "retries"),
        ({"host": "h", "poll_interval": 0}, "poll_interval"),
        ({"host": "h", "max_gap": 126}, "max_gap"),
        ({"host": "h", "max_block": 126}, "max_block"),
        ({"host": "h", "max_bits": 2001}, "max_bits"),
        ({"host": "h", "offline_after": 0}, "offline_after"),
        ({"host": "h", "hots": "x"}, "hots"),
    ],
)
def test_bad_settings_name_the_field(connection: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput, match=rf"connection\.{field}\b"):
        ModbusSettings.parse(connection)
