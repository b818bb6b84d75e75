"""Alarm operations: the model of an alarm's device, who cleared it by hand, comments, and
indexes for the console's filters (time range, model, rule, severity) at 100,000 alarms.

Revision ID: ar0001
"""

import sqlalchemy as sa
from alembic import op

revision = "ar0001"
down_revision = None
branch_labels = ("alarm_ops",)
depends_on = ("r0001", "d0001")


def upgrade() -> None:
    with op.batch_alter_table("tel_alarms") as batch:
        batch.add_column(sa.Column("model_id", sa.String(200), nullable=True))
        batch.add_column(sa.Column("cleared_by", sa.String(200), nullable=True))
    op.execute(
        "UPDATE tel_alarms SET model_id = "
        "(SELECT model_id FROM dev_devices WHERE dev_devices.id = tel_alarms.device_id)"
    )
    op.create_index("ix_tel_alarms_raised", "tel_alarms", ["enterprise_id", "raised_at"])
    op.create_index("ix_tel_alarms_all_raised", "tel_alarms", ["raised_at"])
    op.create_index("ix_tel_alarms_model", "tel_alarms", ["model_id", "id"])
    op.create_index("ix_tel_alarms_rule", "tel_alarms", ["rule_id", "id"])
    op.create_index("ix_tel_alarms_severity", "tel_alarms", ["enterprise_id", "severity", "id"])
    op.create_table(
        "tel_alarm_comments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("alarm_id", sa.Integer, nullable=False),  # no FK: purge deletes both
        sa.Column("enterprise_id", sa.Integer, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.String(1000), nullable=False),
    )
    op.create_index("ix_tel_alarm_comments_alarm", "tel_alarm_comments", ["alarm_id", "id"])


def downgrade() -> None:
    op.drop_table("tel_alarm_comments")
    for name in (
        "ix_tel_alarms_severity",
        "ix_tel_alarms_rule",
        "ix_tel_alarms_model",
        "ix_tel_alarms_all_raised",
        "ix_tel_alarms_raised",
    ):
        op.drop_index(name, "tel_alarms")
    with op.batch_alter_table("tel_alarms") as batch:
        batch.drop_column("cleared_by")
        batch.drop_column("model_id")
