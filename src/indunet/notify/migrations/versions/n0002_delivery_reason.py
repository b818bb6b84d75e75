"""The delivery log names why a send failed stably, with its parameters, so the console says
it in the reader's language: ``reason`` (``notify_send_refused``, …) and ``params`` (JSON,
every value a string). Rows written before have neither and keep their English ``error``.

Revision ID: n0002
"""

import sqlalchemy as sa
from alembic import op

revision = "n0002"
down_revision = "n0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notify_deliveries") as batch:
        batch.add_column(sa.Column("reason", sa.String(48), nullable=True))
        batch.add_column(sa.Column("params", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notify_deliveries") as batch:
        batch.drop_column("params")
        batch.drop_column("reason")
