"""Detection: custom rule files and versions, rule switches, named lists, the baseline.

Revision ID: sd001
"""

import sqlalchemy as sa
from alembic import op

revision = "sd001"
down_revision = "s0001"
branch_labels = None
depends_on = None


def _enterprise(primary: bool = False) -> sa.Column[int]:
    return sa.Column(
        "enterprise_id",
        sa.Integer,
        sa.ForeignKey("core_enterprises.id", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary,
        autoincrement=False,
    )


def upgrade() -> None:
    op.create_table(
        "security_detect_rule_files",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "security_detect_rule_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_security_detect_rule_versions_name",
        "security_detect_rule_versions",
        ["name", "version"],
        unique=True,
    )
    op.create_table(
        "security_detect_rule_states",
        sa.Column("rule_id", sa.String(80), primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "security_detect_lists",
        sa.Column("id", sa.Integer, primary_key=True),
        _enterprise(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("enterprise_id", "name", name="uq_security_detect_lists"),
    )
    op.create_table(
        "security_detect_baselines",
        _enterprise(primary=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("until", sa.Float, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "security_detect_baseline_items",
        sa.Column("id", sa.Integer, primary_key=True),
        _enterprise(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("src_ip", sa.String(45), nullable=True),
        sa.Column("dst_ip", sa.String(45), nullable=False),
        sa.Column("protocol", sa.String(32), nullable=False),
        sa.Column("dst_port", sa.Integer, nullable=True),
        sa.Column("function", sa.String(64), nullable=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.UniqueConstraint(
            "enterprise_id", "kind", "key", name="uq_security_detect_baseline_items"
        ),
    )


def downgrade() -> None:
    op.drop_table("security_detect_baseline_items")
    op.drop_table("security_detect_baselines")
    op.drop_table("security_detect_lists")
    op.drop_table("security_detect_rule_states")
    op.drop_index("ix_security_detect_rule_versions_name", "security_detect_rule_versions")
    op.drop_table("security_detect_rule_versions")
    op.drop_table("security_detect_rule_files")
