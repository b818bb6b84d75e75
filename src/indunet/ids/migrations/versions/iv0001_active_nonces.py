"""Nonces of the signed requests of active identifiers (主动标识), kept until they can no
longer be replayed (ids.active): a second use of one is refused, in every process.

Revision ID: iv0001
"""

import sqlalchemy as sa
from alembic import op

revision = "iv0001"
down_revision = None
branch_labels = ("ids_active",)
depends_on = ("i0001",)


def upgrade() -> None:
    op.create_table(
        "ids_active_nonces",
        sa.Column("node", sa.String(64), primary_key=True),
        sa.Column("hkey", sa.String(400), primary_key=True),
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("expires", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ids_active_nonces")
