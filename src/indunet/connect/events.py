"""What connect publishes on the bus about the devices' side of the platform, declared once:
refused device credentials and telemetry from devices nobody registered, each a signal
batched by ``core.signals`` (at most 1,000 records a second per process, the rest counted).

- ``AUTH_FAILURES``: a producer adds ``(source address or None, user name given, device
  named or None, target, endpoint or None)``. Targets: ``mqtt`` (the embedded endpoint
  refused a CONNECT's credentials), ``device`` (``Authorization: Device`` refused by the
  HTTP ingest), ``opcua`` (an OPC UA server refused the connector's identity; the endpoint
  is the server's URL, the source unknown: it is this platform).
- ``UNKNOWN_DEVICES``: ``(source address or None, device id, way in, enterprise id or
  None)``: samples for a device id the registry does not know were dead-lettered; the way
  in is the ingest source (``http``, ``mqtt``…), the enterprise that of the user who posted
  them, when one did.

The shapes cut text to ``MAX_TEXT`` characters (a user name may be 65,535 bytes of MQTT).
"""

from __future__ import annotations

from typing import Any

from indunet.core import EventType
from indunet.core.signals import Record, SignalType

SOURCE = "connect"
MAX_TEXT = 200
"""Characters of a user name or device id a record keeps."""
MAX_ENDPOINT = 500
"""Characters of an endpoint URL a record keeps."""


def _text(value: Any, limit: int = MAX_TEXT) -> str | None:
    return None if value is None else str(value)[:limit]


def _auth_failure(record: Record) -> dict[str, Any]:
    src, user, device, target, endpoint = record
    return {
        "src": src or None,
        "user": _text(user),
        "device": _text(device),
        "target": target,
        "endpoint": _text(endpoint, MAX_ENDPOINT),
    }


def _unknown_device(record: Record) -> dict[str, Any]:
    src, device, via, enterprise_id = record
    return {"src": src or None, "device": _text(device), "via": via, "enterprise_id": enterprise_id}


AUTH_FAILED = EventType(
    "connect.auth_failures",
    1,
    SOURCE,
    "device credentials refused (MQTT endpoint, HTTP ingest) and OPC UA identities refused "
    "by a server: source, user, device, target, endpoint",
)
UNKNOWN_DEVICE = EventType(
    "connect.unknown_devices",
    1,
    SOURCE,
    "telemetry for a device id the registry does not know: source, device id, way in",
)
AUTH_FAILURES = SignalType(AUTH_FAILED, _auth_failure)
"""The signal of refused credentials (``core.signals.Signals.of(AUTH_FAILURES)``)."""
UNKNOWN_DEVICES = SignalType(UNKNOWN_DEVICE, _unknown_device)
"""The signal of telemetry from unknown devices."""
