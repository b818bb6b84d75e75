"""The shape of a protocol plug-in: one ``ProtocolSpec`` in each ``connect/<protocol>/spec.py``.

A spec says everything the platform needs to know of a protocol without importing its
library: its name and label, how to build its connector (``None`` for protocols whose
devices only push, like HTTP), how to parse a device's connection settings, and which
``devices.forms`` binding reads its Thing Model forms. ``connect.protocols.PROTOCOLS``
lists the specs; the ``ConnectorManager`` is built from that list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from indunet.connect.connector import Connector, StatusSink
from indunet.core import Settings
from indunet.core.signals import Signals
from indunet.devices.forms import BINDINGS, FormBinding
from indunet.telemetry import SampleSink

Authenticate = Callable[[str, str], bool]
"""``authenticate(device_id, secret)``: a device's credentials check (MQTT's embedded endpoint)."""


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector factory may use: where samples and statuses go, the platform's
    settings, the devices' credentials check, and the process's signals (refused
    credentials are noted there, ``connect.events``)."""

    sink: SampleSink
    status: StatusSink
    settings: Settings | None = None
    authenticate: Authenticate | None = None
    signals: Signals | None = None


@dataclass(frozen=True)
class ProtocolSpec:
    """One protocol plug-in.

    ``connector`` builds the protocol's connector (imported on first use, so that heavy
    libraries load only when the platform runs); ``settings`` validates a device's
    ``DeviceLink.connection`` mapping, raising ``InvalidInput`` that names the field (None:
    the device connects to the platform and takes no settings); ``form`` is the name of
    the ``devices.forms`` binding that reads its forms (None: its forms are not mapped).
    """

    name: str
    label: str
    connector: Callable[[ConnectorContext], Connector] | None
    settings: Callable[[Mapping[str, Any]], object] | None
    form: str | None

    @property
    def label_key(self) -> str:
        """The console's message key for the label (``protocol.modbus``)."""
        return f"protocol.{self.name}"

    @property
    def binding(self) -> FormBinding | None:
        """The ``devices.forms`` row that reads this protocol's forms."""
        return next((b for b in BINDINGS if b.name == self.form), None)
