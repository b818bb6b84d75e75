"""The sensor's unit of output: one industrial-protocol transaction (a request and, where
seen, its response), turned into a ``SecurityEvent`` of kind ``ot.transaction``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from indunet.security.events import SecurityEvent

PROTOCOLS = ("modbus", "opcua", "s7comm", "enip", "dnp3")


@dataclass(slots=True)
class Transaction:
    """Who asked whom for what.

    - ``function``: the protocol's function or service code; ``function_name``: its name
      (``write_multiple_coils``, ``ReadRequest``, ``plc_stop``, ``list_identity``…).
    - ``write``: whether it changes the device (a write, a program download, a mode change).
    - ``unit``: the Modbus unit id, the DNP3 destination address, the S7 rack/slot…
    - ``address``/``count``: the first address touched and how many; ``values`` where cheap.
    - ``status``: ``ok``, ``exception`` (the device refused: ``error`` names the code) or
      ``unanswered``.
    - ``details``: protocol details (device identification objects, OPC UA endpoint,
      S7 SZL ids…) that passive asset identification reads.
    """

    ts: float
    protocol: str
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    function: int
    function_name: str
    write: bool = False
    src_mac: str | None = None
    dst_mac: str | None = None
    unit: int | None = None
    address: int | None = None
    count: int | None = None
    values: list[Any] | None = None
    status: str = "ok"
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_event(self, observer: str, enterprise_id: int | None = None) -> SecurityEvent:
        """This transaction as a normalised event (``fields`` holds the protocol parts)."""
        fields: dict[str, Any] = {"function": self.function, "write": self.write}
        for name in ("unit", "address", "count", "values", "error"):
            value = getattr(self, name)
            if value is not None:
                fields[name] = value
        if self.details:
            fields["details"] = self.details
        return SecurityEvent(
            ts=self.ts,
            source="sensor",
            kind="ot.transaction",
            enterprise_id=enterprise_id,
            observer=observer,
            protocol=self.protocol,
            action=self.function_name,
            outcome={"ok": "success", "exception": "failure"}.get(self.status, "unknown"),
            src_ip=self.src_ip,
            src_port=self.src_port,
            dst_ip=self.dst_ip,
            dst_port=self.dst_port,
            src_mac=self.src_mac,
            dst_mac=self.dst_mac,
            fields=fields,
        )
