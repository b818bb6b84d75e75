"""An alert's summary for those outside this installation (a parent instance of the
federation, docs/federation/messages.md ``security.alert``): which rule fired, how severe,
the ATT&CK techniques, the addresses, when it was first and last seen and how many events
matched. No evidence, no asset ids (they mean nothing elsewhere), no enterprise of this
installation.

``AlertsCommitted`` is the alert store's hook for it: called with the connection and the
alerts just written, inside the transaction that writes them, so whatever the hook queues
exists exactly when the alerts do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

AlertsCommitted = Callable[[sa.Connection, Sequence[dict[str, Any]]], None]
"""Called in the alert store's transaction with the rows of the alerts it wrote (raise to
roll the alerts back with it)."""
MAX_TECHNIQUES = 8


def alert_summary(row: dict[str, Any]) -> dict[str, Any]:
    """The summary of a stored alert row (``alertstore``'s shape)."""
    at = row["ts"].timestamp() if isinstance(row["ts"], datetime) else float(row["ts"])
    seen = [at]
    for event in row.get("events") or ():
        ts = event.get("ts") if isinstance(event, dict) else None
        if isinstance(ts, int | float) and not isinstance(ts, bool):
            seen.append(float(ts))
    return {
        "alert": row["id"],
        "rule": row["rule"],
        "title": row["title"],
        "level": row["level"],
        "techniques": list(row["techniques"])[:MAX_TECHNIQUES],
        "src_ip": row["src_ip"],
        "dst_ip": row["dst_ip"],
        "first_seen": min(seen),
        "last_seen": max(seen),
        "count": max(1, int(row["count"])),
    }
