"""The protocols Indunet speaks: one list of plug-in specs that everything else consults.

Adding a protocol (S7, BACnet ...) adds a ``connect/<protocol>/`` folder with its
``spec.py``, one row here, and its form reader in ``devices/forms`` (see
docs/contributing/adding-a-protocol.md; ``tests/connect/test_protocols.py`` keeps the
three in step). The ``ConnectorManager`` is built from this list, device connection
settings are parsed through it, and typed forms are mapped back to their protocol by it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from indunet.connect.connector import Connector
from indunet.connect.http.spec import SPEC as HTTP
from indunet.connect.modbus.spec import SPEC as MODBUS
from indunet.connect.mqtt.spec import SPEC as MQTT
from indunet.connect.opcua.spec import SPEC as OPCUA
from indunet.connect.spec import ConnectorContext, ProtocolSpec
from indunet.core import InvalidInput
from indunet.devices import Form

PROTOCOLS: tuple[ProtocolSpec, ...] = (MQTT, MODBUS, OPCUA, HTTP)
"""Every protocol, in the order the console lists them."""

_BY_NAME = {s.name: s for s in PROTOCOLS}


def names() -> tuple[str, ...]:
    """Every protocol's name."""
    return tuple(_BY_NAME)


def spec_of(name: str) -> ProtocolSpec:
    """The spec of protocol ``name``; ``InvalidInput`` naming the known ones otherwise."""
    spec = _BY_NAME.get(name)
    if spec is None:
        raise InvalidInput(f"protocol {name!r} is not one of {', '.join(_BY_NAME)}")
    return spec


def connectors(
    ctx: ConnectorContext, specs: Iterable[ProtocolSpec] = PROTOCOLS
) -> dict[str, Connector]:
    """One connector per protocol that has one, built with ``ctx``."""
    return {s.name: s.connector(ctx) for s in specs if s.connector is not None}


def parse_connection(protocol: str, connection: Mapping[str, Any]) -> object | None:
    """A device's connection settings parsed by its protocol; ``InvalidInput`` names the field.

    Protocols whose devices connect to the platform take no settings: None, and a
    non-empty mapping is refused.
    """
    spec = spec_of(protocol)
    conn = {k: v for k, v in connection.items() if k != "protocol"}
    if spec.settings is None:
        if conn:
            raise InvalidInput(
                f"a {protocol} device takes no connection settings (it connects to the "
                f"platform), got {', '.join(sorted(map(str, conn)))}"
            )
        return None
    return spec.settings(connection)


def protocol_of(form: Form) -> str:
    """The protocol a typed form belongs to; ``InvalidInput`` for a form of no known protocol."""
    for spec in PROTOCOLS:
        kind = spec.binding.form_type if spec.binding is not None else None
        if kind is not None and isinstance(form, kind):
            return spec.name
    raise InvalidInput(f"a {type(form).__name__} is not a form of any known protocol")
