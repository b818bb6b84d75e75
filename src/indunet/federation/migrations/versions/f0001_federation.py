"""The federation's tables: identity, peers, enrolment tokens, outbox, inbox.

Revision ID: f0001
"""

import sqlalchemy as sa
from alembic import op

revision = "f0001"
down_revision = None
branch_labels = ("federation",)
depends_on = "c0002"


def upgrade() -> None:
    op.create_table(
        "fed_identity",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("algorithm", sa.String(32), nullable=False),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("private_key", sa.Text, nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )
    op.create_table(
        "fed_peers",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("algorithm", sa.String(32), nullable=False),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("enrolled", sa.Float, nullable=False),
        sa.Column("last_contact", sa.Float, nullable=True),
        sa.Column("version", sa.String(40), nullable=True),
    )
    op.create_table(
        "fed_tokens",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("expires", sa.Float, nullable=False),
        sa.Column("used_by", sa.String(63), nullable=True),
        sa.Column("used_at", sa.Float, nullable=True),
    )
    op.create_table(
        "fed_links",
        sa.Column("recipient", sa.String(63), primary_key=True),
        sa.Column("next_seq", sa.BigInteger, nullable=False),
        sa.Column("acked_seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "fed_outbox",
        sa.Column("recipient", sa.String(63), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(130), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("acked", sa.Boolean, nullable=False),
    )
    op.create_index("ix_fed_outbox_pending", "fed_outbox", ["recipient", "acked", "seq"])
    op.create_table(
        "fed_inbox",
        sa.Column("sender", sa.String(63), primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "fed_received",
        sa.Column("sender", sa.String(63), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(130), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("applied", sa.Float, nullable=False),
        sa.Column("outcome", sa.String(80), nullable=False),
    )
    op.create_index("ux_fed_received_id", "fed_received", ["id"], unique=True)


def downgrade() -> None:
    for name in ("fed_received", "fed_inbox", "fed_outbox", "fed_links", "fed_tokens"):
        op.drop_table(name)
    op.drop_table("fed_peers")
    op.drop_table("fed_identity")
