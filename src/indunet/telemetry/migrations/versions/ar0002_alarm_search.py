"""Alarm search: one lower-cased text of the message, device id and rule name, so a search is
one plain LIKE (three ILIKEs took about 200 ms over 20,000 alarms of one enterprise).

Revision ID: ar0002
"""

import sqlalchemy as sa
from alembic import op

revision = "ar0002"
down_revision = "ar0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tel_alarms") as batch:
        batch.add_column(sa.Column("search", sa.String(1200), nullable=True))
    op.execute(
        "UPDATE tel_alarms SET search = lower(message || ' ' || device_id || ' ' || rule_name)"
    )


def downgrade() -> None:
    with op.batch_alter_table("tel_alarms") as batch:
        batch.drop_column("search")
