"""Tables of threat sharing (SQLAlchemy Core), created by migration ss001: TAXII collections,
the STIX objects in them (every version kept), the status resources of TAXII posts, and the
TAXII feeds this installation pulls from."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

collections = sa.Table(
    "sharing_collections",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),  # a UUID, the TAXII collection id
    sa.Column("enterprise_id", sa.Integer, nullable=True),  # None: the installation's own
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.String(1000), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

objects = sa.Table(
    "sharing_objects",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True),  # order of arrival, the paging key
    sa.Column("collection_id", sa.String(36), nullable=False),
    sa.Column("stix_id", sa.String(300), nullable=False),
    sa.Column("type", sa.String(250), nullable=False),
    sa.Column("version", sa.String(32), nullable=False),  # modified (else created), µs, Z
    sa.Column("spec_version", sa.String(8), nullable=False),
    sa.Column("date_added", sa.String(32), nullable=False),  # µs, Z: compares as text
    sa.Column("body", sa.Text, nullable=False),  # the object as JSON
)

statuses = sa.Table(
    "sharing_statuses",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("collection_id", sa.String(36), nullable=False),
    sa.Column("enterprise_id", sa.Integer, nullable=True),
    sa.Column("request_timestamp", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the TAXII status resource as JSON
)

feeds = sa.Table(
    "sharing_feeds",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("api_root", sa.String(2000), nullable=False),  # https://host/api1/
    sa.Column("remote_collection", sa.String(100), nullable=False),
    sa.Column("collection_id", sa.String(36), nullable=False),  # where objects are kept
    sa.Column("username", sa.String(200), nullable=False),
    sa.Column("secret", sa.Text, nullable=True),  # sealed (core.sealed), never shown back
    sa.Column("interval_s", sa.Integer, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("added_last", sa.String(40), nullable=True),  # the server's X-TAXII-Date-Added-Last
    sa.Column("next_run", sa.Float, nullable=False),  # seconds since the epoch
    sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("failures", sa.Integer, nullable=False),  # in a row
    sa.Column("objects_total", sa.Integer, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
