"""The regulation subsystem's tables: enterprises under supervision, rule editions, gradings,
obligations, notices and their recipients, evidence files.

Revision ID: rg0001
"""

import sqlalchemy as sa
from alembic import op

revision = "rg0001"
down_revision = None
branch_labels = ("regulation",)
depends_on = "f0001"


def upgrade() -> None:
    op.create_table(
        "reg_editions",
        sa.Column("edition", sa.String(40), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("published_by", sa.String(63), nullable=False),
        sa.Column("published", sa.Float, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
    )
    op.create_table(
        "reg_enterprises",
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("etype", sa.String(16), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("industry", sa.String(8), nullable=False),
        sa.Column("tenant_id", sa.Integer, nullable=True),
        sa.Column("instance", sa.String(63), nullable=True),
        sa.Column("via", sa.String(63), nullable=True),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("grading_state", sa.String(16), nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
    )
    op.create_index("ix_reg_enterprises_region", "reg_enterprises", ["region"])
    op.create_index("ix_reg_enterprises_tenant", "reg_enterprises", ["tenant_id"])
    op.create_index("ix_reg_enterprises_type_level", "reg_enterprises", ["etype", "level"])
    op.create_table(
        "reg_evidence",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("parts", sa.Integer, nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=False),
        sa.Column("uploaded", sa.Float, nullable=False),
    )
    op.create_table(
        "reg_evidence_parts",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("n", sa.Integer, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "reg_gradings",
        sa.Column("uid", sa.String(32), primary_key=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("rev", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("edition", sa.String(40), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("proposed", sa.Integer, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
    )
    op.create_index("ix_reg_gradings_state", "reg_gradings", ["state"])
    op.create_index("ix_reg_gradings_uscc", "reg_gradings", ["uscc", "updated"])
    op.create_table(
        "reg_notices",
        sa.Column("uid", sa.String(32), primary_key=True),
        sa.Column("issuer", sa.String(63), nullable=False),
        sa.Column("issued_by", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("issued", sa.Float, nullable=False),
    )
    op.create_index("ix_reg_notices_issued", "reg_notices", ["issued"])
    op.create_table(
        "reg_obligations",
        sa.Column("uid", sa.String(32), primary_key=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("rev", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("item", sa.String(300), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("due", sa.Float, nullable=False),
        sa.Column("done", sa.Float, nullable=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
    )
    op.create_index("ix_reg_obligations_open", "reg_obligations", ["done", "due"])
    op.create_index("ix_reg_obligations_uscc", "reg_obligations", ["uscc", "due"])
    op.create_table(
        "reg_products",
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("vendor", sa.String(100), primary_key=True),
        sa.Column("product", sa.String(100), primary_key=True),
    )
    op.create_index("ix_reg_products_name", "reg_products", ["product", "vendor"])
    op.create_table(
        "reg_recipients",
        sa.Column("notice", sa.String(32), primary_key=True),
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("rev", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("sign_due", sa.Float, nullable=False),
        sa.Column("dispose_due", sa.Float, nullable=False),
        sa.Column("signed", sa.Float, nullable=True),
        sa.Column("reported", sa.Float, nullable=True),
        sa.Column("closed", sa.Float, nullable=True),
        sa.Column("escalated", sa.Float, nullable=True),
        sa.Column("escalated_to", sa.String(63), nullable=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
    )
    op.create_index("ix_reg_recipients_open", "reg_recipients", ["state", "dispose_due"])
    op.create_index("ix_reg_recipients_uscc", "reg_recipients", ["uscc", "state"])


def downgrade() -> None:
    for name in (
        "reg_recipients",
        "reg_products",
        "reg_obligations",
        "reg_notices",
        "reg_gradings",
        "reg_evidence_parts",
        "reg_evidence",
        "reg_enterprises",
        "reg_editions",
    ):
        op.drop_table(name)
