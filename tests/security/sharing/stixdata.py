"""Records the sharing tests export: an alert with its events, a vulnerability match."""

from __future__ import annotations

from dataclasses import dataclass

from indunet.security.alerts import Alert
from indunet.security.events import SecurityEvent
from indunet.security.sharing import Producer

PRODUCER = Producer("enterprise:1", "甲厂 Plant A", 1_760_000_000.0)


def event(i: int, **extra: object) -> SecurityEvent:
    fields: dict[str, object] = {
        "ts": 1_765_000_000.25 + i,
        "source": "sensor",
        "kind": "ot.transaction",
        "protocol": "modbus",
        "action": "write_single_coil",
        "src_ip": "203.0.113.5",
        "src_port": 40_000 + i,
        "dst_ip": "192.168.1.10",
        "dst_port": 502,
        "src_mac": "AA-BB-CC-00-11-22",
        "dst_mac": "aa:bb:cc:00:11:33",
        "enterprise_id": 1,
        "id": f"ev-{i}",
    }
    fields.update(extra)
    return SecurityEvent(**fields)  # type: ignore[arg-type]


def alert(n: int = 1, **extra: object) -> Alert:
    fields: dict[str, object] = {
        "ts": 1_765_000_010.0 + n,
        "rule": "ot.unauthorised_write",
        "rule_version": 2,
        "level": 12,
        "title": "Unauthorised coil write",
        "enterprise_id": 1,
        "techniques": ("T0855", "T0836"),
        "src_ip": "203.0.113.5",
        "dst_ip": "192.168.1.10",
        "events": (event(1), event(2)),
        "count": 7,
        "id": f"alert-{n}",
    }
    fields.update(extra)
    return Alert(**fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Match:
    key: str = "m-1"
    cve: str = "CVE-2024-6242"
    description: str = "ControlLogix trusted-slot bypass"
    published: float = 1_722_000_000.0
    ip: str | None = "192.168.1.10"
    first_seen: float = 1_765_000_000.0
    last_seen: float = 1_765_003_600.0
