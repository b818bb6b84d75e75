"""The OPC UA protocol plug-in: its row of ``connect.protocols.PROTOCOLS``."""

from __future__ import annotations

from indunet.connect.connector import Connector
from indunet.connect.events import AUTH_FAILURES
from indunet.connect.spec import ConnectorContext, ProtocolSpec

from .config import OpcUaSettings


def connector(ctx: ConnectorContext) -> Connector:
    """The OPC UA connector (asyncua loads here, not on import)."""
    from .connector import OpcUaConnector

    refused = ctx.signals.of(AUTH_FAILURES) if ctx.signals is not None else None
    return OpcUaConnector(ctx.sink, ctx.status, refused)


SPEC = ProtocolSpec(
    name="opcua",
    label="OPC UA",
    connector=connector,
    settings=OpcUaSettings.parse,
    form="opcua",
)
