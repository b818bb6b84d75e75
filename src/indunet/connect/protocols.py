"""The protocols Indunet speaks: one list of plug-in specs that everything else consults.

Adding a protocol (S7, BACnet ...) adds a ``connect/<protocol>/`` folder with its
``spec.py``, one row here, and its form reader in ``devices/forms`` (see
docs/contributing/adding-a-protocol.md; ``tests/connect/test_protocols.py`` keeps the
three in step). The ``ConnectorManager`` is built from this list; ``devices`` keeps the
device-side tables (protocol names, connection settings, form readers), which sit below
``connect`` in the layers, and the tests check them against this list.
"""

from __future__ import annotations

from collections.abc import Iterable

from indunet.connect.connector import Connector
from indunet.connect.http.spec import SPEC as HTTP
from indunet.connect.modbus.spec import SPEC as MODBUS
from indunet.connect.mqtt.spec import SPEC as MQTT
from indunet.connect.opcua.spec import SPEC as OPCUA
from indunet.connect.spec import ConnectorContext, ProtocolSpec

PROTOCOLS: tuple[ProtocolSpec, ...] = (MQTT, MODBUS, OPCUA, HTTP)
"""Every protocol, in the order the console lists them."""


def connectors(
    ctx: ConnectorContext, specs: Iterable[ProtocolSpec] = PROTOCOLS
) -> dict[str, Connector]:
    """One connector per protocol that has one, built with ``ctx``."""
    return {s.name: s.connector(ctx) for s in specs if s.connector is not None}
