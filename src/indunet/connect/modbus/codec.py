"""Point values to and from Modbus reads and writes: types, coils, and what may be written.

The register images themselves (datatype, byte and word order, scale) are
``indunet.devices.registers``, shared with the virtual factory.
"""

from __future__ import annotations

import math

from indunet.core import InvalidInput
from indunet.devices import ModbusForm, Point, registers
from indunet.telemetry import Value

decode_registers = registers.decode_registers


def as_point_value(point: Point, number: float | int | bool) -> Value | None:
    """``number`` in the point's WoT type; None when it cannot be (NaN, infinity)."""
    if isinstance(number, float) and not math.isfinite(number):
        return None
    if point.type == "boolean":
        return bool(number)
    if point.type == "integer":
        return round(number)
    if point.type == "string":
        return str(number)
    return float(number)


def encode_registers(form: ModbusForm, value: Value) -> list[int]:
    """The registers to write for ``value``; ``InvalidInput`` if it does not fit the type."""
    if form.table not in ("holding",):
        raise InvalidInput(f"{form.table} {form.address} is read-only in Modbus")
    if isinstance(value, str):
        raise InvalidInput(f"{value!r} is not a number for a {form.datatype} register")
    return registers.encode_registers(form, value)


def encode_coil(value: Value) -> bool:
    """The coil state for ``value``: a boolean, or 0/1."""
    if isinstance(value, str | float) or value not in (0, 1):
        raise InvalidInput(f"{value!r} is not a coil state (true/false or 0/1)")
    return bool(value)
