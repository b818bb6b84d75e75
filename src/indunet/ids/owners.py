"""Which enterprise a prefix belongs to: the nearest allocated prefix at or above it.

Audit entries of changes under a prefix (identifiers, templates, bulk imports, the prefix
itself) carry that enterprise, so its administrators read what anyone did to their things.
"""

from __future__ import annotations

import sqlalchemy as sa

from indunet.ids.syntax import handle as hdl
from indunet.ids.tables import prefixes


def prefix_owner(conn: sa.Connection, prefix: str) -> int | None:
    """The enterprise ``prefix`` (or the nearest allocated prefix above it) is allocated to,
    or ``None`` (the node's own prefixes): the audit entries of changes under it are theirs."""
    parts = hdl.normalise_prefix(prefix).split(".")
    above = [".".join(parts[:n]) for n in range(len(parts), 0, -1)]
    rows = conn.execute(
        sa.select(prefixes.c.prefix, prefixes.c.enterprise_id).where(prefixes.c.prefix.in_(above))
    ).all()
    nearest = max(rows, key=lambda r: len(r.prefix), default=None)
    return int(nearest.enterprise_id) if nearest and nearest.enterprise_id is not None else None


__all__ = ["prefix_owner"]
