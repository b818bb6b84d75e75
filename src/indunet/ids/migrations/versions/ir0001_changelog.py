"""The durable change log of identifier records and the state of disaster-recovery copies.

Revision ID: ir0001
"""

import sqlalchemy as sa
from alembic import op

revision = "ir0001"
down_revision = None
branch_labels = ("ids_changelog",)
depends_on = ("i0001",)


def upgrade() -> None:
    op.create_table(
        "ids_changelog",
        sa.Column("node", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hkey", sa.String(400), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_ids_changelog_at", "ids_changelog", ["at"])
    op.create_table(
        "ids_changelog_heads",
        sa.Column("node", sa.String(64), primary_key=True),
        sa.Column("last", sa.BigInteger, nullable=False),
        sa.Column("pruned", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ids_replicas",
        sa.Column("node", sa.String(64), primary_key=True),
        sa.Column("primary_url", sa.String(500), nullable=False),
        sa.Column("applied", sa.BigInteger, nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("ids_replicas")
    op.drop_table("ids_changelog_heads")
    op.drop_table("ids_changelog")
