"""Dashboards and wall displays: tel_dashboards (a layout of widgets per enterprise) and
tel_display_tokens (read-only credentials of the wall display, kept as SHA-256 digests).

Revision ID: b0001
"""

import sqlalchemy as sa
from alembic import op

revision = "b0001"
down_revision = None
branch_labels = ("dashboards",)
depends_on = ("t0001",)


def upgrade() -> None:
    op.create_table(
        "tel_dashboards",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "enterprise_id", sa.Integer, sa.ForeignKey("core_enterprises.id"), nullable=False
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("layout", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_tel_dashboards_enterprise", "tel_dashboards", ["enterprise_id", "name"])
    op.create_index("ix_tel_dashboards_name", "tel_dashboards", ["name"])
    op.create_table(
        "tel_display_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("enterprise_id", sa.Integer, sa.ForeignKey("core_enterprises.id"), nullable=True),
        sa.Column("region", sa.String(100), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_tel_display_tokens_enterprise", "tel_display_tokens", ["enterprise_id", "id"]
    )


def downgrade() -> None:
    op.drop_table("tel_display_tokens")
    op.drop_table("tel_dashboards")
