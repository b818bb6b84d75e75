"""Connectors (设备接入): MQTT, Modbus TCP, OPC UA and HTTP behind one Connector protocol."""

from indunet.connect.backoff import Backoff
from indunet.connect.connector import CommandFailed, Connector, DeviceLink, Health, StatusSink

__all__ = [
    "Backoff",
    "CommandFailed",
    "Connector",
    "DeviceLink",
    "Health",
    "StatusSink",
]
