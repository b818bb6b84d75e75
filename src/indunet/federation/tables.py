"""The federation's tables (SQLAlchemy Core), created by migrations f0001 and f0002.

- ``fed_identity``: this instance (one row): its name, level, key pair (the private key
  sealed, ``core.sealed``), the URL its peers reach it at.
- ``fed_peers``: the parent and the children, each with its public key; a removed peer stays
  (its messages are refused by name, its history kept). A child's row also keeps its last
  status report (``report``, JSON: its indicators and its subtree's totals; ``reported_at``).
- ``fed_tokens``: one-time enrolment tokens a parent issued (SHA-256 of the token only).
- ``fed_outbox``: messages to send, numbered per recipient, kept until acknowledged (and a
  while after, for the record); ``fed_links`` holds each recipient's next number.
- ``fed_inbox``: each sender's last applied number, and ``fed_received``: the messages
  applied (sender, number, id, kind), so a resend is known and counted.
- ``fed_alerts``: alert summaries relayed up from the children (``alerts``), each with its
  origin, path and arrival; bounded per origin and by age.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

identity = sa.Table(
    "fed_identity",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),  # always 1
    sa.Column("name", sa.String(63), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("algorithm", sa.String(32), nullable=False),
    sa.Column("public_key", sa.LargeBinary, nullable=False),
    sa.Column("private_key", sa.Text, nullable=False),  # sealed base64
    sa.Column("url", sa.String(500), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

peers = sa.Table(
    "fed_peers",
    metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("role", sa.String(8), nullable=False),  # parent | child
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("algorithm", sa.String(32), nullable=False),
    sa.Column("public_key", sa.LargeBinary, nullable=False),
    sa.Column("url", sa.String(500), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),  # active | removed
    sa.Column("enrolled", sa.Float, nullable=False),
    sa.Column("last_contact", sa.Float, nullable=True),
    sa.Column("version", sa.String(40), nullable=True),
    sa.Column("report", sa.Text, nullable=True),  # JSON, the child's last status report
    sa.Column("reported_at", sa.Float, nullable=True),  # that report's time
)

tokens = sa.Table(
    "fed_tokens",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("note", sa.String(200), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
    sa.Column("used_by", sa.String(63), nullable=True),
    sa.Column("used_at", sa.Float, nullable=True),
)

links = sa.Table(
    "fed_links",
    metadata,
    sa.Column("recipient", sa.String(63), primary_key=True),
    sa.Column("next_seq", sa.BigInteger, nullable=False),
    sa.Column("acked_seq", sa.BigInteger, nullable=False),
)

outbox = sa.Table(
    "fed_outbox",
    metadata,
    sa.Column("recipient", sa.String(63), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("id", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(130), nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # JSON, as signed
    sa.Column("acked", sa.Boolean, nullable=False),
)

inbox = sa.Table(
    "fed_inbox",
    metadata,
    sa.Column("sender", sa.String(63), primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
)

received = sa.Table(
    "fed_received",
    metadata,
    sa.Column("sender", sa.String(63), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("id", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(130), nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("applied", sa.Float, nullable=False),
    sa.Column("outcome", sa.String(80), nullable=False),  # applied | refused: <reason>
)

sa.Index("ix_fed_outbox_pending", outbox.c.recipient, outbox.c.acked, outbox.c.seq)
sa.Index("ux_fed_received_id", received.c.id, unique=True)

alerts = sa.Table(
    "fed_alerts",
    metadata,
    sa.Column("no", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("origin", sa.String(63), nullable=False),  # the instance it started at
    sa.Column("path", sa.Text, nullable=False),  # JSON list: the instances it passed
    sa.Column("sender", sa.String(63), nullable=False),  # the child it came from
    sa.Column("alert", sa.String(32), nullable=False),  # the alert's id at its origin
    sa.Column("rule", sa.String(100), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("level", sa.Integer, nullable=False),  # 0-15
    sa.Column("techniques", sa.Text, nullable=False),  # JSON list of ATT&CK ids
    sa.Column("src_ip", sa.String(45), nullable=True),
    sa.Column("dst_ip", sa.String(45), nullable=True),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("received", sa.Float, nullable=False),
)

sa.Index("ix_fed_alerts_origin", alerts.c.origin, alerts.c.no)
sa.Index("ix_fed_alerts_received", alerts.c.received)
