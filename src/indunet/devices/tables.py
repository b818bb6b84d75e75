"""Device tables (filled by the devices migrations): Thing Model versions, devices, their
status history and its newest row per device (kept by triggers, d0003)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

models = sa.Table(
    "dev_models",
    metadata,
    sa.Column("model_id", sa.String(100), primary_key=True),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("enterprise_id", sa.Integer, nullable=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

devices = sa.Table(
    "dev_devices",
    metadata,
    sa.Column("id", sa.String(63), primary_key=True),
    sa.Column("enterprise_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("model_id", sa.String(100), nullable=False),
    sa.Column("model_version", sa.String(32), nullable=False),
    sa.Column("protocol", sa.String(16), nullable=False),
    sa.Column("connection", sa.JSON, nullable=False),
    sa.Column("location", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("manufacturer", sa.String(200), nullable=False),
    sa.Column("serial", sa.String(200), nullable=False),
    sa.Column("identifier", sa.String(400), nullable=False),
    sa.Column("secret_digest", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("last_seen", sa.Float, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

purges = sa.Table(
    "dev_purges",
    metadata,
    sa.Column("device_id", sa.String(63), primary_key=True),
    sa.Column("enterprise_id", sa.Integer, nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
)

status_history = sa.Table(
    "dev_status_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("device_id", sa.String(63), nullable=False),
    sa.Column("enterprise_id", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    # +1 turned the device online, -1 turned it offline, 0 changed nothing (kept by triggers)
    sa.Column("delta", sa.SmallInteger, nullable=False, server_default="0"),
)

status_latest = sa.Table(
    "dev_status_latest",
    metadata,
    sa.Column("device_id", sa.String(63), primary_key=True),
    sa.Column("enterprise_id", sa.Integer, primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("row_id", sa.Integer, nullable=False),  # the dev_status_history row (d0003)
)
