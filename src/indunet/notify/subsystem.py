"""Notify's descriptor: channels, subscription rules, the dispatcher and its console pages."""

from pathlib import Path

from indunet.core.plugins import Subsystem

SUBSYSTEM = Subsystem(
    name="notify",
    summary="notifications: email, signed webhooks and group bots, subscription rules, delivery log",
    migrations=Path(__file__).parent / "migrations" / "versions",
    tables=("indunet.notify.tables",),
    api=("indunet.web.api.notify:router",),
    console=("indunet.web.console.notifications:router",),
    services="indunet.notify.dispatcher:from_state",
    metrics="indunet.notify.dispatcher:metric_lines",
    role="platform",
)
