"""Threat sharing: sharing_collections, sharing_objects, sharing_statuses, sharing_feeds.

Revision ID: ss001
"""

import sqlalchemy as sa
from alembic import op

revision = "ss001"
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


def upgrade() -> None:
    op.create_table(
        "sharing_collections",
        sa.Column("id", sa.String(36), primary_key=True),
        _enterprise(),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sharing_collections_owner", "sharing_collections", ["enterprise_id"])
    op.create_table(
        "sharing_objects",
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column(
            "collection_id",
            sa.String(36),
            sa.ForeignKey("sharing_collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("stix_id", sa.String(300), nullable=False),
        sa.Column("type", sa.String(250), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("spec_version", sa.String(8), nullable=False),
        sa.Column("date_added", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.UniqueConstraint("collection_id", "stix_id", "version", name="uq_sharing_objects"),
    )
    op.create_index(
        "ix_sharing_objects_added", "sharing_objects", ["collection_id", "date_added", "seq"]
    )
    op.create_table(
        "sharing_statuses",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "collection_id",
            sa.String(36),
            sa.ForeignKey("sharing_collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _enterprise(),
        sa.Column("request_timestamp", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "sharing_feeds",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("api_root", sa.String(2000), nullable=False),
        sa.Column("remote_collection", sa.String(100), nullable=False),
        sa.Column(
            "collection_id",
            sa.String(36),
            sa.ForeignKey("sharing_collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("secret", sa.Text, nullable=True),
        sa.Column("interval_s", sa.Integer, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("added_last", sa.String(40), nullable=True),
        sa.Column("next_run", sa.Float, nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("objects_total", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sharing_feeds")
    op.drop_table("sharing_statuses")
    op.drop_index("ix_sharing_objects_added", table_name="sharing_objects")
    op.drop_table("sharing_objects")
    op.drop_index("ix_sharing_collections_owner", table_name="sharing_collections")
    op.drop_table("sharing_collections")
