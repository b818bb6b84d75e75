"""Vulnerability matching: security_vuln_advisories, security_vuln_matches, security_vuln_syncs.

Revision ID: sv001
"""

import sqlalchemy as sa
from alembic import op

revision = "sv001"
down_revision = "s0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "security_vuln_advisories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tracking_id", sa.String(100), nullable=False, unique=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("publisher", sa.String(200), nullable=False),
        sa.Column("tlp", sa.String(16), nullable=True),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("initial_release", sa.String(40), nullable=False),
        sa.Column("current_release", sa.String(40), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("cves", sa.JSON, nullable=False),
        sa.Column("max_score", sa.Float, nullable=True),
        sa.Column("severity", sa.String(16), nullable=True),
        sa.Column("products", sa.JSON, nullable=False),
        sa.Column("vulnerabilities", sa.JSON, nullable=False),
        sa.Column("search", sa.String(600), nullable=False),
        sa.Column("imported_by", sa.String(200), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "security_vuln_matches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "enterprise_id",
            sa.Integer,
            sa.ForeignKey("core_enterprises.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("asset_id", sa.Integer, nullable=False),
        sa.Column("asset_name", sa.String(300), nullable=False),
        sa.Column(
            "advisory_id",
            sa.Integer,
            sa.ForeignKey("security_vuln_advisories.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("tracking_id", sa.String(100), nullable=False),
        sa.Column("cve", sa.String(64), nullable=False),
        sa.Column("product_id", sa.String(200), nullable=False),
        sa.Column("product_name", sa.String(300), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("why", sa.JSON, nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("vector", sa.String(200), nullable=True),
        sa.Column("severity", sa.String(16), nullable=True),
        sa.Column("remediation_category", sa.String(24), nullable=True),
        sa.Column("remediation_text", sa.Text, nullable=True),
        sa.Column("remediation_url", sa.String(500), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("search", sa.String(600), nullable=False),
        sa.UniqueConstraint("asset_id", "advisory_id", "cve", name="uq_security_vuln_match"),
    )
    op.create_index(
        "ix_security_vuln_matches_scope", "security_vuln_matches", ["enterprise_id", "state", "id"]
    )
    op.create_index("ix_security_vuln_matches_advisory", "security_vuln_matches", ["advisory_id"])
    op.create_table(
        "security_vuln_syncs",
        sa.Column("source", sa.String(300), primary_key=True),
        sa.Column("newest", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("security_vuln_syncs")
    op.drop_index("ix_security_vuln_matches_advisory", "security_vuln_matches")
    op.drop_index("ix_security_vuln_matches_scope", "security_vuln_matches")
    op.drop_table("security_vuln_matches")
    op.drop_table("security_vuln_advisories")
