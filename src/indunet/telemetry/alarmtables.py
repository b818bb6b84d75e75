"""Tables of rules, alarms, alarm comments and commands (SQLAlchemy Core), created by
migrations r0001, ar0001 (alarm model, manual clearing, comments) and ar0002 (search)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

rules = sa.Table(
    "tel_rules",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("enterprise_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("device_id", sa.String(63), nullable=True),
    sa.Column("model_id", sa.String(200), nullable=True),
    sa.Column("condition", sa.String(500), nullable=False),
    sa.Column("clear_condition", sa.String(500), nullable=True),
    sa.Column("duration_s", sa.Float, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("message", sa.String(500), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

alarms = sa.Table(
    "tel_alarms",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("rule_id", sa.Integer, nullable=False),
    sa.Column("rule_name", sa.String(100), nullable=False),
    sa.Column("enterprise_id", sa.Integer, nullable=False),
    sa.Column("device_id", sa.String(63), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("message", sa.String(1000), nullable=False),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("occurrences", sa.Integer, nullable=False),
    sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("acked_by", sa.String(200), nullable=True),
    sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("ack_note", sa.String(500), nullable=True),
    sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("model_id", sa.String(200), nullable=True),
    sa.Column("cleared_by", sa.String(200), nullable=True),
    sa.Column("search", sa.String(1200), nullable=True),  # alarmquery.search_text (ar0002)
)

alarm_comments = sa.Table(
    "tel_alarm_comments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("alarm_id", sa.Integer, nullable=False),
    sa.Column("enterprise_id", sa.Integer, nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("text", sa.String(1000), nullable=False),
)

commands = sa.Table(
    "tel_commands",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("enterprise_id", sa.Integer, nullable=True),
    sa.Column("device_id", sa.String(63), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("argument", sa.JSON, nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("error", sa.String(1000), nullable=True),
    sa.Column("requested_by", sa.String(200), nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
)
