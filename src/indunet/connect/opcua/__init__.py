"""OPC UA connector: subscriptions for telemetry, writes and method calls for commands.

``OpcUaConnector`` loads asyncua on first use; the settings and the spec do not.
"""

from typing import TYPE_CHECKING

from indunet.connect.opcua.config import OpcUaSettings
from indunet.core.lazy import lazy_names

if TYPE_CHECKING:
    from indunet.connect.opcua.connector import OpcUaConnector

__getattr__ = lazy_names(__name__, {"OpcUaConnector": "indunet.connect.opcua.connector"})

__all__ = ["OpcUaConnector", "OpcUaSettings"]
