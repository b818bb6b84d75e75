"""Notifications: notify_channels, notify_rules, notify_deliveries.

Revision ID: n0001
"""

import sqlalchemy as sa
from alembic import op

revision = "n0001"
down_revision = None
branch_labels = ("notify",)
depends_on = "c0002"


def _enterprise() -> sa.Column[int]:
    return sa.Column(
        "enterprise_id",
        sa.Integer,
        sa.ForeignKey("core_enterprises.id", ondelete="CASCADE"),
        nullable=True,
    )


def upgrade() -> None:
    op.create_table(
        "notify_channels",
        sa.Column("id", sa.Integer, primary_key=True),
        _enterprise(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("secret", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_notify_channels_owner", "notify_channels", ["enterprise_id", "id"])
    op.create_table(
        "notify_rules",
        sa.Column("id", sa.Integer, primary_key=True),
        _enterprise(),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("core_users.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column(
            "channel_id",
            sa.Integer,
            sa.ForeignKey("notify_channels.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kinds", sa.JSON, nullable=False),
        sa.Column("devices_mode", sa.String(8), nullable=False),
        sa.Column("devices", sa.JSON, nullable=False),
        sa.Column("min_severity", sa.String(16), nullable=False),
        sa.Column("quiet_start", sa.String(5), nullable=True),
        sa.Column("quiet_end", sa.String(5), nullable=True),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_notify_rules_owner", "notify_rules", ["enterprise_id", "id"])
    op.create_index("ix_notify_rules_channel", "notify_rules", ["channel_id"])
    op.create_table(
        "notify_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("enterprise_id", sa.Integer, nullable=True),  # no FK: the log outlives
        sa.Column("rule_id", sa.Integer, nullable=False),
        sa.Column("channel_id", sa.Integer, nullable=False),
        sa.Column("channel_name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("device_id", sa.String(63), nullable=True),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("search", sa.String(400), nullable=False),  # lower-cased subject, device, channel
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_notify_deliveries_owner", "notify_deliveries", ["enterprise_id", "id"])
    op.create_index(
        "ix_notify_deliveries_status", "notify_deliveries", ["enterprise_id", "status", "id"]
    )
    op.create_index(
        "ix_notify_deliveries_kind", "notify_deliveries", ["enterprise_id", "kind", "id"]
    )
    op.create_index("ix_notify_deliveries_channel", "notify_deliveries", ["channel_id", "id"])


def downgrade() -> None:
    op.drop_table("notify_deliveries")
    op.drop_table("notify_rules")
    op.drop_table("notify_channels")
