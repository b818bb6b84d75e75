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


def _float32(value: float, word: str = "big") -> list[int]:
    regs = AsyncModbusTcpClient.convert_to_registers(value, DT.FLOAT32, word_order=word)  # type: ignore[arg-type]
    return list(regs)


@pytest.mark.parametrize(
    ("written", "read"),
    [
        (0.797, 0.797),  # not 0.796999990940094
        (21.3, 21.3),
        (-40.1, -40.1),
        (123456.789, 123456.79),  # float32 holds about 7 digits: the rest was never sent
        (1e-7, 1e-7),
        (3.4e38, 3.4e38),
        (16777217.0, 16777216.0),  # the float32 the device actually holds
        (0.0, 0.0),
    ],
)
@pytest.mark.parametrize("word", ["big", "little"])
def test_float32_reads_have_no_binary_noise(written: float, read: float, word: str) -> None:
    form = ModbusForm("holding", 0, "float32", word_order=word)  # type: ignore[arg-type]
    regs = _float32(written, word)
    got = decode_registers(form, regs)
    assert got == read and repr(got) == repr(read)
    assert encode_registers(form, got) == regs  # the shortest digits are the same float32


def test_every_float32_read_is_the_register_value_exactly() -> None:
    form = ModbusForm("input", 0, "float32")
    for bits in range(0x3F000000, 0x3F800000, 7919):  # a spread of floats in [0.5, 1)
        regs = [bits >> 16, bits & 0xFFFF]
        got = decode_registers(form, regs)
        assert struct.pack(">f", got) == struct.pack(">I", bits)
        assert len(repr(got).lstrip("-0.").replace(".", "")) <= 9


@pytest.mark.parametrize(
    ("datatype", "scale", "regs", "read"),
    [
        ("int16", 0.1, [2345], 234.5),  # not 234.50000000000003
        ("int16", 0.1, [0xFFFD], -0.3),  # raw -3: not -0.30000000000000004
        ("uint16", 0.01, [57], 0.57),  # not 0.5700000000000001
        ("uint32", 0.001, [0x0001, 0xE240], 123.456),  # raw 123456
        ("int16", 0.05, [7], 0.35),  # not 0.35000000000000003
        ("int16", 10.0, [7], 70.0),
        ("float32", 0.1, _float32(0.797), 0.0797),
        ("float32", 1000.0, _float32(1.234), 1234.0),  # not 1233.9999675750732
    ],
)
def test_scaled_reads_have_the_scales_decimals(
    datatype: str, scale: float, regs: list[int], read: float
) -> None:
    form = ModbusForm("holding", 0, datatype, scale=scale)  # type: ignore[arg-type]
    got = decode_registers(form, regs)
    assert repr(got) == repr(read)
    if datatype != "float32":
        assert encode_registers(form, got) == regs


def test_nan_and_infinity_still_come_through_to_be_dropped() -> None:
    form = ModbusForm("holding", 0, "float32", scale=0.1)
    assert math.isnan(decode_registers(form, _float32(math.nan)))
    assert decode_registers(form, _float32(math.inf)) == math.inf
    assert as_point_value(Point("n", "number"), decode_registers(form, _float32(math.nan))) is None
