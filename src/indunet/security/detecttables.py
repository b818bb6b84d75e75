"""Tables of detection (SQLAlchemy Core), created by migration sd001: custom rule files and
their versions, rules switched on or off, per-enterprise named lists, and the baseline."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

rule_files = sa.Table(
    "security_detect_rule_files",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

rule_versions = sa.Table(
    "security_detect_rule_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),  # "" for a removal
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

rule_states = sa.Table(
    "security_detect_rule_states",
    metadata,
    sa.Column("rule_id", sa.String(80), primary_key=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

lists = sa.Table(
    "security_detect_lists",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("enterprise_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("items", sa.JSON, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("enterprise_id", "name", name="uq_security_detect_lists"),
)

baselines = sa.Table(
    "security_detect_baselines",
    metadata,
    sa.Column("enterprise_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("mode", sa.String(16), nullable=False),  # learning | enforcing
    sa.Column("started_at", sa.Float, nullable=False),  # seconds since the epoch
    sa.Column("until", sa.Float, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
)

baseline_items = sa.Table(
    "security_detect_baseline_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("enterprise_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # conversation | function
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("src_ip", sa.String(45), nullable=True),
    sa.Column("dst_ip", sa.String(45), nullable=False),
    sa.Column("protocol", sa.String(32), nullable=False),
    sa.Column("dst_port", sa.Integer, nullable=True),
    sa.Column("function", sa.String(64), nullable=True),
    sa.Column("origin", sa.String(16), nullable=False),  # learned | manual | alert
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.UniqueConstraint("enterprise_id", "kind", "key", name="uq_security_detect_baseline_items"),
)
