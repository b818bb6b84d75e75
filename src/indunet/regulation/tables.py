"""The regulation subsystem's tables (SQLAlchemy Core), created by migration rg0001.

Records that travel between instances (gradings, obligations, notice recipients) carry a
``uid`` (the same at every instance) and a ``rev``: a copy is replaced only by a higher
revision, so a record applied twice, or late, changes nothing (``regulation.replicate``).

- ``reg_enterprises``: the enterprises under this instance's supervision, by USCC: hosted
  here (``tenant_id``, a core enterprise) or reached through a child instance (``instance``
  where it lives, ``via`` the child it is reached through); type, region, industry, the
  confirmed level and the state of its current grading.
- ``reg_products``: the products in each enterprise's asset inventory (vendor, product), for
  notices addressed by matching assets.
- ``reg_editions``: grading rule tables, by edition (``regulation.rules``).
- ``reg_gradings``: self-assessments and their review (自主定级 → 定级核查).
- ``reg_obligations``: what a confirmed level requires (分级防护, 符合性评测, risk assessment)
  and rectification items (安全整改), each with its due date and evidence.
- ``reg_notices`` and ``reg_recipients``: notices (通报) and each recipient's disposal.
- ``reg_evidence`` and ``reg_evidence_parts``: evidence files (content in parts, so that a
  file travels between instances in messages of bounded size).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

enterprises = sa.Table(
    "reg_enterprises",
    metadata,
    sa.Column("uscc", sa.String(18), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("etype", sa.String(16), nullable=False),  # industrial | platform | identifier
    sa.Column("region", sa.String(6), nullable=False),
    sa.Column("industry", sa.String(8), nullable=False),
    sa.Column("tenant_id", sa.Integer, nullable=True),
    sa.Column("instance", sa.String(63), nullable=True),
    sa.Column("via", sa.String(63), nullable=True),
    sa.Column("level", sa.Integer, nullable=False),  # 0: not graded
    sa.Column("grading_state", sa.String(16), nullable=False),  # none | draft | ...
    sa.Column("updated", sa.Float, nullable=False),
)

products = sa.Table(
    "reg_products",
    metadata,
    sa.Column("uscc", sa.String(18), primary_key=True),
    sa.Column("vendor", sa.String(100), primary_key=True),
    sa.Column("product", sa.String(100), primary_key=True),
)

editions = sa.Table(
    "reg_editions",
    metadata,
    sa.Column("edition", sa.String(40), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("published_by", sa.String(63), nullable=False),
    sa.Column("published", sa.Float, nullable=False),
    sa.Column("content", sa.Text, nullable=False),  # the table as JSON
)

gradings = sa.Table(
    "reg_gradings",
    metadata,
    sa.Column("uid", sa.String(32), primary_key=True),
    sa.Column("uscc", sa.String(18), nullable=False),
    sa.Column("rev", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("edition", sa.String(40), nullable=False),
    sa.Column("data", sa.Text, nullable=False),  # answers, evidence, scoring, comments (JSON)
    sa.Column("proposed", sa.Integer, nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)

obligations = sa.Table(
    "reg_obligations",
    metadata,
    sa.Column("uid", sa.String(32), primary_key=True),
    sa.Column("uscc", sa.String(18), nullable=False),
    sa.Column("rev", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("item", sa.String(300), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),  # the grading or evaluation's uid
    sa.Column("due", sa.Float, nullable=False),
    sa.Column("done", sa.Float, nullable=True),
    sa.Column("data", sa.Text, nullable=False),  # evidence, note, findings (JSON)
    sa.Column("updated", sa.Float, nullable=False),
)

notices = sa.Table(
    "reg_notices",
    metadata,
    sa.Column("uid", sa.String(32), primary_key=True),
    sa.Column("issuer", sa.String(63), nullable=False),  # the issuing instance
    sa.Column("issued_by", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # vulnerability | incident | risk
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("issued", sa.Float, nullable=False),
)

recipients = sa.Table(
    "reg_recipients",
    metadata,
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
    sa.Column("data", sa.Text, nullable=False),  # report, evidence, comments (JSON)
    sa.Column("updated", sa.Float, nullable=False),
)

evidence = sa.Table(
    "reg_evidence",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("uscc", sa.String(18), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("media_type", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("uploaded_by", sa.String(200), nullable=False),
    sa.Column("uploaded", sa.Float, nullable=False),
)

evidence_parts = sa.Table(
    "reg_evidence_parts",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("n", sa.Integer, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

sa.Index("ix_reg_enterprises_type_level", enterprises.c.etype, enterprises.c.level)
sa.Index("ix_reg_enterprises_region", enterprises.c.region)
sa.Index("ix_reg_enterprises_tenant", enterprises.c.tenant_id)
sa.Index("ix_reg_gradings_uscc", gradings.c.uscc, gradings.c.updated)
sa.Index("ix_reg_gradings_state", gradings.c.state)
sa.Index("ix_reg_obligations_uscc", obligations.c.uscc, obligations.c.due)
sa.Index("ix_reg_obligations_open", obligations.c.done, obligations.c.due)
sa.Index("ix_reg_recipients_uscc", recipients.c.uscc, recipients.c.state)
sa.Index("ix_reg_recipients_open", recipients.c.state, recipients.c.dispose_due)
sa.Index("ix_reg_notices_issued", notices.c.issued)
sa.Index("ix_reg_products_name", products.c.product, products.c.vendor)
