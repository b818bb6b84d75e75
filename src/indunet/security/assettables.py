"""Tables of the asset inventory (资产台账), created by migration sa001: assets, the keys
they are matched by, their merge history, zones and conduits (IEC 62443)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

assets = sa.Table(
    "security_assets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("enterprise_id", sa.Integer, nullable=True),  # None: the installation's own
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("asset_type", sa.String(8), nullable=False),  # ATT&CK for ICS A00xx, or ""
    sa.Column("role", sa.String(16), nullable=False),  # server, client, "" (not known)
    sa.Column("vendor", sa.String(200), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("model_numbers", sa.JSON, nullable=False),  # product code, order number…
    sa.Column("firmware", sa.String(200), nullable=False),
    sa.Column("serial", sa.String(200), nullable=False),
    sa.Column("hostname", sa.String(200), nullable=False),
    sa.Column("location", sa.String(200), nullable=False),
    sa.Column("logging", sa.String(200), nullable=False),
    sa.Column("criticality", sa.String(8), nullable=False),  # low, medium, high, critical, ""
    sa.Column("zone_id", sa.Integer, nullable=True),
    sa.Column("ips", sa.JSON, nullable=False),
    sa.Column("macs", sa.JSON, nullable=False),
    sa.Column("protocols", sa.JSON, nullable=False),
    sa.Column("ports", sa.JSON, nullable=False),  # ports it answers on
    sa.Column("accounts", sa.JSON, nullable=False),
    sa.Column("device_id", sa.String(63), nullable=True),
    sa.Column("identifier", sa.String(255), nullable=True),
    sa.Column("device_deleted", sa.Boolean, nullable=False),
    sa.Column("sources", sa.JSON, nullable=False),  # {source: first seen ISO}
    sa.Column("provenance", sa.JSON, nullable=False),  # {attribute: source that set it}
    sa.Column("alternatives", sa.JSON, nullable=False),  # {attribute: [{value, source}]}
    sa.Column("peers", sa.JSON, nullable=False),  # conversations seen, bounded
    sa.Column("search", sa.String(1000), nullable=False),  # lower-cased searchable text
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

asset_keys = sa.Table(
    "security_asset_keys",
    metadata,
    sa.Column("asset_id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(10), primary_key=True),  # mac, ip, identifier, device
    sa.Column("value", sa.String(255), primary_key=True),
    sa.Column("enterprise_id", sa.Integer, nullable=True),
)

asset_merges = sa.Table(
    "security_asset_merges",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("asset_id", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("matched", sa.String(300), nullable=False),  # "mac 00:1b:…", "new", "asset 7"
    sa.Column("decisions", sa.JSON, nullable=False),  # [{attribute, value, source, why}]
    sa.Column("actor", sa.String(200), nullable=False),
)

zones = sa.Table(
    "security_zones",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("enterprise_id", sa.Integer, nullable=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("sl_target", sa.Integer, nullable=False),  # SL-T 1–4
    sa.Column("description", sa.String(500), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

conduits = sa.Table(
    "security_conduits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("enterprise_id", sa.Integer, nullable=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("zone_a", sa.Integer, nullable=False),
    sa.Column("zone_b", sa.Integer, nullable=False),
    sa.Column("protocols", sa.JSON, nullable=False),  # what may pass
    sa.Column("description", sa.String(500), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
