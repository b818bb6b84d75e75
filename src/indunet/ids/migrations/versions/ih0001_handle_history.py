"""History of identifier records: one row per write or delete, with the values before.

Revision ID: ih0001
"""

import sqlalchemy as sa
from alembic import op

revision = "ih0001"
down_revision = None
branch_labels = ("ids_history",)
depends_on = ("i0001",)


def upgrade() -> None:
    op.create_table(
        "ids_handle_history",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("hkey", sa.String(400), nullable=False),
        sa.Column("handle", sa.String(400), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before", sa.Text, nullable=True),
    )
    op.create_index("ix_ids_handle_history_key", "ids_handle_history", ["node", "hkey", "id"])


def downgrade() -> None:
    op.drop_table("ids_handle_history")
