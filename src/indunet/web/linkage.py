"""Wiring between sibling subsystems that may not import each other (``[tool.importlinter]``):
the security subsystem's alerts flowing up the federation (国家—省—企业三级联动).

- ``alerts_up``: the alert store's in-transaction hook queues each new alert's summary to
  the parent instance (``Federation.send_up``, kind ``security.alert``), so a summary exists
  exactly when its alert does; and this instance keeps and relays its children's summaries
  (``Federation.relay_up`` with ``federation.alerts.apply``).

What a summary holds is the security subsystem's (``security.cases.alert_summary``); what a
parent keeps, the federation's (``federation.alerts``). Only the joining lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from indunet.federation import Federation
from indunet.federation import alerts as relayed
from indunet.security import Security
from indunet.security.cases import AlertStore, alert_summary
from indunet.web.state import AppState


def alerts_up(state: AppState) -> None:
    """Wire the alert store to the federation, when this process runs both."""
    fed = state.services.get("federation")
    if not isinstance(fed, Federation):
        return
    fed.relay_up(relayed.KIND, relayed.apply)
    security = state.services.get("security")
    store = security.part("alerts") if isinstance(security, Security) else None
    if not isinstance(store, AlertStore):
        return

    def send_up(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            fed.send_up(conn, relayed.KIND, alert_summary(row))

    store.on_commit = send_up


def wire(state: AppState) -> None:
    """Every link between sibling subsystems (after their services are built)."""
    alerts_up(state)
