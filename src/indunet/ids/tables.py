"""Tables of the identifier subsystem (SQLAlchemy Core)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

handles = sa.Table(
    "ids_handles",
    metadata,
    sa.Column("node", sa.String(64), primary_key=True),
    sa.Column("hkey", sa.String(400), primary_key=True),
    sa.Column("handle", sa.String(400), nullable=False),
    sa.Column("prefix", sa.String(128), nullable=False),
    sa.Column("record", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

templates = sa.Table(
    "ids_templates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("prefix", sa.String(128), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("industry_code", sa.String(8), nullable=False),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    sa.Column("items", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("prefix", "name", "version"),
)

prefixes = sa.Table(
    "ids_prefixes",
    metadata,
    sa.Column("prefix", sa.String(128), primary_key=True),
    sa.Column("node", sa.String(64), nullable=False),
    sa.Column("enterprise_id", sa.Integer, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # revocation (migration io0001): when, by whom and why; the row stays for the record
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_by", sa.String(200), nullable=False, server_default=""),
    sa.Column("revoke_reason", sa.String(500), nullable=False, server_default=""),
    # the end of the allocation's term (migration ip0001); None: no term (ids.terms)
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
)

prefix_applications = sa.Table(  # applications for a prefix or a renewal (ids.applications)
    "ids_prefix_applications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # new or renew
    sa.Column("prefix", sa.String(128), nullable=False),
    sa.Column("node", sa.String(64), nullable=False),
    sa.Column("enterprise_id", sa.Integer, nullable=False),
    sa.Column("purpose", sa.String(500), nullable=False, server_default=""),
    sa.Column("state", sa.String(16), nullable=False),  # pending, approved or rejected
    sa.Column("applied_by", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reviewed_by", sa.String(200), nullable=False, server_default=""),
    sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    # the end of the term an approval gave (the allocation's expires_at then)
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_ids_prefix_applications_state", "state", "id"),
    sa.Index("ix_ids_prefix_applications_enterprise", "enterprise_id", "id"),
    sa.Index("ix_ids_prefix_applications_prefix", "prefix", "state"),
)

daily_stats = sa.Table(  # registrations and resolutions per UTC hour and prefix (ids.daily)
    "ids_daily_stats",
    metadata,
    sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("prefix", sa.String(128), primary_key=True),
    sa.Column("registrations", sa.Integer, nullable=False, server_default="0"),
    sa.Column("resolutions", sa.Integer, nullable=False, server_default="0"),
)

bulk_jobs = sa.Table(
    "ids_bulk_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("node", sa.String(64), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("registered", sa.Integer, nullable=False),
    sa.Column("unchanged", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("next_line", sa.Integer, nullable=False),
    sa.Column("errors", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("enterprise_id", sa.Integer, nullable=True),  # migration io0001
    sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True),  # migration io0002
)

handle_history = sa.Table(
    "ids_handle_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("node", sa.String(64), nullable=False),
    sa.Column("hkey", sa.String(400), nullable=False),
    sa.Column("handle", sa.String(400), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("before", sa.Text, nullable=True),
    # migration ih0002: the prefix the record is under and its owner when written (search)
    sa.Column("prefix", sa.String(128), nullable=False, server_default=""),
    sa.Column("enterprise_id", sa.Integer, nullable=True),
    sa.Index("ix_ids_handle_history_key", "node", "hkey", "id"),
    sa.Index("ix_ids_handle_history_owner", "enterprise_id", "id"),
    sa.Index("ix_ids_handle_history_prefix", "prefix", "id"),
    sa.Index("ix_ids_handle_history_at", "at"),
)

active_nonces = (
    sa.Table(  # nonces of signed active-identifier requests (ids.active), migration iv0001
        "ids_active_nonces",
        metadata,
        sa.Column("node", sa.String(64), primary_key=True),
        sa.Column("hkey", sa.String(400), primary_key=True),
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("expires", sa.Float, nullable=False),
    )
)

changes = sa.Table(  # what changed, for other processes' answer caches (ids.changes)
    "ids_changes",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("node", sa.String(64), nullable=False),
    sa.Column("hkey", sa.String(400), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index("ix_ids_changes_at", "at"),
    sqlite_autoincrement=True,  # a sequence never reused, even once every row is pruned
)

# The durable change log (ids.changelog), migration ir0001: one row per record written or
# deleted, numbered per node by ``changelog_heads.last`` (taken under its row lock).
changelog = sa.Table(
    "ids_changelog",
    metadata,
    sa.Column("node", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hkey", sa.String(400), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index("ix_ids_changelog_at", "at"),
)

changelog_heads = sa.Table(
    "ids_changelog_heads",
    metadata,
    sa.Column("node", sa.String(64), primary_key=True),
    sa.Column("last", sa.BigInteger, nullable=False),  # the highest number given
    sa.Column("pruned", sa.BigInteger, nullable=False),  # every number up to it was pruned
)

replicas = sa.Table(  # what a disaster-recovery node has applied (ids.replica)
    "ids_replicas",
    metadata,
    sa.Column("node", sa.String(64), primary_key=True),
    sa.Column("primary_url", sa.String(500), nullable=False),
    sa.Column("applied", sa.BigInteger, nullable=True),  # None: a full copy is needed
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
)
