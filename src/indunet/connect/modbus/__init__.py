"""Modbus TCP connector: coalesced polling of registers and coils, commands as writes.

``ModbusConnector`` loads pymodbus on first use; settings, plans and the spec do not.
"""

from typing import TYPE_CHECKING

from indunet.connect.modbus.config import ModbusSettings
from indunet.connect.modbus.plan import Block, Limits, bound_points, plan_reads, read_count
from indunet.core.lazy import lazy_names

if TYPE_CHECKING:
    from indunet.connect.modbus.connector import ModbusConnector

__getattr__ = lazy_names(__name__, {"ModbusConnector": "indunet.connect.modbus.connector"})

__all__ = [
    "Block",
    "Limits",
    "ModbusConnector",
    "ModbusSettings",
    "bound_points",
    "plan_reads",
    "read_count",
]
