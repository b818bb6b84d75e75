"""The MQTT protocol plug-in: its row of ``connect.protocols.PROTOCOLS``."""

from __future__ import annotations

from indunet.connect.connector import Connector
from indunet.connect.events import AUTH_FAILURES
from indunet.connect.spec import ConnectorContext, ProtocolSpec

from .config import MqttConfig
from .connector import MqttConnector


def connector(ctx: ConnectorContext) -> Connector:
    """The MQTT connector: the embedded endpoint, or a client of the configured broker."""
    if ctx.settings is None:  # no platform settings: no endpoint, no broker
        return MqttConnector(MqttConfig(port=None), ctx.sink, ctx.status)
    config = MqttConfig.from_settings(ctx.settings)
    refused = ctx.signals.of(AUTH_FAILURES) if ctx.signals is not None else None
    return MqttConnector(
        config, ctx.sink, ctx.status, authenticate=ctx.authenticate, refused=refused
    )


SPEC = ProtocolSpec(name="mqtt", label="MQTT", connector=connector, settings=None, form="mqtt")
