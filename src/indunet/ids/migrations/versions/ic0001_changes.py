"""Changes to identifier records, polled by servers to drop what they cached (ids.changes).

Revision ID: ic0001
"""

import sqlalchemy as sa
from alembic import op

revision = "ic0001"
down_revision = None
branch_labels = ("ids_changes",)
depends_on = ("i0001",)


def upgrade() -> None:
    op.create_table(
        "ids_changes",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("hkey", sa.String(400), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_ids_changes_at", "ids_changes", ["at"])


def downgrade() -> None:
    op.drop_table("ids_changes")
