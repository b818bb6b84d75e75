"""Connectors (设备接入): MQTT, Modbus TCP, OPC UA and HTTP behind one Connector protocol.

The Modbus and OPC UA connectors load pymodbus and asyncua on first use, not on import:
asyncua alone took 0.43 s of every CLI command's start, ``indunet id resolve`` included.
"""

from typing import TYPE_CHECKING

from indunet.connect.connector import (
    ChecksWrites,
    CommandFailed,
    Connector,
    DeviceLink,
    Health,
    StatusSink,
)
from indunet.connect.http.codec import (
    PayloadInvalid,
    PayloadTooLarge,
    TelemetryBatch,
    decode_telemetry,
    inflate_body,
)
from indunet.connect.manager import ConnectorManager
from indunet.connect.memory import MemoryConnector
from indunet.connect.mqtt import MosquittoFiles, MqttConfig, MqttConnector, write_mosquitto_files
from indunet.connect.protocols import PROTOCOLS
from indunet.connect.spec import ConnectorContext, ProtocolSpec
from indunet.core.backoff import Backoff
from indunet.core.lazy import lazy_names

if TYPE_CHECKING:
    from indunet.connect.modbus import ModbusConnector, ModbusSettings
    from indunet.connect.opcua import OpcUaConnector, OpcUaSettings

__getattr__ = lazy_names(
    __name__,
    {
        "ModbusConnector": "indunet.connect.modbus",
        "ModbusSettings": "indunet.connect.modbus",
        "OpcUaConnector": "indunet.connect.opcua",
        "OpcUaSettings": "indunet.connect.opcua",
    },
)

__all__ = [
    "PROTOCOLS",
    "Backoff",
    "ChecksWrites",
    "CommandFailed",
    "Connector",
    "ConnectorContext",
    "ConnectorManager",
    "DeviceLink",
    "Health",
    "MemoryConnector",
    "ModbusConnector",
    "ModbusSettings",
    "MosquittoFiles",
    "MqttConfig",
    "MqttConnector",
    "OpcUaConnector",
    "OpcUaSettings",
    "PayloadInvalid",
    "PayloadTooLarge",
    "ProtocolSpec",
    "StatusSink",
    "TelemetryBatch",
    "decode_telemetry",
    "inflate_body",
    "write_mosquitto_files",
]
