"""Indexes for the dead-letter console: letters by time, and by enterprise and reason.

The console pages through up to 100,000 letters filtered by time range, device, reason and
enterprise, newest first, and counts them with the same filters.

Revision ID: tx0001
"""

from alembic import op

revision = "tx0001"
down_revision = None
branch_labels = ("telemetry_ops",)
depends_on = ("t0002",)


def upgrade() -> None:
    op.create_index("ix_tel_dead_letters_at", "tel_dead_letters", ["at"])
    op.create_index(
        "ix_tel_dead_letters_enterprise_reason",
        "tel_dead_letters",
        ["enterprise_id", "reason", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_tel_dead_letters_enterprise_reason", "tel_dead_letters")
    op.drop_index("ix_tel_dead_letters_at", "tel_dead_letters")
