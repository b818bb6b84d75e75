"""Identifier operations: prefix revocation, bulk jobs per enterprise, daily counts.

``ids_prefixes`` records a revocation (when, by whom, why; the row stays); ``ids_bulk_jobs``
records the enterprise a job was started for (console lists and tenancy); ``ids_daily_stats``
holds registrations and resolutions per UTC hour and prefix (``indunet.ids.daily``).

Revision ID: io0001
"""

import sqlalchemy as sa
from alembic import op

revision = "io0001"
down_revision = None
branch_labels = ("ids_ops",)
depends_on = ("i0001",)


def upgrade() -> None:
    op.add_column("ids_prefixes", sa.Column("revoked_at", sa.DateTime(timezone=True)))
    op.add_column(
        "ids_prefixes",
        sa.Column("revoked_by", sa.String(200), nullable=False, server_default=""),
    )
    op.add_column(
        "ids_prefixes",
        sa.Column("revoke_reason", sa.String(500), nullable=False, server_default=""),
    )
    op.create_index("ix_ids_prefixes_enterprise", "ids_prefixes", ["enterprise_id", "prefix"])
    op.add_column("ids_bulk_jobs", sa.Column("enterprise_id", sa.Integer))
    op.create_index("ix_ids_bulk_jobs_enterprise", "ids_bulk_jobs", ["enterprise_id", "id"])
    op.create_index("ix_ids_bulk_jobs_actor", "ids_bulk_jobs", ["actor", "id"])
    op.create_table(
        "ids_daily_stats",
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("prefix", sa.String(128), primary_key=True),
        sa.Column("registrations", sa.Integer, nullable=False, server_default="0"),
        sa.Column("resolutions", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_ids_daily_stats_prefix", "ids_daily_stats", ["prefix", "hour"])


def downgrade() -> None:
    op.drop_table("ids_daily_stats")
    op.drop_index("ix_ids_bulk_jobs_actor", "ids_bulk_jobs")
    op.drop_index("ix_ids_bulk_jobs_enterprise", "ids_bulk_jobs")
    op.drop_column("ids_bulk_jobs", "enterprise_id")
    op.drop_index("ix_ids_prefixes_enterprise", "ids_prefixes")
    op.drop_column("ids_prefixes", "revoke_reason")
    op.drop_column("ids_prefixes", "revoked_by")
    op.drop_column("ids_prefixes", "revoked_at")
