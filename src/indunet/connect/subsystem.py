"""The connectors' descriptor: protocols that bring devices in."""

from indunet.core.plugins import Subsystem

SUBSYSTEM = Subsystem(
    name="connect",
    summary="connectors: MQTT, Modbus TCP, OPC UA and HTTP behind one Connector protocol",
    cli=(("mqtt", "indunet.cli.mqtt:app"),),
    role="platform",
)
