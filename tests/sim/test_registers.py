"""Register images: every datatype, byte and word order, and scale round-trip; misfits refused."""

from __future__ import annotations

import itertools

import pytest

from indunet.core import InvalidInput
from indunet.devices import ModbusForm
from indunet.sim.registers import decode, encode


@pytest.mark.parametrize(
    ("byte_order", "word_order", "expected"),
    [
        ("big", "big", [0x4049, 0x0FDB]),  # ABCD
        ("big", "little", [0x0FDB, 0x4049]),  # CDAB
        ("little", "big", [0x4940, 0xDB0F]),  # BADC
        ("little", "little", [0xDB0F, 0x4940]),  # DCBA
    ],
)
def test_float32_orders(byte_order: str, word_order: str, expected: list[int]) -> None:
    form = ModbusForm("input", 0, "float32", byte_order=byte_order, word_order=word_order)  # type: ignore[arg-type]
    assert encode(form, 3.14159265) == expected
    assert decode(form, expected) == pytest.approx(3.14159265, rel=1e-7)


def test_every_datatype_round_trips_in_every_order() -> None:
    samples = {
        "int16": -1234,
        "uint16": 54321,
        "int32": -123456789,
        "uint32": 4_000_000_000,
        "int64": -(2**40) - 5,
        "uint64": 2**60 + 7,
        "float32": 0.5,
        "float64": 123456.789012,
    }
    for (dtype, value), bo, wo in itertools.product(
        samples.items(), ("big", "little"), ("big", "little")
    ):
        form = ModbusForm("holding", 10, dtype, byte_order=bo, word_order=wo)  # type: ignore[arg-type]
        regs = encode(form, value)
        assert len(regs) == form.count
        assert all(0 <= r <= 0xFFFF for r in regs)
        assert decode(form, regs) == value


def test_scale_divides_on_the_wire() -> None:
    form = ModbusForm("input", 18, "uint32", scale=0.1)
    assert encode(form, 4567.8) == [0x0000, 0xB26E]  # 45678 tenths of a kWh
    assert decode(form, encode(form, 4567.8)) == pytest.approx(4567.8)


def test_bits_and_bools() -> None:
    coil = ModbusForm("coil", 3, "bool")
    assert encode(coil, True) == [1] and encode(coil, False) == [0]
    assert decode(coil, [1]) is True
    reg = ModbusForm("holding", 0, "bool")
    assert encode(reg, True) == [1] and decode(reg, [0]) is False


def test_values_that_do_not_fit_are_refused() -> None:
    with pytest.raises(InvalidInput):
        encode(ModbusForm("holding", 0, "uint16"), -1)
    with pytest.raises(InvalidInput):
        encode(ModbusForm("holding", 0, "int16"), 40000)
    with pytest.raises(InvalidInput):
        encode(ModbusForm("holding", 0, "uint16", scale=0.01), 1000.0)
    with pytest.raises(InvalidInput):
        decode(ModbusForm("holding", 0, "float32"), [1])
