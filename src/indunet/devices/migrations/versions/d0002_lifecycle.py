"""Device lifecycle: dev_purges (deleted devices whose data is still being purged) and
dev_status_history (every online/offline change with its time).

Revision ID: d0002
"""

import sqlalchemy as sa
from alembic import op

revision = "d0002"
down_revision = "d0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dev_purges",
        sa.Column("device_id", sa.String(63), primary_key=True),
        sa.Column("enterprise_id", sa.Integer, nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "dev_status_history",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("device_id", sa.String(63), nullable=False),
        sa.Column("enterprise_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_dev_status_history_device", "dev_status_history", ["device_id", "enterprise_id", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_dev_status_history_device", "dev_status_history")
    op.drop_table("dev_status_history")
    op.drop_table("dev_purges")
