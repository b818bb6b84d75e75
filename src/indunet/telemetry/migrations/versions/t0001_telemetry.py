"""Ingest tables: tel_dead_letters (rejected samples and payloads), tel_retention.

Revision ID: t0001
"""

import sqlalchemy as sa
from alembic import op

revision = "t0001"
down_revision = None
branch_labels = ("telemetry",)
depends_on = "c0001"


def upgrade() -> None:
    op.create_table(
        "tel_dead_letters",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device", sa.String(200), nullable=True),
        sa.Column("point", sa.String(200), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ix_tel_dead_letters_device", "tel_dead_letters", ["device", "id"])
    op.create_index("ix_tel_dead_letters_reason", "tel_dead_letters", ["reason"])
    op.create_table(
        "tel_retention",
        sa.Column(
            "enterprise_id", sa.Integer, sa.ForeignKey("core_enterprises.id"), primary_key=True
        ),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tel_retention")
    op.drop_table("tel_dead_letters")
