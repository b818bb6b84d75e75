"""The apps subsystem's tables (SQLAlchemy Core), created by migration ap0001.

- ``apps_packages``: each installed version of an app or model, immutable: its checked
  manifest (JSON), the manifest's SHA-256, where it came from (built in, a file, a Python
  entry point), who installed it and when.
- ``apps_subscriptions``: an enterprise subscribed (订阅) to an app, pinned to a version or
  following the latest.
- ``apps_usage``: metering per app version, enterprise and day: calls, failures, CPU
  seconds, bytes in and out.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

packages = sa.Table(
    "apps_packages",
    metadata,
    sa.Column("id", sa.String(120), primary_key=True),
    sa.Column("version", sa.String(20), primary_key=True),
    sa.Column("major", sa.Integer, nullable=False),
    sa.Column("minor", sa.Integer, nullable=False),
    sa.Column("patch", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("owner", sa.String(18), nullable=False),
    sa.Column("title_zh", sa.String(200), nullable=False),
    sa.Column("title_en", sa.String(200), nullable=False),
    sa.Column("manifest", sa.Text, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # builtin | file | entrypoint
    sa.Column("installed", sa.Float, nullable=False),
    sa.Column("installed_by", sa.String(200), nullable=False),
)

subscriptions = sa.Table(
    "apps_subscriptions",
    metadata,
    sa.Column("enterprise_id", sa.Integer, primary_key=True),
    sa.Column("app", sa.String(120), primary_key=True),
    sa.Column("pinned", sa.String(20), nullable=True),  # None: the latest
    sa.Column("since", sa.Float, nullable=False),
)

usage = sa.Table(
    "apps_usage",
    metadata,
    sa.Column("app", sa.String(120), primary_key=True),
    sa.Column("version", sa.String(20), primary_key=True),
    sa.Column("enterprise_id", sa.Integer, primary_key=True),  # 0: no enterprise
    sa.Column("day", sa.String(10), primary_key=True),  # YYYY-MM-DD, UTC
    sa.Column("calls", sa.BigInteger, nullable=False),
    sa.Column("failures", sa.BigInteger, nullable=False),
    sa.Column("cpu_s", sa.Float, nullable=False),
    sa.Column("bytes_in", sa.BigInteger, nullable=False),
    sa.Column("bytes_out", sa.BigInteger, nullable=False),
)

sa.Index("ix_apps_packages_order", packages.c.id, packages.c.major, packages.c.minor,
         packages.c.patch)  # fmt: skip
