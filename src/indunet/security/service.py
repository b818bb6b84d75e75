"""The security subsystem's running service: the hub and the parts that feed it or listen
to it, started in order and stopped in reverse.

Parts are added by ``from_state`` as the subsystem grows (the detection engine, passive asset
discovery, the alert store, listeners for syslog and tailed logs, the TAXII puller…); each is
a ``core.plugins.Service`` and reaches the others only through the hub or its own public API.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from indunet.core.plugins import Service

from .hub import Hub
from .situation import SituationMemo

log = logging.getLogger(__name__)


class Security:
    """The hub and the parts around it."""

    def __init__(self, engine: sa.Engine, hub: Hub | None = None) -> None:
        self.engine = engine
        self.hub = hub if hub is not None else Hub()
        self.parts: list[tuple[str, Service]] = []
        self.situations = SituationMemo(engine)  # the situation pages' (10 s)

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
    """The descriptor's service factory: the hub and every part, in start order (stores
    before the parts that feed them; the sensor last, once everything it feeds runs)."""
    from .assets.service import inventory_from_state
    from .cases import AlertStore
    from .detect.part import Detection
    from .ingest.service import install as install_ingest
    from .linking import AssetLinking
    from .rematch import Rematcher, lister
    from .setpoints import ModelRanges
    from .sharing.puller import Puller
    from .vulns.service import from_env as vulns_from_env

    svc = Security(state.engine)
    evidence = Path(state.settings.data_dir) / "security" / "evidence"
    alerts = AlertStore(state.engine, state.bus, evidence_dir=evidence)
    svc.add("alerts", alerts)
    inventory = inventory_from_state(state, svc.hub)
    svc.add("assets", inventory)
    linked = AssetLinking(inventory.store, alerts)  # alerts name the assets they concern
    vulns = vulns_from_env(state.engine)
    vulns.matching.list_assets = lister(inventory.store)
    svc.add("vulns", vulns)
    svc.add("rematch", Rematcher(inventory.store, vulns.matching))
    # detection: alerts go to the part named "alerts" (the alert store); register writes are
    # checked against the device models' ranges when the platform runs here
    registry = getattr(state.services.get("platform"), "devices", None)
    ranges = ModelRanges(registry) if registry is not None else None
    if ranges is not None:
        svc.add("setpoints", ranges)
    check = ranges.outside if ranges is not None else None
    svc.add("detection", Detection(state.engine, svc.hub, lambda: linked, point_check=check))
    # TAXII feeds are pulled by one process of the installation: the one that leads
    # (``web.platform.Role.leads``; every process in the embedded mode)
    role = getattr(getattr(state, "platform", None), "role", None)
    if getattr(role, "leads", True):
        svc.add("sharing", Puller(state.engine))
    install_ingest(svc, state)  # the event store, then the log sources that feed the hub
    settings = state.settings
    if settings.sensor_iface or settings.sensor_follow:
        from .sensor.run import from_settings

        svc.add("sensor", from_settings(settings, svc.hub))
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

    lines += ingest_lines(svc)
    sensor = svc.part("sensor")
    if sensor is not None:
        from .sensor.run import metric_lines as sensor_lines

        lines += sensor_lines(sensor)
    from .assets.service import Inventory

    inv = svc.part("assets")
    if isinstance(inv, Inventory):
        d = inv.discovery.stats
        lines += [
            "# HELP indunet_security_assets_discovery_total Passive asset discovery: hosts "
            "written, assets made, failed writes.",
            "# TYPE indunet_security_assets_discovery_total counter",
            f'indunet_security_assets_discovery_total{{what="hosts_written"}} {d.hosts_written}',
            f'indunet_security_assets_discovery_total{{what="new_assets"}} {d.new_assets}',
            f'indunet_security_assets_discovery_total{{what="flush_failures"}} {d.flush_failures}',
        ]
    return lines
