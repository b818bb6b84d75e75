"""Modbus TCP connector: coalesced polling of registers and coils, commands as writes."""

from indunet.connect.modbus.config import ModbusSettings
from indunet.connect.modbus.connector import ModbusConnector
from indunet.connect.modbus.plan import Block, Limits, bound_points, plan_reads, read_count

__all__ = [
    "Block",
    "Limits",
    "ModbusConnector",
    "ModbusSettings",
    "bound_points",
    "plan_reads",
    "read_count",
]
