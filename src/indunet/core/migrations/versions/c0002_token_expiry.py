"""API tokens expire: tokens issued without an expiry get one, and tokens are indexed by user.

Existing tokens without an expiry get ``DEFAULT_TTL`` from the time of the migration (not
from their creation, so running integrations get the full period to rotate).

Revision ID: c0002
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "c0002"
down_revision = "c0001"
branch_labels = None
depends_on = None

DEFAULT_TTL = timedelta(days=90)  # core.tokens.DEFAULT_TTL when this migration was written


def upgrade() -> None:
    tokens = sa.table("core_tokens", sa.column("expires_at", sa.DateTime(timezone=True)))
    op.execute(
        tokens.update()
        .where(tokens.c.expires_at.is_(None))
        .values(expires_at=datetime.now(UTC) + DEFAULT_TTL)
    )
    op.create_index("ix_core_tokens_user_id", "core_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_core_tokens_user_id", "core_tokens")
