"""The security subsystem's running service: the hub and the parts that feed it or listen
to it, started in order and stopped in reverse.

Parts are added by ``from_state`` as the subsystem grows (the detection engine, passive asset
discovery, the alert store, listeners for syslog and tailed logs, the TAXII puller…); each is
a ``core.plugins.Service`` and reaches the others only through the hub or its own public API.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import sqlalchemy as sa

from indunet.core.plugins import Service

from .hub import Hub

log = logging.getLogger(__name__)


class Security:
    """The hub and the parts around it."""

    def __init__(self, engine: sa.Engine, hub: Hub | None = None) -> None:
        self.engine = engine
        self.hub = hub if hub is not None else Hub()
        self.parts: list[tuple[str, Service]] = []

    def add(self, name: str, part: Service) -> None:
        """Run ``part`` with the service (started after the hub, stopped before it)."""
        self.parts.append((name, part))

    def part(self, name: str) -> Any:
        """The part added as ``name`` (None when this process runs none)."""
        return next((p for n, p in self.parts if n == name), None)

    async def start(self) -> None:
        await self.hub.start()
        for _, part in self.parts:
            await part.start()

    async def stop(self) -> None:
        for name, part in reversed(self.parts):
            try:
                await part.stop()
            except Exception:
                log.exception("security part %s did not stop cleanly", name)
        with contextlib.suppress(Exception):
            await self.hub.stop()


def from_state(state: Any) -> Security:
    """The descriptor's service factory."""
    svc = Security(state.engine)
    from .ingest.service import install  # the event store and ingest sources

    install(svc, state)
    return svc


def metric_lines(state: Any) -> list[str]:
    """Prometheus lines: the hub's counters."""
    svc = state.services.get("security")
    if not isinstance(svc, Security):
        return []
    s = svc.hub.stats
    lines = [
        "# HELP indunet_security_events_total Security events by what became of them.",
        "# TYPE indunet_security_events_total counter",
        f'indunet_security_events_total{{result="accepted"}} {s.accepted}',
        f'indunet_security_events_total{{result="duplicate"}} {s.duplicates}',
        f'indunet_security_events_total{{result="dropped"}} {s.dropped}',
        f'indunet_security_events_total{{result="handled"}} {s.handled}',
        "# HELP indunet_security_queued Security events waiting for the subscribers.",
        "# TYPE indunet_security_queued gauge",
        f"indunet_security_queued {svc.hub.queued}",
    ]
    for name, n in sorted(s.handler_errors.items()):
        lines.append(f'indunet_security_subscriber_errors_total{{subscriber="{name}"}} {n}')
    from .ingest.service import metric_lines as ingest_lines

    return lines + ingest_lines(svc)
