"""The apps subsystem's tables: installed packages, subscriptions, usage.

Revision ID: ap0001
"""

import sqlalchemy as sa
from alembic import op

revision = "ap0001"
down_revision = None
branch_labels = ("apps",)
depends_on = "c0002"


def upgrade() -> None:
    op.create_table(
        "apps_packages",
        sa.Column("id", sa.String(120), primary_key=True),
        sa.Column("version", sa.String(20), primary_key=True),
        sa.Column("major", sa.Integer, nullable=False),
        sa.Column("minor", sa.Integer, nullable=False),
        sa.Column("patch", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(18), nullable=False),
        sa.Column("title_zh", sa.String(200), nullable=False),
        sa.Column("title_en", sa.String(200), nullable=False),
        sa.Column("manifest", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("installed", sa.Float, nullable=False),
        sa.Column("installed_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_apps_packages_order", "apps_packages", ["id", "major", "minor", "patch"])
    op.create_table(
        "apps_subscriptions",
        sa.Column("enterprise_id", sa.Integer, primary_key=True),
        sa.Column("app", sa.String(120), primary_key=True),
        sa.Column("pinned", sa.String(20), nullable=True),
        sa.Column("since", sa.Float, nullable=False),
    )
    op.create_table(
        "apps_usage",
        sa.Column("app", sa.String(120), primary_key=True),
        sa.Column("version", sa.String(20), primary_key=True),
        sa.Column("enterprise_id", sa.Integer, primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("calls", sa.BigInteger, nullable=False),
        sa.Column("failures", sa.BigInteger, nullable=False),
        sa.Column("cpu_s", sa.Float, nullable=False),
        sa.Column("bytes_in", sa.BigInteger, nullable=False),
        sa.Column("bytes_out", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for name in ("apps_usage", "apps_subscriptions", "apps_packages"):
        op.drop_table(name)
