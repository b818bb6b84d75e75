"""The OPC UA protocol plug-in: its row of ``connect.protocols.PROTOCOLS``."""

from __future__ import annotations

from indunet.connect.connector import Connector
from indunet.connect.spec import ConnectorContext, ProtocolSpec

from .config import OpcUaSettings


def connector(ctx: ConnectorContext) -> Connector:
    """The OPC UA connector (asyncua loads here, not on import)."""
    from .connector import OpcUaConnector

    return OpcUaConnector(ctx.sink, ctx.status)


SPEC = ProtocolSpec(
    name="opcua",
    label="OPC UA",
    connector=connector,
    settings=OpcUaSettings.parse,
    form="opcua",
)
