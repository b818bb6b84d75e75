"""What a top-level node keeps of its secondaries: their daily reports and their registry of
enterprises and prefix allocations (``ids.children``).

Revision ID: iy0001
"""

import sqlalchemy as sa
from alembic import op

revision = "iy0001"
down_revision = None
branch_labels = ("ids_children",)
depends_on = ("i0001",)


def upgrade() -> None:
    op.create_table(
        "ids_child_nodes",
        sa.Column("reporter", sa.String(128), primary_key=True),
        sa.Column("last_report_day", sa.Date, nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("registry_digest", sa.String(64), nullable=False, server_default=""),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "ids_child_reports",
        sa.Column("reporter", sa.String(128), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("prefix", sa.String(128), primary_key=True),
        sa.Column("registrations", sa.BigInteger, nullable=False),
        sa.Column("resolutions", sa.BigInteger, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ids_child_reports_day", "ids_child_reports", ["day", "reporter"])
    op.create_index("ix_ids_child_reports_prefix", "ids_child_reports", ["prefix", "day"])
    op.create_table(
        "ids_child_enterprises",
        sa.Column("reporter", sa.String(128), primary_key=True),
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("verified", sa.Boolean, nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ids_child_allocations",
        sa.Column("reporter", sa.String(128), primary_key=True),
        sa.Column("prefix", sa.String(128), primary_key=True),
        sa.Column("uscc", sa.String(18), nullable=True),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ids_child_allocations_prefix", "ids_child_allocations", ["prefix"])


def downgrade() -> None:
    for table in (
        "ids_child_allocations",
        "ids_child_enterprises",
        "ids_child_reports",
        "ids_child_nodes",
    ):
        op.drop_table(table)
