"""Real-name review of enterprises: state (pending, approved, rejected), reason, reviewer, time.

Enterprises already verified count as approved; the others wait for review (pending).

Revision ID: ce0001
"""

import sqlalchemy as sa
from alembic import op

revision = "ce0001"
down_revision = None
branch_labels = ("core_review",)
depends_on = ("c0002",)


def upgrade() -> None:
    op.add_column(
        "core_enterprises",
        sa.Column("review_state", sa.String(16), nullable=False, server_default="pending"),
    )
    op.add_column(
        "core_enterprises",
        sa.Column("review_reason", sa.String(500), nullable=False, server_default=""),
    )
    op.add_column(
        "core_enterprises",
        sa.Column("reviewed_by", sa.String(200), nullable=False, server_default=""),
    )
    op.add_column("core_enterprises", sa.Column("reviewed_at", sa.DateTime(timezone=True)))
    ents = sa.table(
        "core_enterprises", sa.column("verified", sa.Boolean), sa.column("review_state")
    )
    op.execute(ents.update().where(ents.c.verified.is_(True)).values(review_state="approved"))
    op.create_index("ix_core_enterprises_review", "core_enterprises", ["review_state", "name"])
    op.create_index("ix_core_enterprises_name", "core_enterprises", ["name"])


def downgrade() -> None:
    op.drop_index("ix_core_enterprises_name", "core_enterprises")
    op.drop_index("ix_core_enterprises_review", "core_enterprises")
    for column in ("reviewed_at", "reviewed_by", "review_reason", "review_state"):
        op.drop_column("core_enterprises", column)
