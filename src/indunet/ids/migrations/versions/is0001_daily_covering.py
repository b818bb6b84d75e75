"""Covering indexes for identifier statistics over 90 days and more: per hour (hour first) and
per prefix (prefix first), each with both counts, so the statistics page sums index entries
without reading a row (about 0.3 s cold at 100,000 hourly rows before, per query).

Revision ID: is0001
"""

from alembic import op

revision = "is0001"
down_revision = None
branch_labels = ("ids_stats",)
depends_on = ("io0001",)

INDEXES = {
    "ix_ids_daily_stats_hour_counts": ["hour", "registrations", "resolutions"],
    "ix_ids_daily_stats_prefix_counts": ["prefix", "hour", "registrations", "resolutions"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "ids_daily_stats", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, "ids_daily_stats")
