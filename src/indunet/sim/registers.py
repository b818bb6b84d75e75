"""Modbus register images of point values, per a model's ``ModbusForm`` (datatype, orders, scale).

Convention (the one connectors decode with): the raw number is ``value / scale``, packed
big-endian; ``byte_order="little"`` swaps the two bytes inside each 16-bit register and
``word_order="little"`` puts the least significant register first. So a float32 is ABCD
(big/big), CDAB (big bytes, little words), BADC (little bytes, big words) or DCBA.
"""

from __future__ import annotations

import math
import struct

from indunet.core import InvalidInput
from indunet.devices import ModbusForm

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
_LIMITS = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
    "bool": (0, 1),
}


def raw_number(form: ModbusForm, value: float | int | bool) -> float | int:
    """The number stored on the wire for ``value``: divided by the scale, rounded for integers."""
    if form.datatype == "bool":
        return 1 if value else 0
    raw = float(value) / form.scale if form.scale != 1.0 else value
    if form.datatype.startswith(("float",)):
        return float(raw)
    if isinstance(raw, float) and not math.isfinite(raw):
        raise InvalidInput(f"{value!r} cannot be stored as {form.datatype}")
    number = round(raw)
    lo, hi = _LIMITS[form.datatype]
    if not lo <= number <= hi:
        raise InvalidInput(
            f"{value!r} does not fit a {form.datatype} register (scale {form.scale})"
        )
    return number


def encode(form: ModbusForm, value: float | int | bool) -> list[int]:
    """The registers holding ``value`` (coils and discrete inputs: ``[0]`` or ``[1]``)."""
    if form.table in ("coil", "discrete"):
        return [1 if value else 0]
    data = struct.pack(">" + _STRUCT[form.datatype], raw_number(form, value))
    words = [data[i : i + 2] for i in range(0, len(data), 2)]
    if form.byte_order == "little":
        words = [w[::-1] for w in words]
    if form.word_order == "little":
        words.reverse()
    return [int.from_bytes(w, "big") for w in words]


def decode(form: ModbusForm, registers: list[int]) -> float | int | bool:
    """The value held by ``registers`` (as many as ``form.count``), scale applied."""
    if len(registers) != form.count:
        raise InvalidInput(f"{form.datatype} needs {form.count} registers, got {len(registers)}")
    if form.table in ("coil", "discrete"):
        return bool(registers[0])
    words = [r.to_bytes(2, "big") for r in registers]
    if form.word_order == "little":
        words.reverse()
    if form.byte_order == "little":
        words = [w[::-1] for w in words]
    (number,) = struct.unpack(">" + _STRUCT[form.datatype], b"".join(words))
    if form.datatype == "bool":
        return bool(number)
    if form.scale == 1.0:
        return number  # type: ignore[no-any-return]
    return float(number) * form.scale
