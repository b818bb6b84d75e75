"""Complaints (投诉) about an identifier, a prefix or the node's service (``ids.complaints``).

Revision ID: ig0001
"""

import sqlalchemy as sa
from alembic import op

revision = "ig0001"
down_revision = None
branch_labels = ("ids_complaints",)
depends_on = ("i0001",)


def upgrade() -> None:
    op.create_table(
        "ids_complaints",
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
    )
    op.create_index("ix_ids_complaints_state_due", "ids_complaints", ["state", "due_at"])
    op.create_index("ix_ids_complaints_filed", "ids_complaints", ["filed_at"])


def downgrade() -> None:
    op.drop_table("ids_complaints")
