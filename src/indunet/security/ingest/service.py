"""The ingest part of the security service: its sources (tailed files and globs, syslog
listeners, the HTTP log endpoint, the CLI, the platform's own events), their counters, and
the event store subscribed to the hub.

Configured from the environment (docs/security/ingest.md), every source off unless named:

- ``INDUNET_SECURITY_TAIL``: ``format:path`` entries separated by ``;`` — a path with ``*``,
  ``?`` or ``[`` is a glob whose new files are picked up (``zeek:/opt/zeek/logs/current/*.log;
  eve:/var/log/suricata/eve.json``); ``INDUNET_SECURITY_TAIL_RATE`` events/s per source
  (default 0: as fast as the hub takes them).
- ``INDUNET_SECURITY_SYSLOG_UDP`` / ``INDUNET_SECURITY_SYSLOG_TCP``: ``host:port`` to listen
  on (e.g. ``0.0.0.0:5514``); ``INDUNET_SECURITY_SYSLOG_RATE`` messages/s per peer (default
  1000), ``INDUNET_SECURITY_SYSLOG_CONNECTIONS`` (default 64), ``INDUNET_SECURITY_SYSLOG_ZONE``
  (an IANA zone for RFC 3164 times; default UTC).
- ``INDUNET_SECURITY_EVENT_DAYS`` / ``INDUNET_SECURITY_EVENT_ROWS``: the store's retention.
- ``INDUNET_SECURITY_AUDIT_EVENTS``: ``off`` stops following the audit log (the platform's
  own events: failed logins, command writes, changes); on by default.
- ``INDUNET_SECURITY_PLATFORM_SIGNALS``: ``off`` stops taking the platform's signals from the
  event bus (identifier resolutions, refused device credentials, unknown devices:
  ``ingest.signals``); on by default.

Every source here is the installation's own (``enterprise_id`` None); events posted over HTTP
by an enterprise are that enterprise's, and its source is listed as its own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from indunet.core.plugins import Service

from ..eventstore import EventStore, store_from_env
from ..hub import Hub
from .common import FORMATS
from .gate import Gate, SourceStats
from .listeners import PEER_RATE, TcpSyslog, UdpSyslog
from .offsets import OffsetBook
from .platform import AuditFollower
from .signals import TYPES, PlatformSignals, registry_enterprises
from .tail import DirectoryTail, FileTail

log = logging.getLogger(__name__)
MAX_SOURCES = 1_000
"""Sources counted at most (HTTP sources are one per enterprise)."""


class Ingest:
    """The sources feeding the hub, and their counters by name."""

    def __init__(self, hub: Hub, book: OffsetBook | None = None) -> None:
        self.hub = hub
        self.book = book if book is not None else OffsetBook(None)
        self.sources: dict[str, SourceStats] = {}
        self.gates: dict[str, Gate] = {}
        self.parts: list[tuple[str, Service]] = []

    def source(
        self, name: str, kind: str, fmt: str, enterprise_id: int | None = None
    ) -> SourceStats:
        """The counters of source ``name`` (made on first use)."""
        stats = self.sources.get(name)
        if stats is None:
            if len(self.sources) >= MAX_SOURCES:
                name = "other"
                stats = self.sources.get(name)
            if stats is None:
                stats = self.sources[name] = SourceStats(name, kind, fmt, enterprise_id)
        return stats

    def gate(self, name: str, kind: str, fmt: str, enterprise_id: int | None = None) -> Gate:
        """The duplicate window (and counters) of source ``name``."""
        stats = self.source(name, kind, fmt, enterprise_id)
        gate = self.gates.get(stats.name)
        if gate is None:
            gate = self.gates[stats.name] = Gate(stats)
        return gate

    def tail(self, fmt: str, path: str, rate: float | None = None) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"{fmt!r} is not one of {', '.join(FORMATS)}")
        is_glob = any(c in path for c in "*?[")
        stats = self.source(path, "directory" if is_glob else "file", fmt)
        gate = Gate(stats, rate=rate)
        part: Service
        if is_glob:
            part = DirectoryTail(path, fmt, self.hub, stats, self.book, gate=gate)
        else:
            part = FileTail(path, fmt, self.hub, stats, self.book, gate=gate)
        self.parts.append((path, part))

    def syslog(
        self,
        protocol: str,
        address: str,
        *,
        rate: float = PEER_RATE,
        zone: tzinfo = UTC,
        max_connections: int = 64,
    ) -> None:
        name = f"syslog {protocol} {address}"
        stats = self.source(name, protocol, "syslog")
        part: Service
        if protocol == "udp":
            part = UdpSyslog(address, self.hub, stats, rate=rate, zone=zone)
        else:
            part = TcpSyslog(
                address, self.hub, stats, rate=rate, zone=zone, max_connections=max_connections
            )
        self.parts.append((name, part))

    async def start(self) -> None:
        for name, part in self.parts:
            try:
                await part.start()
            except OSError as exc:  # a port taken, a file unreadable: the others go on
                log.error("security ingest source %s did not start: %s", name, exc)
                if name in self.sources:
                    self.sources[name].last_error = f"did not start: {exc}"[:300]

    async def stop(self) -> None:
        for name, part in reversed(self.parts):
            try:
                await part.stop()
            except Exception:
                log.exception("security ingest source %s did not stop cleanly", name)
        self.book.save()

    def visible(self, enterprise_id: int | None, sees_all: bool) -> list[SourceStats]:
        """The sources a caller sees: overseers all, an enterprise its own."""
        return [
            s
            for s in sorted(self.sources.values(), key=lambda s: s.name)
            if sees_all or (s.enterprise_id is not None and s.enterprise_id == enterprise_id)
        ]


def configure(ingest: Ingest, env: Mapping[str, str]) -> None:
    """Add the sources ``env`` names; ``ValueError`` naming a setting that does not read."""
    rate = float(env.get("INDUNET_SECURITY_TAIL_RATE") or 0) or None
    for entry in (env.get("INDUNET_SECURITY_TAIL") or "").split(";"):
        entry = entry.strip()
        if not entry:
            continue
        fmt, sep, path = entry.partition(":")
        if not sep or fmt not in FORMATS or not path:
            raise ValueError(
                f"INDUNET_SECURITY_TAIL entry {entry!r}: format:path, format one of "
                f"{', '.join(FORMATS)}"
            )
        ingest.tail(fmt, path, rate)
    zone_name = env.get("INDUNET_SECURITY_SYSLOG_ZONE") or "UTC"
    zone: tzinfo = UTC if zone_name == "UTC" else ZoneInfo(zone_name)
    peer_rate = float(env.get("INDUNET_SECURITY_SYSLOG_RATE") or PEER_RATE)
    connections = int(env.get("INDUNET_SECURITY_SYSLOG_CONNECTIONS") or 64)
    for protocol in ("udp", "tcp"):
        address = env.get(f"INDUNET_SECURITY_SYSLOG_{protocol.upper()}")
        if address:
            ingest.syslog(protocol, address, rate=peer_rate, zone=zone, max_connections=connections)


def install(security: Any, state: Any, env: Mapping[str, str] | None = None) -> None:
    """Add the event store (a hub subscriber) and the ingest sources to ``security``."""
    env = os.environ if env is None else env
    store: EventStore = store_from_env(security.engine, env)
    security.hub.subscribe("event-store", store.handle)
    security.add("event-store", store)
    data_dir = getattr(getattr(state, "settings", None), "data_dir", None)
    book = OffsetBook(Path(data_dir) / "security" / "tail-offsets.json" if data_dir else None)
    ingest = Ingest(security.hub, book)
    configure(ingest, env)
    if (env.get("INDUNET_SECURITY_AUDIT_EVENTS") or "on") != "off":
        stats = ingest.source("platform audit", "platform", "audit")
        ingest.parts.append(("platform audit", AuditFollower(security.engine, security.hub, stats)))
    bus = getattr(state, "bus_once", None)  # each signal handled once per installation
    if bus is not None and (env.get("INDUNET_SECURITY_PLATFORM_SIGNALS") or "on") != "off":
        sources = {t: ingest.source(f"platform {t}", "platform", "bus") for t in TYPES}
        registry = getattr(getattr(state, "services", {}).get("platform"), "devices", None)
        enterprises = registry_enterprises(registry) if registry is not None else None
        signals = PlatformSignals(bus, security.hub, sources, enterprises)
        ingest.parts.append(("platform signals", signals))
    security.add("ingest", ingest)


def metric_lines(security: Any) -> list[str]:
    """Prometheus lines: each source's counters, the store's."""
    ingest = security.part("ingest")
    store = security.part("event-store")
    lines: list[str] = []
    if isinstance(ingest, Ingest) and ingest.sources:
        lines += [
            "# HELP indunet_security_source_total Lines and events of each ingest source.",
            "# TYPE indunet_security_source_total counter",
        ]
        for s in sorted(ingest.sources.values(), key=lambda s: s.name):
            label = s.name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
            for what in (
                "read",
                "parsed",
                "bad",
                "overlong",
                "duplicates",
                "rate_limited",
                "dropped",
                "submitted",
                "refused",
            ):
                lines.append(
                    f'indunet_security_source_total{{source="{label}",kind="{s.kind}",'
                    f'result="{what}"}} {getattr(s, what)}'
                )
    if isinstance(store, EventStore):
        st = store.stats
        lines += [
            "# HELP indunet_security_stored_total Security events written and pruned.",
            "# TYPE indunet_security_stored_total counter",
            f'indunet_security_stored_total{{result="written"}} {st.written}',
            f'indunet_security_stored_total{{result="already"}} {st.already}',
            f'indunet_security_stored_total{{result="pruned_age"}} {st.pruned_age}',
            f'indunet_security_stored_total{{result="pruned_rows"}} {st.pruned_rows}',
            f'indunet_security_stored_total{{result="error"}} {st.errors}',
        ]
    return lines
