"""Cases made from an alert remember the rule their title came from (shown in the reader's
language until a person retitles the case).

Revision ID: sc002
"""

import sqlalchemy as sa
from alembic import op

revision = "sc002"
down_revision = "sc001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("security_cases") as batch:
        batch.add_column(sa.Column("title_rule", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("security_cases") as batch:
        batch.drop_column("title_rule")
