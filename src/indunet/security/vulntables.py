"""Tables of vulnerability matching (SQLAlchemy Core), created by migration sv001.

Advisories are shared by every enterprise (public CSAF documents, TLP:WHITE/CLEAR only); a match
belongs to the enterprise of its asset. The advisory's parsed products and vulnerabilities are
kept as JSON so matching does not re-read the documents.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

advisories = sa.Table(
    "security_vuln_advisories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("tracking_id", sa.String(100), nullable=False, unique=True),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("publisher", sa.String(200), nullable=False),
    sa.Column("tlp", sa.String(16), nullable=True),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("initial_release", sa.String(40), nullable=False),
    sa.Column("current_release", sa.String(40), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("source", sa.String(300), nullable=False),  # file name or "upload:<name>"
    sa.Column("cves", sa.JSON, nullable=False),
    sa.Column("max_score", sa.Float, nullable=True),
    sa.Column("severity", sa.String(16), nullable=True),
    sa.Column("products", sa.JSON, nullable=False),
    sa.Column("vulnerabilities", sa.JSON, nullable=False),
    sa.Column("search", sa.String(600), nullable=False),  # lower-cased id, title, CVEs
    sa.Column("imported_by", sa.String(200), nullable=False),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
)

matches = sa.Table(
    "security_vuln_matches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("enterprise_id", sa.Integer, nullable=False),
    sa.Column("asset_id", sa.Integer, nullable=False),
    sa.Column("asset_name", sa.String(300), nullable=False),
    sa.Column("advisory_id", sa.Integer, nullable=False),
    sa.Column("tracking_id", sa.String(100), nullable=False),
    sa.Column("cve", sa.String(64), nullable=False),
    sa.Column("product_id", sa.String(200), nullable=False),
    sa.Column("product_name", sa.String(300), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("why", sa.JSON, nullable=False),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("vector", sa.String(200), nullable=True),
    sa.Column("severity", sa.String(16), nullable=True),
    sa.Column("remediation_category", sa.String(24), nullable=True),
    sa.Column("remediation_text", sa.Text, nullable=True),
    sa.Column("remediation_url", sa.String(500), nullable=True),
    sa.Column("reason", sa.String(500), nullable=True),  # why a person set the state
    sa.Column("decided_by", sa.String(200), nullable=True),  # set: re-matching keeps the state
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("search", sa.String(600), nullable=False),
    sa.UniqueConstraint("asset_id", "advisory_id", "cve", name="uq_security_vuln_match"),
)

syncs = sa.Table(
    "security_vuln_syncs",
    metadata,
    sa.Column("source", sa.String(300), primary_key=True),
    sa.Column("newest", sa.DateTime(timezone=True), nullable=True),  # changes.csv time read up to
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
)
