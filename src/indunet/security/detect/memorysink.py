"""An ``AlertSink`` kept in memory: for tests, and the service's fallback when no alert store
runs (each alert is also logged, so none passes unseen)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence

from indunet.security.alerts import Alert

log = logging.getLogger(__name__)


class MemorySink:
    """The last ``keep`` alerts, newest last; ``total`` counts every alert raised."""

    def __init__(self, keep: int = 10_000, log_alerts: bool = False) -> None:
        self.alerts: deque[Alert] = deque(maxlen=keep)
        self.total = 0
        self.log_alerts = log_alerts

    async def raise_alerts(self, alerts: Sequence[Alert]) -> None:
        self.alerts.extend(alerts)
        self.total += len(alerts)
        if self.log_alerts:
            for a in alerts:
                log.warning(
                    "security alert %s (level %d, %s) %s -> %s",
                    a.rule,
                    a.level,
                    ",".join(a.techniques),
                    a.src_ip,
                    a.dst_ip,
                )
