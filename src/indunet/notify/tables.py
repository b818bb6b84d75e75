"""Tables of notifications (SQLAlchemy Core), created by migrations n0001 and n0002: channels, subscription
rules and the delivery log."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

channels = sa.Table(
    "notify_channels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("enterprise_id", sa.Integer, nullable=True),  # None: the platform's own
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("config", sa.JSON, nullable=False),  # what may be shown: URL, host, addresses
    sa.Column("secret", sa.Text, nullable=True),  # sealed (core.sealed), never shown back
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

rules = sa.Table(
    "notify_rules",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("enterprise_id", sa.Integer, nullable=True),
    sa.Column("user_id", sa.Integer, nullable=True),  # a personal subscription, else None
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("channel_id", sa.Integer, nullable=False),
    sa.Column("kinds", sa.JSON, nullable=False),
    sa.Column("devices_mode", sa.String(8), nullable=False),
    sa.Column("devices", sa.JSON, nullable=False),
    sa.Column("min_severity", sa.String(16), nullable=False),
    sa.Column("quiet_start", sa.String(5), nullable=True),
    sa.Column("quiet_end", sa.String(5), nullable=True),
    sa.Column("zone", sa.String(64), nullable=False),
    sa.Column("lang", sa.String(8), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

deliveries = sa.Table(
    "notify_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("enterprise_id", sa.Integer, nullable=True),
    sa.Column("rule_id", sa.Integer, nullable=False),
    sa.Column("channel_id", sa.Integer, nullable=False),
    sa.Column("channel_name", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("device_id", sa.String(63), nullable=True),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("search", sa.String(400), nullable=False),  # lower-cased subject, device, channel
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.String(500), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reason", sa.String(48), nullable=True),  # error.<reason> in the catalogues
    sa.Column("params", sa.JSON, nullable=True),  # its parameters, every value a string
)
