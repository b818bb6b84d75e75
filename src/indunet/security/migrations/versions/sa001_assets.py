"""The asset inventory: security_assets, security_asset_keys, security_asset_merges,
security_zones, security_conduits.

Revision ID: sa001
"""

import sqlalchemy as sa
from alembic import op

revision = "sa001"
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


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "security_zones",
        sa.Column("id", sa.Integer, primary_key=True),
        _enterprise(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("sl_target", sa.Integer, nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        _at("created_at"),
    )
    op.create_index("ix_security_zones_owner", "security_zones", ["enterprise_id", "name"])
    op.create_table(
        "security_conduits",
        sa.Column("id", sa.Integer, primary_key=True),
        _enterprise(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column(
            "zone_a",
            sa.Integer,
            sa.ForeignKey("security_zones.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "zone_b",
            sa.Integer,
            sa.ForeignKey("security_zones.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("protocols", sa.JSON, nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        _at("created_at"),
    )
    op.create_index("ix_security_conduits_owner", "security_conduits", ["enterprise_id", "id"])
    op.create_table(
        "security_assets",
        sa.Column("id", sa.Integer, primary_key=True),
        _enterprise(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("asset_type", sa.String(8), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("vendor", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("model_numbers", sa.JSON, nullable=False),
        sa.Column("firmware", sa.String(200), nullable=False),
        sa.Column("serial", sa.String(200), nullable=False),
        sa.Column("hostname", sa.String(200), nullable=False),
        sa.Column("location", sa.String(200), nullable=False),
        sa.Column("logging", sa.String(200), nullable=False),
        sa.Column("criticality", sa.String(8), nullable=False),
        sa.Column(
            "zone_id",
            sa.Integer,
            sa.ForeignKey("security_zones.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("ips", sa.JSON, nullable=False),
        sa.Column("macs", sa.JSON, nullable=False),
        sa.Column("protocols", sa.JSON, nullable=False),
        sa.Column("ports", sa.JSON, nullable=False),
        sa.Column("accounts", sa.JSON, nullable=False),
        sa.Column("device_id", sa.String(63), nullable=True),  # no FK: outlives the device
        sa.Column("identifier", sa.String(255), nullable=True),
        sa.Column("device_deleted", sa.Boolean, nullable=False),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("provenance", sa.JSON, nullable=False),
        sa.Column("alternatives", sa.JSON, nullable=False),
        sa.Column("peers", sa.JSON, nullable=False),
        sa.Column("search", sa.String(1000), nullable=False),
        _at("first_seen", True),
        _at("last_seen", True),
        _at("created_at"),
        _at("updated_at"),
    )
    op.create_index("ix_security_assets_owner", "security_assets", ["enterprise_id", "id"])
    op.create_index("ix_security_assets_device", "security_assets", ["device_id"])
    op.create_table(
        "security_asset_keys",
        sa.Column(
            "asset_id",
            sa.Integer,
            sa.ForeignKey("security_assets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(10), primary_key=True),
        sa.Column("value", sa.String(255), primary_key=True),
        sa.Column("enterprise_id", sa.Integer, nullable=True),
    )
    op.create_index(
        "ix_security_asset_keys_value", "security_asset_keys", ["kind", "value", "enterprise_id"]
    )
    op.create_table(
        "security_asset_merges",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "asset_id",
            sa.Integer,
            sa.ForeignKey("security_assets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _at("at"),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("matched", sa.String(300), nullable=False),
        sa.Column("decisions", sa.JSON, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
    )
    op.create_index("ix_security_asset_merges_asset", "security_asset_merges", ["asset_id", "id"])


def downgrade() -> None:
    op.drop_table("security_asset_merges")
    op.drop_table("security_asset_keys")
    op.drop_table("security_assets")
    op.drop_table("security_conduits")
    op.drop_table("security_zones")
