"""Crafted events and a ready engine for the detection tests."""

from __future__ import annotations

from typing import Any

from indunet.security import SecurityEvent
from indunet.security.detect import Context, Engine, MemorySink, builtin_files, load_ruleset
from indunet.security.detect.conditions import NamedList

T0 = 1_800_000_000.0
_n = 0


def ev(kind: str = "ot.transaction", ts: float = 0.0, **kw: Any) -> SecurityEvent:
    global _n
    _n += 1
    fields = kw.pop("fields", {})
    kw.setdefault("enterprise_id", 1)
    kw.setdefault("source", "sensor")
    return SecurityEvent(ts=T0 + ts, kind=kind, fields=fields, id=f"ev{_n}", **kw)


def tx(
    protocol: str,
    action: str,
    function: int,
    *,
    ts: float = 0.0,
    src: str = "10.0.0.9",
    dst: str = "10.0.1.2",
    write: bool = False,
    port: int = 502,
    **extra: Any,
) -> SecurityEvent:
    fields = {"function": function, "write": write, **extra}
    return ev(
        ts=ts,
        protocol=protocol,
        action=action,
        src_ip=src,
        dst_ip=dst,
        src_port=40000,
        dst_port=port,
        fields=fields,
    )


def engine(context: Context | None = None, **kw: Any) -> tuple[Engine, MemorySink]:
    sink = MemorySink()
    return Engine(load_ruleset(builtin_files()), sink, context, **kw), sink


def lists(**named: list[Any]) -> dict[str, NamedList]:
    return {k: NamedList.of(v) for k, v in named.items()}


def fired(alerts: Any) -> list[str]:
    return [a.rule for a in alerts]
