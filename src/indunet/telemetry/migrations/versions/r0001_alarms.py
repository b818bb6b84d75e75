"""Rules, alarms and commands: tel_rules, tel_alarms, tel_commands.

Revision ID: r0001
"""

import sqlalchemy as sa
from alembic import op

revision = "r0001"
down_revision = None
branch_labels = ("alarms",)
depends_on = "c0001"

OPEN = sa.text("state != 'closed'")


def upgrade() -> None:
    op.create_table(
        "tel_rules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "enterprise_id", sa.Integer, sa.ForeignKey("core_enterprises.id"), nullable=False
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("device_id", sa.String(63), nullable=True),
        sa.Column("model_id", sa.String(200), nullable=True),
        sa.Column("condition", sa.String(500), nullable=False),
        sa.Column("clear_condition", sa.String(500), nullable=True),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("enterprise_id", "name", name="uq_tel_rules_name"),
    )
    op.create_table(
        "tel_alarms",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("rule_id", sa.Integer, nullable=False),  # no FK: alarms outlive their rule
        sa.Column("rule_name", sa.String(100), nullable=False),
        sa.Column("enterprise_id", sa.Integer, nullable=False),
        sa.Column("device_id", sa.String(63), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("message", sa.String(1000), nullable=False),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("occurrences", sa.Integer, nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acked_by", sa.String(200), nullable=True),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_note", sa.String(500), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_tel_alarms_state", "tel_alarms", ["enterprise_id", "state", "id"])
    op.create_index("ix_tel_alarms_device", "tel_alarms", ["device_id", "id"])
    # At most one open (not cleared-and-acknowledged) alarm per rule and device.
    op.create_index(
        "ux_tel_alarms_open",
        "tel_alarms",
        ["rule_id", "device_id"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_table(
        "tel_commands",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("enterprise_id", sa.Integer, nullable=True),
        sa.Column("device_id", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("argument", sa.JSON, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("error", sa.String(1000), nullable=True),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_tel_commands_device", "tel_commands", ["device_id", "id"])


def downgrade() -> None:
    op.drop_table("tel_commands")
    op.drop_table("tel_alarms")
    op.drop_table("tel_rules")
