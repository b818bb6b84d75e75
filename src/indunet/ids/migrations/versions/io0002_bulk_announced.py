"""Bulk jobs record when their ``bulk.finished`` event was published (``announced_at``).

Any process may publish it, whichever process ran the import (the console, the API, or the
CLI in a process with no event bus): the one that sets ``announced_at`` publishes. Jobs that
finished before this revision are taken as announced, so an upgrade sends nothing old.

Revision ID: io0002
"""

import sqlalchemy as sa
from alembic import op

revision = "io0002"
down_revision = "io0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ids_bulk_jobs", sa.Column("announced_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE ids_bulk_jobs SET announced_at = updated_at WHERE status = 'done'")
    op.create_index("ix_ids_bulk_jobs_unannounced", "ids_bulk_jobs", ["status", "announced_at"])


def downgrade() -> None:
    op.drop_index("ix_ids_bulk_jobs_unannounced", "ids_bulk_jobs")
    op.drop_column("ids_bulk_jobs", "announced_at")
