"""Modbus register images of numbers, per a point's ``ModbusForm``: datatype, orders, scale.

Shared by the Modbus connector (decoding reads, encoding writes) and the virtual factory
(serving registers), so both sides of the wire follow one convention. Byte order is the order
of the two bytes inside each 16-bit register; word order is the order of the registers of a
32- or 64-bit value (``"big"``: most significant first). A float32 whose big-endian bytes are
``ABCD`` is therefore ``[AB, CD]`` (big/big), ``[CD, AB]`` (big bytes, little words),
``[BA, DC]`` (little bytes, big words) or ``[DC, BA]`` (little/little). The decoded number is
multiplied by the form's ``scale``; encoding divides by it.

Decoded numbers carry no binary noise: a float32 is read as the shortest decimal that is the
same float32 (``0.797``, not ``0.796999990940094``; 6 to 9 significant digits, float32's
precision), and scaling multiplies decimals (raw ``2345`` × ``0.1`` is ``234.5``, with as
many decimals as the scale has, not ``234.50000000000003``).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from decimal import Decimal

from indunet.core import InvalidInput
from indunet.devices.models import ModbusForm


class WrongRegisterCount(InvalidInput, ValueError):
    """An image with too few or too many registers for the datatype."""


_STRUCT = {
    "bool": "H",
    "int16": "h",
    "uint16": "H",
    "int32": "i",
    "uint32": "I",
    "int64": "q",
    "uint64": "Q",
    "float32": "f",
    "float64": "d",
}
_INT_RANGE = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
_FLOAT32_MAX = 3.4028234663852886e38


def _to_bytes(form: ModbusForm, registers: Sequence[int]) -> bytes:
    words = reversed(registers) if form.word_order == "little" else registers
    fmt = "<H" if form.byte_order == "little" else ">H"
    return b"".join(struct.pack(fmt, w) for w in words)


def _to_registers(form: ModbusForm, data: bytes) -> list[int]:
    fmt = "<H" if form.byte_order == "little" else ">H"
    words = [struct.unpack_from(fmt, data, i)[0] for i in range(0, len(data), 2)]
    return words[::-1] if form.word_order == "little" else words


def decode_registers(form: ModbusForm, registers: Sequence[int]) -> float | int | bool:
    """The scaled number held by ``registers`` (exactly ``form.count`` of them)."""
    if len(registers) != form.count:
        raise WrongRegisterCount(
            f"{form.datatype} needs {form.count} registers, got {len(registers)}"
        )
    if form.datatype == "bool":
        return registers[0] != 0
    data = _to_bytes(form, registers)
    (raw,) = struct.unpack(">" + _STRUCT[form.datatype], data)
    if isinstance(raw, float) and not math.isfinite(raw):
        return raw
    digits = _float32_digits(raw, data) if form.datatype == "float32" else repr(raw)
    if form.scale != 1.0:
        return float(Decimal(digits) * Decimal(repr(form.scale)))
    return float(digits) if isinstance(raw, float) else raw


def _float32_digits(raw: float, data: bytes) -> str:
    """The shortest decimal (6 to 9 significant digits) that packs to the same float32."""
    for precision in (6, 7, 8):
        digits = f"{raw:.{precision}g}"
        if struct.pack(">f", float(digits)) == data:
            return digits
    return f"{raw:.9g}"  # nine digits always identify a float32


def encode_registers(
    form: ModbusForm, value: float | int | bool, *, rounding: bool = False
) -> list[int]:
    """The registers holding ``value``; ``InvalidInput`` if it does not fit the datatype.

    An integer datatype takes whole multiples of the scale only, unless ``rounding`` (a
    simulated device storing a measured value) rounds to the nearest one.
    """
    if isinstance(value, str):
        raise InvalidInput(f"{value!r} is not a number for a {form.datatype} register")
    if form.datatype == "bool":
        if isinstance(value, float) or value not in (0, 1):
            raise InvalidInput(f"{value!r} is not a boolean (true/false or 0/1)")
        return [1 if value else 0]
    if isinstance(value, bool):
        raise InvalidInput(f"{value!r} is a boolean; {form.datatype} registers hold numbers")
    if not math.isfinite(value):
        raise InvalidInput(f"{value!r} cannot be written to a {form.datatype} register")
    raw: float | int = value / form.scale if form.scale != 1.0 else value
    if form.datatype in ("float32", "float64"):
        if form.datatype == "float32" and abs(raw) > _FLOAT32_MAX:
            raise InvalidInput(f"{value!r} is beyond the float32 range (scale {form.scale})")
        data = struct.pack(">" + _STRUCT[form.datatype], float(raw))
        return _to_registers(form, data)
    number = round(raw)
    if not rounding and abs(raw - number) > 1e-6 * max(1.0, abs(raw)):
        unit = "a whole number" if form.scale == 1.0 else f"a whole multiple of {form.scale:g}"
        raise InvalidInput(f"{value!r} is not {unit}, as this {form.datatype} register needs")
    lo, hi = _INT_RANGE[form.datatype]
    if not lo <= number <= hi:
        raise InvalidInput(
            f"{value!r} is out of range for {form.datatype} (scale {form.scale}): "
            f"allowed {lo * form.scale:g} to {hi * form.scale:g}"
        )
    return _to_registers(form, struct.pack(">" + _STRUCT[form.datatype], number))
