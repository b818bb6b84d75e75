"""Tables of alerts and cases (SQLAlchemy Core), created by migration sc001: alerts the
detection engine raised, cases, what links an alert's observables to a case, and each case's
tasks, notes, evidence files and history."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

alerts = sa.Table(
    "security_alerts",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # Alert.id (hex)
    sa.Column("enterprise_id", sa.Integer, nullable=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rule", sa.String(100), nullable=False),
    sa.Column("rule_version", sa.Integer, nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("techniques", sa.JSON, nullable=False),
    sa.Column("src_ip", sa.String(45), nullable=True),
    sa.Column("dst_ip", sa.String(45), nullable=True),
    sa.Column("assets", sa.JSON, nullable=False),
    sa.Column("events", sa.JSON, nullable=False),  # copies, bounded (alertstore.MAX_EVIDENCE_BYTES)
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("grp", sa.String(200), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("search", sa.String(400), nullable=False),  # lower-cased rule, title, techniques
    sa.Column("case_id", sa.Integer, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

cases = sa.Table(
    "security_cases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("enterprise_id", sa.Integer, nullable=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("tlp", sa.String(16), nullable=False),
    sa.Column("pap", sa.String(8), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("disposition", sa.String(32), nullable=True),
    sa.Column("assignee", sa.String(200), nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ack_due", sa.DateTime(timezone=True), nullable=False),
    sa.Column("resolve_due", sa.DateTime(timezone=True), nullable=False),
    sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("alerts", sa.Integer, nullable=False),  # alerts promoted or merged into it
    sa.Column("search", sa.String(400), nullable=False),  # lower-cased title, assignee
    # the rule an automatic title came from: shown as the rule's title in the reader's
    # language; None once a person gives the case a title
    sa.Column("title_rule", sa.String(200), nullable=True),
)

links = sa.Table(
    "security_case_links",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.Integer, nullable=False),
    sa.Column("enterprise_id", sa.Integer, nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),  # asset, ip, technique
    sa.Column("value", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),  # the newest alert's time
)

tasks = sa.Table(
    "security_case_tasks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.Integer, nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("assignee", sa.String(200), nullable=True),
    sa.Column("done", sa.Boolean, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

notes = sa.Table(
    "security_case_notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

evidence = sa.Table(
    "security_case_evidence",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("media_type", sa.String(100), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("stored", sa.String(64), nullable=False),  # file name under the evidence dir
    sa.Column("uploaded_by", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

history = sa.Table(
    "security_case_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("what", sa.String(32), nullable=False),  # field or event: status, note, merge…
    sa.Column("old", sa.String(400), nullable=True),
    sa.Column("new", sa.String(400), nullable=True),
    sa.Column("detail", sa.JSON, nullable=False),
)

sa.Index("ix_security_alerts_owner_ts", alerts.c.enterprise_id, alerts.c.ts)
sa.Index("ix_security_alerts_ts", alerts.c.ts)
sa.Index("ix_security_alerts_case", alerts.c.case_id)
sa.Index("ix_security_cases_owner", cases.c.enterprise_id, cases.c.status)
sa.Index("ix_security_case_links_value", links.c.enterprise_id, links.c.kind, links.c.value)
sa.Index("ix_security_case_links_case", links.c.case_id)
sa.Index("ix_security_case_tasks_case", tasks.c.case_id)
sa.Index("ix_security_case_notes_case", notes.c.case_id)
sa.Index("ix_security_case_evidence_case", evidence.c.case_id)
sa.Index("ix_security_case_history_case", history.c.case_id, history.c.id)
