"""The connect public API is what ``indunet.connect`` exports; this list pins it."""

from __future__ import annotations

from indunet import connect

PINNED = [
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
    "PROTOCOLS",
    "PayloadInvalid",
    "PayloadTooLarge",
    "ProtocolSpec",
    "StatusSink",
    "TelemetryBatch",
    "decode_telemetry",
    "inflate_body",
    "write_mosquitto_files",
]


def test_public_api_is_pinned() -> None:
    assert sorted(connect.__all__) == PINNED


def test_every_exported_name_exists() -> None:
    missing = [n for n in connect.__all__ if not hasattr(connect, n)]
    assert missing == []
