"""Identifier tables: handle records per node, templates, prefix allocations, bulk jobs.

Revision ID: i0001
"""

import sqlalchemy as sa
from alembic import op

revision = "i0001"
down_revision = None
branch_labels = ("ids",)
depends_on = "c0001"


def upgrade() -> None:
    op.create_table(
        "ids_handles",
        sa.Column("node", sa.String(64), primary_key=True),
        sa.Column("hkey", sa.String(400), primary_key=True),
        sa.Column("handle", sa.String(400), nullable=False),
        sa.Column("prefix", sa.String(128), nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ids_handles_prefix", "ids_handles", ["node", "prefix", "hkey"])
    op.create_table(
        "ids_templates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("prefix", sa.String(128), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("industry_code", sa.String(8), nullable=False),
        sa.Column("description", sa.String(500), nullable=False, server_default=""),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("prefix", "name", "version"),
    )
    op.create_table(
        "ids_prefixes",
        sa.Column("prefix", sa.String(128), primary_key=True),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("enterprise_id", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ids_bulk_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("registered", sa.Integer, nullable=False),
        sa.Column("unchanged", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("next_line", sa.Integer, nullable=False),
        sa.Column("errors", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ids_bulk_jobs_digest", "ids_bulk_jobs", ["node", "digest"])


def downgrade() -> None:
    op.drop_table("ids_bulk_jobs")
    op.drop_table("ids_prefixes")
    op.drop_table("ids_templates")
    op.drop_table("ids_handles")
