"""The backbone of the scaled mode as a service of the app, and its metrics.

With ``INDUNET_BUS_URL`` set, every process (api, connector, worker, or all three in one)
keeps one ``bus.Backbone``; the platform's wiring (``web.platform``) takes it from here to
publish the ingest pipeline's batches (``bus.BusWriter``) or to store them
(``bus.BusWorker``). Without it, this service does not exist and nothing changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from indunet.bus import Backbone, NatsEventBus
from indunet.core.plugins import Service

if TYPE_CHECKING:
    from indunet.web.state import AppState

log = logging.getLogger(__name__)


@dataclass
class BackboneService:
    """The process's connection to NATS, started before the platform and stopped after it,
    with ``parts`` that live on it (the event buses, cache invalidation: ``AppState``)."""

    backbone: Backbone
    parts: list[Service] = field(default_factory=list)

    async def start(self) -> None:
        """Begin connecting (the platform's parts wait for it or buffer meanwhile)."""
        await self.backbone.start()
        for part in self.parts:
            await part.start()

    async def stop(self) -> None:
        """Stop the parts, then drain and close the connection."""
        for part in reversed(self.parts):
            try:
                await part.stop()
            except Exception:
                log.exception("stopping %s failed; closing the backbone", type(part).__name__)
        await self.backbone.close()


def from_state(state: AppState) -> BackboneService | None:
    """The backbone service when ``INDUNET_BUS_URL`` is set (the bus descriptor's factory):
    the backbone ``build_state`` made, or a new one."""
    s = state.settings
    if not s.bus_url:
        return None
    backbone = state.backbone or Backbone.from_settings(s, s.role)
    return BackboneService(backbone, state.backbone_parts)


def backbone_of(state: AppState) -> Backbone | None:
    """This process's backbone, if it has one."""
    svc = state.services.get("bus")
    return svc.backbone if isinstance(svc, BackboneService) else None


def metric_lines(state: AppState) -> list[str]:
    """The backbone's connection, what this process published and consumed, and lag."""
    backbone = backbone_of(state)
    if backbone is None:
        return []
    out = [
        "# HELP indunet_bus_connected Whether this process is connected to the NATS backbone.",
        "# TYPE indunet_bus_connected gauge",
        f"indunet_bus_connected {int(backbone.connected)}",
        "# HELP indunet_bus_reconnects_total Reconnections to NATS since start.",
        "# TYPE indunet_bus_reconnects_total counter",
        f"indunet_bus_reconnects_total {backbone.reconnects}",
    ]
    out += _crossing_lines(state)
    platform = state.platform
    writer = platform.writer if platform is not None else None
    if writer is not None:
        p = writer.stats
        out += [
            "# HELP indunet_bus_published_total Envelopes and samples JetStream acknowledged.",
            "# TYPE indunet_bus_published_total counter",
            f'indunet_bus_published_total{{unit="envelopes"}} {p.batches}',
            f'indunet_bus_published_total{{unit="samples"}} {p.samples}',
            "# HELP indunet_bus_publish_failures_total Envelopes JetStream did not acknowledge.",
            "# TYPE indunet_bus_publish_failures_total counter",
            f"indunet_bus_publish_failures_total {p.failures}",
        ]
    worker = platform.worker if platform is not None else None
    if worker is not None:
        w = worker.stats
        out += [
            "# HELP indunet_bus_consumed_total Envelopes a worker handled, by outcome.",
            "# TYPE indunet_bus_consumed_total counter",
            f'indunet_bus_consumed_total{{outcome="stored"}} {w.acked}',
            f'indunet_bus_consumed_total{{outcome="retried"}} {w.retried}',
            f'indunet_bus_consumed_total{{outcome="undecodable"}} {w.undecodable}',
            f'indunet_bus_consumed_total{{outcome="poison"}} {w.poison}',
            "# HELP indunet_bus_consumer_lag Envelopes not yet acknowledged, per partition.",
            "# TYPE indunet_bus_consumer_lag gauge",
        ]
        for partition, lag in sorted(w.lag.items()):
            out.append(
                f'indunet_bus_consumer_lag{{partition="{partition}",state="pending"}} {lag.pending}'
            )
            out.append(
                f'indunet_bus_consumer_lag{{partition="{partition}",state="unacknowledged"}} '
                f"{lag.ack_pending}"
            )
    return out


def _crossing_lines(state: AppState) -> list[str]:
    """Events, commands and invalidations between processes (``bus.events``, ``bus.commands``,
    ``bus.invalidation``)."""
    out: list[str] = []
    buses = [b for b in (state.bus, state.single_bus) if isinstance(b, NatsEventBus)]
    if buses:
        out += [
            "# HELP indunet_bus_events_total Events on the backbone by outcome, per bus"
            " (every: each process's feeds; once: the lead's durable consumer).",
            "# TYPE indunet_bus_events_total counter",
        ]
        for b in buses:
            kind = "every" if b.durable is None else "once"
            for outcome, n in (
                ("published", b.published),
                ("held", b.held),
                ("dropped", b.dropped),
                ("delivered", b.delivered),
                ("handler_error", b.errors),
                ("undecodable", b.undecodable),
            ):
                out.append(f'indunet_bus_events_total{{bus="{kind}",outcome="{outcome}"}} {n}')
    platform = state.platform
    server = platform.command_server if platform is not None else None
    if server is not None:
        out += [
            "# HELP indunet_bus_commands_total Commands from other processes, by outcome.",
            "# TYPE indunet_bus_commands_total counter",
            f'indunet_bus_commands_total{{outcome="served"}} {server.served}',
            f'indunet_bus_commands_total{{outcome="failed"}} {server.failed}',
            f'indunet_bus_commands_total{{outcome="refused"}} {server.refused}',
        ]
    inval = state.invalidation
    if inval is not None:
        out += [
            "# HELP indunet_bus_invalidations_total Cache invalidation messages, by outcome.",
            "# TYPE indunet_bus_invalidations_total counter",
            f'indunet_bus_invalidations_total{{outcome="sent"}} {inval.sent}',
            f'indunet_bus_invalidations_total{{outcome="failed"}} {inval.failures}',
            f'indunet_bus_invalidations_total{{outcome="received"}} {inval.received}',
            f'indunet_bus_invalidations_total{{outcome="ignored"}} {inval.ignored}',
        ]
    return out
