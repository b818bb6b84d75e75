"""Connectors (设备接入): MQTT, Modbus TCP, OPC UA and HTTP behind one Connector protocol."""

from indunet.connect.backoff import Backoff
from indunet.connect.connector import CommandFailed, Connector, DeviceLink, Health, StatusSink
from indunet.connect.manager import ConnectorManager
from indunet.connect.memory import MemoryConnector

__all__ = [
    "Backoff",
    "CommandFailed",
    "Connector",
    "ConnectorManager",
    "DeviceLink",
    "Health",
    "MemoryConnector",
    "StatusSink",
]
