"""Prefix governance (issue 11 §6): a term for each allocation and the enterprises'
applications for a prefix or a renewal, each reviewed by an operator.

``ids_prefixes.expires_at`` is the last moment of an allocation's term (``None``: no term,
as for every prefix allocated before this revision). ``ids_prefix_applications`` keeps every
application with its review, never deleted (the record of who asked for what and why it was
granted or refused).

Revision ID: ip0001
"""

import sqlalchemy as sa
from alembic import op

revision = "ip0001"
down_revision = None
branch_labels = ("ids_prefix_applications",)
depends_on = ("io0001",)


def upgrade() -> None:
    op.add_column("ids_prefixes", sa.Column("expires_at", sa.DateTime(timezone=True)))
    op.create_table(
        "ids_prefix_applications",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("prefix", sa.String(128), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("enterprise_id", sa.Integer, nullable=False),
        sa.Column("purpose", sa.String(500), nullable=False, server_default=""),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("applied_by", sa.String(200), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("reviewed_at", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_ids_prefix_applications_state", "ids_prefix_applications", ["state", "id"])
    op.create_index(
        "ix_ids_prefix_applications_enterprise",
        "ids_prefix_applications",
        ["enterprise_id", "id"],
    )
    op.create_index(
        "ix_ids_prefix_applications_prefix", "ids_prefix_applications", ["prefix", "state"]
    )


def downgrade() -> None:
    op.drop_table("ids_prefix_applications")
    op.drop_column("ids_prefixes", "expires_at")
