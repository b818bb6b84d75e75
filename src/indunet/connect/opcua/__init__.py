"""OPC UA connector: subscriptions for telemetry, writes and method calls for commands."""

from indunet.connect.opcua.config import OpcUaSettings
from indunet.connect.opcua.connector import OpcUaConnector

__all__ = ["OpcUaConnector", "OpcUaSettings"]
