"""Enterprise self-registration (issue 9): whether an enterprise applied by itself, and the
contact phone and e-mail its applicant gave.

An enterprise that applied (``self_registered``) has its users refused at login until a
platform admin approves it (``core.registration``); enterprises added by an admin are not
affected. The index serves the cap on pending applications.

Revision ID: cr0001
"""

import sqlalchemy as sa
from alembic import op

revision = "cr0001"
down_revision = None
branch_labels = ("core_registration",)
depends_on = ("ce0001",)


def upgrade() -> None:
    op.add_column(
        "core_enterprises",
        sa.Column("self_registered", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "core_enterprises",
        sa.Column("contact_phone", sa.String(32), nullable=False, server_default=""),
    )
    op.add_column(
        "core_enterprises",
        sa.Column("contact_email", sa.String(254), nullable=False, server_default=""),
    )
    op.create_index(
        "ix_core_enterprises_applied", "core_enterprises", ["self_registered", "review_state"]
    )


def downgrade() -> None:
    op.drop_index("ix_core_enterprises_applied", "core_enterprises")
    for column in ("contact_email", "contact_phone", "self_registered"):
        op.drop_column("core_enterprises", column)
