"""Dead letters name their detail stably, with its parameters, so the console can say it in
the reader's language: ``why`` (``above_maximum``, …) and ``params`` (JSON, every value a
string). Letters written before have neither and keep showing their English detail.

Revision ID: tx0002
"""

import sqlalchemy as sa
from alembic import op

revision = "tx0002"
down_revision = "tx0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tel_dead_letters") as batch:
        batch.add_column(sa.Column("why", sa.String(48), nullable=True))
        batch.add_column(sa.Column("params", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tel_dead_letters") as batch:
        batch.drop_column("params")
        batch.drop_column("why")
