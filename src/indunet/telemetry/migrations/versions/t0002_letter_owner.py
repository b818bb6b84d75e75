"""Dead letters carry the enterprise of their device, so reads filter by it.

A device id can be registered again by another enterprise after a delete; letters kept under
the id must not show to the new owner. Letters of no registered device have none (only
overseers see them).

Revision ID: t0002
"""

import sqlalchemy as sa
from alembic import op

revision = "t0002"
down_revision = "t0001"
branch_labels = None
depends_on = "d0001"


def upgrade() -> None:
    with op.batch_alter_table("tel_dead_letters") as batch:
        batch.add_column(sa.Column("enterprise_id", sa.Integer, nullable=True))
    op.execute(
        "UPDATE tel_dead_letters SET enterprise_id = "
        "(SELECT enterprise_id FROM dev_devices WHERE dev_devices.id = tel_dead_letters.device)"
    )
    op.create_index("ix_tel_dead_letters_enterprise", "tel_dead_letters", ["enterprise_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_tel_dead_letters_enterprise", "tel_dead_letters")
    with op.batch_alter_table("tel_dead_letters") as batch:
        batch.drop_column("enterprise_id")
