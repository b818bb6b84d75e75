"""The backbone's descriptor: the connection as a service, its metrics (lag per consumer)."""

from indunet.core.plugins import Subsystem

SUBSYSTEM = Subsystem(
    name="bus",
    summary="the NATS JetStream backbone between api, connector and worker processes",
    services="indunet.web.backbone:from_state",
    metrics="indunet.web.backbone:metric_lines",
    role="platform",
)
