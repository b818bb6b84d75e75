"""The complaints table (``ids.complaints``), migration ``ig0001``."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

complaints = sa.Table(
    "ids_complaints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("reference", sa.String(16), nullable=False, unique=True),
    sa.Column("subject_kind", sa.String(16), nullable=False),
    sa.Column("subject", sa.String(400), nullable=False, server_default=""),
    sa.Column("contact_name", sa.String(100), nullable=False),
    sa.Column("contact_phone", sa.String(32), nullable=False, server_default=""),
    sa.Column("contact_email", sa.String(254), nullable=False, server_default=""),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    sa.Column("handler", sa.String(200), nullable=False, server_default=""),
    sa.Column("reply", sa.Text, nullable=False, server_default=""),
    sa.Index("ix_ids_complaints_state_due", "state", "due_at"),
    sa.Index("ix_ids_complaints_filed", "filed_at"),
)
