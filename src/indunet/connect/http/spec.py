"""The HTTP protocol plug-in: devices push to ``POST /api/v1/telemetry``; no connector."""

from __future__ import annotations

from indunet.connect.spec import ProtocolSpec

SPEC = ProtocolSpec(name="http", label="HTTP", connector=None, settings=None, form="http")
