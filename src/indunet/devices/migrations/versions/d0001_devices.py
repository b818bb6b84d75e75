"""Device tables: Thing Model versions and the device registry.

Revision ID: d0001
"""

import sqlalchemy as sa
from alembic import op

revision = "d0001"
down_revision = None
branch_labels = ("devices",)
depends_on = "i0001"


def upgrade() -> None:
    op.create_table(
        "dev_models",
        sa.Column("model_id", sa.String(100), primary_key=True),
        sa.Column("version", sa.String(32), primary_key=True),
        sa.Column("enterprise_id", sa.Integer, sa.ForeignKey("core_enterprises.id"), nullable=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "dev_devices",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column(
            "enterprise_id", sa.Integer, sa.ForeignKey("core_enterprises.id"), nullable=False
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("model_id", sa.String(100), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("connection", sa.JSON, nullable=False),
        sa.Column("location", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("manufacturer", sa.String(200), nullable=False),
        sa.Column("serial", sa.String(200), nullable=False),
        sa.Column("identifier", sa.String(400), nullable=False),
        sa.Column("secret_digest", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_seen", sa.Float, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id", "model_version"], ["dev_models.model_id", "dev_models.version"]
        ),
    )
    op.create_index("ix_dev_devices_enterprise", "dev_devices", ["enterprise_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_dev_devices_enterprise", "dev_devices")
    op.drop_table("dev_devices")
    op.drop_table("dev_models")
