"""Modbus TCP connection settings, read from a device's ``DeviceLink.connection`` mapping."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from indunet.core import InvalidInput

MAX_REGISTERS = 125
"""Registers one read may return (Modbus application protocol, FC3/FC4)."""
MAX_BITS = 2000
"""Coils or discrete inputs one read may return (FC1/FC2)."""
MAX_CONNECTIONS = 16
"""TCP connections to one gateway at most (gateways commonly accept 4 to 32)."""

_KNOWN = {
    "protocol",
    "host",
    "port",
    "unit",
    "timeout",
    "retries",
    "poll_interval",
    "max_gap",
    "max_block",
    "max_bits",
    "offline_after",
    "connections",
}


@dataclass(frozen=True)
class ModbusSettings:
    """How to reach one Modbus TCP device and how to poll it.

    Devices sharing ``(host, port)`` (a gateway with several unit ids) share its TCP
    connections: ``connections`` of them (default 1), each device on the one numbered
    ``unit % connections``, so the units behind a gateway that accepts several connections
    are polled side by side. ``poll_interval`` overrides the interval of every form of the
    model; ``max_gap`` is how many unused registers (``16 * max_gap`` bits for coils) a read
    may span to join two points into one request; ``offline_after`` consecutive timeouts
    mark the device offline.
    """

    host: str
    port: int = 502
    unit: int = 1
    timeout: float = 1.0
    retries: int = 0
    poll_interval: float | None = None
    max_gap: int = 8
    max_block: int = MAX_REGISTERS
    max_bits: int = MAX_BITS
    offline_after: int = 3
    connections: int = 1

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``: where the device's TCP connection goes."""
        return (self.host, self.port)

    @property
    def lane(self) -> tuple[str, int, int]:
        """``(host, port, unit % connections)``: the key of the device's TCP connection."""
        return (self.host, self.port, self.unit % self.connections)

    @classmethod
    def parse(cls, connection: Mapping[str, Any]) -> ModbusSettings:
        """Validate a connection mapping; ``InvalidInput`` names the offending field."""
        unknown = sorted(set(connection) - _KNOWN)
        if unknown:
            raise InvalidInput(
                f"connection.{unknown[0]} is not a Modbus TCP setting "
                f"(known: {', '.join(sorted(_KNOWN - {'protocol'}))})"
            )
        host = connection.get("host")
        if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host):
            raise InvalidInput("connection.host must be a host name or IP address")
        poll = connection.get("poll_interval")
        return cls(
            host=host,
            port=_int(connection, "port", 502, 1, 65535),
            unit=_int(connection, "unit", 1, 0, 255),
            timeout=_float(connection, "timeout", 1.0, 0.01, 60.0),
            retries=_int(connection, "retries", 0, 0, 10),
            poll_interval=None
            if poll is None
            else _float(connection, "poll_interval", 1.0, 0.01, 86400.0),
            max_gap=_int(connection, "max_gap", 8, 0, MAX_REGISTERS),
            max_block=_int(connection, "max_block", MAX_REGISTERS, 1, MAX_REGISTERS),
            max_bits=_int(connection, "max_bits", MAX_BITS, 1, MAX_BITS),
            offline_after=_int(connection, "offline_after", 3, 1, 1000),
            connections=_int(connection, "connections", 1, 1, MAX_CONNECTIONS),
        )


def _int(connection: Mapping[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    value = connection.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidInput(f"connection.{name} must be an integer from {lo} to {hi}, not {value!r}")
    return value


def _float(connection: Mapping[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    value = connection.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise InvalidInput(
            f"connection.{name} must be a number from {lo} to {hi} seconds, not {value!r}"
        )
    return float(value)
