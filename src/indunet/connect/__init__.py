"""Connectors (设备接入): MQTT, Modbus TCP, OPC UA and HTTP behind one Connector protocol."""

from indunet.connect.backoff import Backoff
from indunet.connect.connector import CommandFailed, Connector, DeviceLink, Health, StatusSink
from indunet.connect.http.codec import (
    PayloadInvalid,
    PayloadTooLarge,
    TelemetryBatch,
    decode_telemetry,
    inflate_body,
)
from indunet.connect.manager import ConnectorManager
from indunet.connect.memory import MemoryConnector
from indunet.connect.modbus import ModbusConnector, ModbusSettings
from indunet.connect.mqtt import MosquittoFiles, MqttConfig, MqttConnector, write_mosquitto_files
from indunet.connect.opcua import OpcUaConnector, OpcUaSettings

__all__ = [
    "Backoff",
    "CommandFailed",
    "Connector",
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
    "StatusSink",
    "TelemetryBatch",
    "decode_telemetry",
    "inflate_body",
    "write_mosquitto_files",
]
