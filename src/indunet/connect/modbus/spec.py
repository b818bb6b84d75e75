"""The Modbus TCP protocol plug-in: its row of ``connect.protocols.PROTOCOLS``."""

from __future__ import annotations

from indunet.connect.connector import Connector
from indunet.connect.spec import ConnectorContext, ProtocolSpec

from .config import ModbusSettings


def connector(ctx: ConnectorContext) -> Connector:
    """The Modbus connector (pymodbus loads here, not on import)."""
    from .connector import ModbusConnector

    return ModbusConnector(ctx.sink, ctx.status)


SPEC = ProtocolSpec(
    name="modbus",
    label="Modbus TCP",
    connector=connector,
    settings=ModbusSettings.parse,
    form="modbus",
)
