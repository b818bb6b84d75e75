"""Alert summaries relayed up from the children (kind ``security.alert``): ``fed_alerts``,
each row with its origin, the instances it passed, when it arrived; bounded per origin and by
age (``federation.alerts``).

Revision ID: f0003
"""

import sqlalchemy as sa
from alembic import op

revision = "f0003"
down_revision = "f0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fed_alerts",
        sa.Column("no", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("origin", sa.String(63), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sender", sa.String(63), nullable=False),
        sa.Column("alert", sa.String(32), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("techniques", sa.Text, nullable=False),
        sa.Column("src_ip", sa.String(45), nullable=True),
        sa.Column("dst_ip", sa.String(45), nullable=True),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("received", sa.Float, nullable=False),
    )
    op.create_index("ix_fed_alerts_origin", "fed_alerts", ["origin", "no"])
    op.create_index("ix_fed_alerts_received", "fed_alerts", ["received"])


def downgrade() -> None:
    op.drop_table("fed_alerts")
