"""Tables of the core subsystem (SQLAlchemy Core): enterprises, users, tokens, audit log."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

enterprises = sa.Table(
    "core_enterprises",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uscc", sa.String(18), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("legal_representative", sa.String(100), nullable=False, server_default=""),
    sa.Column("contact", sa.String(200), nullable=False, server_default=""),
    sa.Column("industry_code", sa.String(8), nullable=False, server_default=""),
    sa.Column("region", sa.String(100), nullable=False, server_default=""),
    sa.Column("verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # real-name review (migration ce0001): pending, approved or rejected, by whom, why, when
    sa.Column("review_state", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("review_reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("reviewed_by", sa.String(200), nullable=False, server_default=""),
    sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
    # self-registration (migration cr0001): applied by itself, with the applicant's contact
    sa.Column("self_registered", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("contact_phone", sa.String(32), nullable=False, server_default=""),
    sa.Column("contact_email", sa.String(254), nullable=False, server_default=""),
)

documents = sa.Table(  # review documents of enterprises (core.documents), migration cd0001
    "core_enterprise_documents",
    metadata,
    sa.Column("enterprise_id", sa.Integer, sa.ForeignKey("core_enterprises.id"), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("media_type", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("uploaded_by", sa.String(200), nullable=False),
    sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
)

users = sa.Table(
    "core_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("enterprise_id", sa.Integer, sa.ForeignKey("core_enterprises.id"), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # users and access operations (migration cu0001)
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("password_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
)

tokens = sa.Table(
    "core_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("core_users.id"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    # when it was last used (moved at most every few minutes) and where a session began (cu0001)
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("source", sa.String(100), nullable=False, server_default=""),
)

audit_log = sa.Table(
    "core_audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(300), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    # the enterprise an entry belongs to, for its admins to read (cu0001); None: overseers only
    sa.Column("enterprise_id", sa.Integer, nullable=True),
)
