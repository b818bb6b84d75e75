"""Finding devices by a piece of their id or name, for pickers (the telemetry explorer).

A picker shows a few matches, never the whole fleet: ``find`` reads at most ``limit`` rows,
sorted by id, of one enterprise (or of every enterprise for an overseer's ``None``).
"""

from __future__ import annotations

import sqlalchemy as sa

from indunet.devices.tables import devices as table

MAX_FOUND = 50
"""The most devices one search returns."""


def find(
    engine: sa.Engine, like: str, enterprise_id: int | None, *, limit: int = 20
) -> list[tuple[str, str]]:
    """(id, name) of devices whose id or name matches the ``LIKE`` pattern ``like`` (escaped
    with ``\\``), of ``enterprise_id`` unless None, sorted by id."""
    c = table.c
    query = sa.select(c.id, c.name).order_by(c.id).limit(max(1, min(limit, MAX_FOUND)))
    if enterprise_id is not None:
        query = query.where(c.enterprise_id == enterprise_id)
    if like not in ("", "%%"):
        query = query.where(sa.or_(c.id.like(like, escape="\\"), c.name.like(like, escape="\\")))
    with engine.connect() as conn:
        return [(str(i), str(n)) for i, n in conn.execute(query)]
