"""Telemetry tables in the main database: dead letters and per-enterprise retention."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

dead_letters = sa.Table(
    "tel_dead_letters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("device", sa.String(200), nullable=True),
    sa.Column("point", sa.String(200), nullable=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("detail", sa.String(500), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("enterprise_id", sa.Integer, nullable=True),  # the device's, when registered
    sa.Column("why", sa.String(48), nullable=True),  # the detail's stable name (tx0002)
    sa.Column("params", sa.JSON, nullable=True),  # its parameters, each a string
)

retention = sa.Table(
    "tel_retention",
    metadata,
    sa.Column("enterprise_id", sa.Integer, primary_key=True),
    sa.Column("days", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
