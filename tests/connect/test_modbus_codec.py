"""Register images: every datatype, byte and word order, scale; writes refuse what won't fit."""

from __future__ import annotations

import math
import struct

import pytest
from pymodbus.client import AsyncModbusTcpClient

from indunet.connect.modbus.codec import (
    as_point_value,
    decode_registers,
    encode_coil,
    encode_registers,
)
from indunet.core import InvalidInput
from indunet.devices import ModbusForm, Point

DT = AsyncModbusTcpClient.DATATYPE


def test_float32_in_all_four_orders() -> None:
    ab, cd = struct.unpack(">HH", struct.pack(">f", 12.5))
    ba, dc = (int.from_bytes(struct.pack("<H", w), "big") for w in (ab, cd))
    cases = {
        ("big", "big"): [ab, cd],
        ("big", "little"): [cd, ab],
        ("little", "big"): [ba, dc],
        ("little", "little"): [dc, ba],
    }
    for (byte, word), regs in cases.items():
        form = ModbusForm("holding", 0, "float32", byte_order=byte, word_order=word)  # type: ignore[arg-type]
        assert decode_registers(form, regs) == 12.5, (byte, word)
        assert encode_registers(form, 12.5) == regs, (byte, word)


@pytest.mark.parametrize(
    ("datatype", "value", "pm"),
    [
        ("int16", -1234, DT.INT16),
        ("uint16", 65535, DT.UINT16),
        ("int32", -70000, DT.INT32),
        ("uint32", 4_000_000_000, DT.UINT32),
        ("int64", -(2**40), DT.INT64),
        ("uint64", 2**63 + 5, DT.UINT64),
        ("float64", -3.25e100, DT.FLOAT64),
    ],
)
@pytest.mark.parametrize("word", ["big", "little"])
def test_each_type_agrees_with_pymodbus(datatype: str, value: float, pm: object, word: str) -> None:
    form = ModbusForm("holding", 0, datatype, word_order=word)  # type: ignore[arg-type]
    regs = AsyncModbusTcpClient.convert_to_registers(value, pm, word_order=word)  # type: ignore[arg-type]
    assert decode_registers(form, regs) == value
    assert encode_registers(form, value) == regs


def test_scale_multiplies_on_read_and_divides_on_write() -> None:
    form = ModbusForm("holding", 0, "int16", scale=0.1)
    assert decode_registers(form, [0xFF9C]) == pytest.approx(-10.0)  # raw -100
    assert encode_registers(form, -10.0) == [0xFF9C]
    assert encode_registers(form, 23.5) == [235]
    with pytest.raises(InvalidInput, match=r"whole multiple of 0\.1"):
        encode_registers(form, 23.55)
    with pytest.raises(InvalidInput, match=r"out of range.*-3276\.8 to 3276\.7"):
        encode_registers(form, 3300)


def test_bool_register_and_point_types() -> None:
    form = ModbusForm("holding", 5, "bool")
    assert decode_registers(form, [0]) is False
    assert decode_registers(form, [7]) is True
    assert encode_registers(form, True) == [1]
    num = Point("n", "number")
    assert as_point_value(Point("i", "integer"), 41.6) == 42
    assert as_point_value(Point("b", "boolean"), 3) is True
    assert as_point_value(num, 3) == 3.0 and isinstance(as_point_value(num, 3), float)
    assert as_point_value(num, math.nan) is None
    assert as_point_value(num, math.inf) is None


@pytest.mark.parametrize(
    ("datatype", "value", "message"),
    [
        ("int16", 32768, "out of range"),
        ("uint16", -1, "out of range"),
        ("uint32", 2**32, "out of range"),
        ("int64", 2**63, "out of range"),
        ("uint16", 1.5, "whole number"),
        ("uint16", True, "boolean"),
        ("uint16", "12", "not a number"),
        ("float32", 1e39, "float32 range"),
        ("float64", math.inf, "cannot be written"),
        ("float32", math.nan, "cannot be written"),
        ("bool", 2, "not a boolean"),
    ],
)
def test_writes_that_do_not_fit_are_refused(datatype: str, value: object, message: str) -> None:
    form = ModbusForm("holding", 0, datatype)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=message):
        encode_registers(form, value)  # type: ignore[arg-type]


def test_read_only_tables_and_coil_states() -> None:
    with pytest.raises(InvalidInput, match="read-only"):
        encode_registers(ModbusForm("input", 3), 1)
    assert encode_coil(True) is True
    assert encode_coil(0) is False
    for bad in (2, "on", 0.5):
        with pytest.raises(InvalidInput, match="coil state"):
            encode_coil(bad)  # type: ignore[arg-type]


def test_register_count_must_match_the_type() -> None:
    with pytest.raises(ValueError, match="float32 needs 2 registers"):
        decode_registers(ModbusForm("holding", 0, "float32"), [1])
