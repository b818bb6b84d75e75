"""What a top-level node keeps of its secondaries (``ids.children``), migration ``iy0001``.

Every row is keyed by the reporting child's prefix (``reporter``), the prefix whose
credential the child authenticated with, so one child can neither overwrite nor read
another's rows through the push API.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

child_nodes = sa.Table(  # one row per child that ever reported or pushed its registry
    "ids_child_nodes",
    metadata,
    sa.Column("reporter", sa.String(128), primary_key=True),
    sa.Column("last_report_day", sa.Date, nullable=True),  # the latest day reported through
    sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("registry_digest", sa.String(64), nullable=False, server_default=""),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
)

child_reports = sa.Table(  # a child's registrations and resolutions of one day and prefix
    "ids_child_reports",
    metadata,
    sa.Column("reporter", sa.String(128), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),  # a day of China Standard Time (UTC+8)
    sa.Column("prefix", sa.String(128), primary_key=True),
    sa.Column("registrations", sa.BigInteger, nullable=False),
    sa.Column("resolutions", sa.BigInteger, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_ids_child_reports_day", "day", "reporter"),
    sa.Index("ix_ids_child_reports_prefix", "prefix", "day"),
)

child_enterprises = sa.Table(  # enterprises registered at a child
    "ids_child_enterprises",
    metadata,
    sa.Column("reporter", sa.String(128), primary_key=True),
    sa.Column("uscc", sa.String(18), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("verified", sa.Boolean, nullable=False),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
)

child_allocations = sa.Table(  # prefixes a child allocated, and to which of its enterprises
    "ids_child_allocations",
    metadata,
    sa.Column("reporter", sa.String(128), primary_key=True),
    sa.Column("prefix", sa.String(128), primary_key=True),
    sa.Column("uscc", sa.String(18), nullable=True),  # None: allocated to no enterprise
    sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_ids_child_allocations_prefix", "prefix"),
)
