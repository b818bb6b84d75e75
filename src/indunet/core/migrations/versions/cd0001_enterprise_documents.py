"""Review documents of enterprises (issue 11 §6): the business licence (营业执照) an
enterprise submits for its real-name review, kept in the database.

One row per enterprise and kind of document; a new upload replaces the old one. The content
is in the database (not a file named after anything the uploader sent), so it is as private
as the database and leaves with its backups.

Revision ID: cd0001
"""

import sqlalchemy as sa
from alembic import op

revision = "cd0001"
down_revision = None
branch_labels = ("core_documents",)
depends_on = ("cr0001",)


def upgrade() -> None:
    op.create_table(
        "core_enterprise_documents",
        sa.Column(
            "enterprise_id",
            sa.Integer,
            sa.ForeignKey("core_enterprises.id"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("core_enterprise_documents")
