"""The device registry's counts for the federation's status report (``Federation.indicator``,
wired by ``web.indicators``): one SQL aggregate over ``dev_devices``, no row read.

- ``registered``: devices registered (every enterprise's);
- ``online``: of those, online at the registry's last status flush (``flush_status``, every
  few seconds), so a report may lag a change by that much.
"""

from __future__ import annotations

import sqlalchemy as sa

from indunet.devices.tables import devices


def counts(conn: sa.Connection) -> dict[str, int]:
    """Devices registered and online now."""
    online = sa.func.coalesce(sa.func.sum(sa.case((devices.c.status == "online", 1), else_=0)), 0)
    registered, up = conn.execute(sa.select(sa.func.count(), online)).one()
    return {"registered": int(registered), "online": int(up)}
