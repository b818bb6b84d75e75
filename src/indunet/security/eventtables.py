"""The security event store's table (SQLAlchemy Core), created by migration se001.

One row per ``SecurityEvent``; ``seq`` is the order rows were written (the row cap prunes
the lowest first), ``search`` the lower-cased text a free-text search looks in (message,
action, user, observer, kind, protocol), ``ts`` seconds since the epoch (UTC).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from .events import RawFields

metadata = sa.MetaData()


class FieldsJSON(sa.types.TypeDecorator[Any]):
    """The ``fields`` column: JSON, as ``sa.JSON`` writes and reads it, except that details
    still held as their source's JSON text (``RawFields``) are written as that text, never
    decoded and encoded again."""

    impl = sa.JSON
    cache_ok = True

    def bind_processor(self, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
        inner = self.impl_instance.bind_processor(dialect)

        def process(value: Any) -> Any:
            if type(value) is RawFields:
                return value.json_text()
            return inner(value) if inner is not None else value

        return process


security_events = sa.Table(
    "security_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(100), nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("enterprise_id", sa.Integer, nullable=True),  # None: the installation's own
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("observer", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(200), nullable=False),
    sa.Column("protocol", sa.String(200), nullable=True),
    sa.Column("action", sa.String(200), nullable=True),
    sa.Column("outcome", sa.String(8), nullable=False),
    sa.Column("src_ip", sa.String(45), nullable=True),
    sa.Column("src_port", sa.Integer, nullable=True),
    sa.Column("dst_ip", sa.String(45), nullable=True),
    sa.Column("dst_port", sa.Integer, nullable=True),
    sa.Column("src_mac", sa.String(17), nullable=True),
    sa.Column("dst_mac", sa.String(17), nullable=True),
    sa.Column("user", sa.String(200), nullable=True),
    sa.Column("severity", sa.SmallInteger, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("fields", FieldsJSON, nullable=False),
    sa.Column("search", sa.String(600), nullable=False),
)

sa.Index("ux_security_events_id", security_events.c.id, unique=True)
sa.Index("ix_security_events_ts", security_events.c.ts)
sa.Index("ix_security_events_enterprise", security_events.c.enterprise_id, security_events.c.ts)
sa.Index("ix_security_events_source", security_events.c.source, security_events.c.ts)
sa.Index("ix_security_events_kind", security_events.c.kind, security_events.c.ts)
sa.Index("ix_security_events_src_ip", security_events.c.src_ip, security_events.c.ts)
sa.Index("ix_security_events_dst_ip", security_events.c.dst_ip, security_events.c.ts)
