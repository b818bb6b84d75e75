"""Alerts and cases: security_alerts, security_cases and each case's links (observables),
tasks, notes, evidence files and history.

Revision ID: sc001
"""

import sqlalchemy as sa
from alembic import op

revision = "sc001"
down_revision = "s0001"
branch_labels = None
depends_on = None


def _enterprise() -> sa.Column[int]:
    return sa.Column(
        "enterprise_id",
        sa.Integer,
        sa.ForeignKey("core_enterprises.id", ondelete="CASCADE"),
        nullable=True,
    )


def _case(nullable: bool = False, ondelete: str = "CASCADE") -> sa.Column[int]:
    return sa.Column(
        "case_id",
        sa.Integer,
        sa.ForeignKey("security_cases.id", ondelete=ondelete),
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "security_cases",
        sa.Column("id", sa.Integer, primary_key=True),
        _enterprise(),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("tlp", sa.String(16), nullable=False),
        sa.Column("pap", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("disposition", sa.String(32), nullable=True),
        sa.Column("assignee", sa.String(200), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ack_due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolve_due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alerts", sa.Integer, nullable=False),
        sa.Column("search", sa.String(400), nullable=False),
    )
    op.create_index("ix_security_cases_owner", "security_cases", ["enterprise_id", "status"])
    op.create_table(
        "security_alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        _enterprise(),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("rule_version", sa.Integer, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("techniques", sa.JSON, nullable=False),
        sa.Column("src_ip", sa.String(45), nullable=True),
        sa.Column("dst_ip", sa.String(45), nullable=True),
        sa.Column("assets", sa.JSON, nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("grp", sa.String(200), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("search", sa.String(400), nullable=False),
        _case(nullable=True, ondelete="SET NULL"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_security_alerts_case", "security_alerts", ["case_id"])
    op.create_index("ix_security_alerts_owner_ts", "security_alerts", ["enterprise_id", "ts"])
    op.create_index("ix_security_alerts_ts", "security_alerts", ["ts"])
    op.create_table(
        "security_case_links",
        sa.Column("id", sa.Integer, primary_key=True),
        _case(),
        _enterprise(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_security_case_links_case", "security_case_links", ["case_id"])
    op.create_index(
        "ix_security_case_links_value", "security_case_links", ["enterprise_id", "kind", "value"]
    )
    op.create_table(
        "security_case_tasks",
        sa.Column("id", sa.Integer, primary_key=True),
        _case(),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("assignee", sa.String(200), nullable=True),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_security_case_tasks_case", "security_case_tasks", ["case_id"])
    op.create_table(
        "security_case_notes",
        sa.Column("id", sa.Integer, primary_key=True),
        _case(),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_security_case_notes_case", "security_case_notes", ["case_id"])
    op.create_table(
        "security_case_evidence",
        sa.Column("id", sa.Integer, primary_key=True),
        _case(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("stored", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_security_case_evidence_case", "security_case_evidence", ["case_id"])
    op.create_table(
        "security_case_history",
        sa.Column("id", sa.Integer, primary_key=True),
        _case(),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("what", sa.String(32), nullable=False),
        sa.Column("old", sa.String(400), nullable=True),
        sa.Column("new", sa.String(400), nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_security_case_history_case", "security_case_history", ["case_id", "id"])


def downgrade() -> None:
    op.drop_table("security_case_history")
    op.drop_table("security_case_evidence")
    op.drop_table("security_case_notes")
    op.drop_table("security_case_tasks")
    op.drop_table("security_case_links")
    op.drop_table("security_alerts")
    op.drop_table("security_cases")
