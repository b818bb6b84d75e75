"""What a simulated Modbus device holds: point values as register and bit images.

The images come from ``indunet.devices.registers``, the same code the Modbus connector reads
them with. A simulated device stores measured values, so scaled integer registers round to
the nearest step instead of refusing the value.
"""

from __future__ import annotations

from indunet.devices import ModbusForm, registers


def encode(form: ModbusForm, value: float | int | bool) -> list[int]:
    """The registers holding ``value`` (coils and discrete inputs: ``[0]`` or ``[1]``)."""
    if form.table in ("coil", "discrete"):
        return [1 if value else 0]
    return registers.encode_registers(form, value, rounding=True)


def decode(form: ModbusForm, words: list[int]) -> float | int | bool:
    """The value held by ``words`` (as many as ``form.count``), scale applied."""
    if form.table in ("coil", "discrete"):
        return bool(words[0])
    return registers.decode_registers(form, words)
