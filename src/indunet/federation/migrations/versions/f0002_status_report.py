"""Each child's last status report kept on its peer row: ``report`` (JSON text: the child's
own indicators and its subtree's totals, as the child sent them) and ``reported_at`` (the
report's time, the child's clock).

Revision ID: f0002
"""

import sqlalchemy as sa
from alembic import op

revision = "f0002"
down_revision = "f0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fed_peers") as batch:
        batch.add_column(sa.Column("report", sa.Text, nullable=True))
        batch.add_column(sa.Column("reported_at", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fed_peers") as batch:
        batch.drop_column("reported_at")
        batch.drop_column("report")
