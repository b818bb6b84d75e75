"""The security event store: security_events.

Revision ID: se001
"""

import sqlalchemy as sa
from alembic import op

revision = "se001"
down_revision = "s0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "security_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column(
            "enterprise_id",
            sa.Integer,
            sa.ForeignKey("core_enterprises.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("observer", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(200), nullable=False),
        sa.Column("protocol", sa.String(200), nullable=True),
        sa.Column("action", sa.String(200), nullable=True),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("src_ip", sa.String(45), nullable=True),
        sa.Column("src_port", sa.Integer, nullable=True),
        sa.Column("dst_ip", sa.String(45), nullable=True),
        sa.Column("dst_port", sa.Integer, nullable=True),
        sa.Column("src_mac", sa.String(17), nullable=True),
        sa.Column("dst_mac", sa.String(17), nullable=True),
        sa.Column("user", sa.String(200), nullable=True),
        sa.Column("severity", sa.SmallInteger, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("search", sa.String(600), nullable=False),
    )
    op.create_index("ux_security_events_id", "security_events", ["id"], unique=True)
    op.create_index("ix_security_events_ts", "security_events", ["ts"])
    op.create_index("ix_security_events_enterprise", "security_events", ["enterprise_id", "ts"])
    op.create_index("ix_security_events_source", "security_events", ["source", "ts"])
    op.create_index("ix_security_events_kind", "security_events", ["kind", "ts"])
    op.create_index("ix_security_events_src_ip", "security_events", ["src_ip", "ts"])
    op.create_index("ix_security_events_dst_ip", "security_events", ["dst_ip", "ts"])


def downgrade() -> None:
    op.drop_table("security_events")
