"""Advisories and matches in the database, behind the access rule.

Advisories are public and shared: only TLP:WHITE / TLP:CLEAR documents (or documents stating no
TLP) are stored; any other label is refused (``vuln_tlp_refused``), because an advisory is visible
to every enterprise and a restricted one must not be. A document whose tracking id is already
stored with the same SHA-256 is left alone; a new revision replaces the old one.

Matches belong to their asset's enterprise: listing goes through ``access.scope``, a change
through ``access.check_change`` (enterprise admins of that enterprise, platform admins), and every
change is audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core import InvalidInput, NotFound, User, access, audit
from indunet.core.paged import page_of_rows
from indunet.security.vulns.document import Advisory, Product, Vulnerability
from indunet.security.vulns.ingest import Loaded
from indunet.security.vulntables import advisories, matches

ALLOWED_TLP = (None, "WHITE", "CLEAR")
STATES = ("confirmed", "probable", "needs_review", "dismissed")
SEVERITIES = ("critical", "high", "medium", "low", "none")
MAX_REASON = 500


@dataclass(frozen=True)
class Stored:
    """What storing a batch of documents did."""

    changed: list[int]  # advisory ids new or revised (to re-match)
    unchanged: int


def check_tlp(advisory: Advisory, name: str) -> None:
    """Refuse a document that is not public."""
    label = (advisory.tlp or "").upper() or None
    if label not in ALLOWED_TLP:
        raise InvalidInput(
            f"{name}: TLP:{label} advisories are not stored (only TLP:WHITE / TLP:CLEAR)",
            reason="vuln_tlp_refused",
            params={"file": name, "tlp": str(label)},
        )


def store(conn: sa.Connection, loaded: Iterable[Loaded], actor: str, source: str) -> Stored:
    """Insert or revise advisories (in the caller's transaction); TLP is checked first."""
    changed: list[int] = []
    unchanged = 0
    now = datetime.now(UTC)
    for item in loaded:
        a = item.advisory
        check_tlp(a, item.name)
        if not a.tracking_id:
            raise InvalidInput(
                f"{item.name}: no tracking id",
                reason="vuln_no_tracking_id",
                params={"file": item.name},
            )
        row = conn.execute(
            sa.select(advisories.c.id, advisories.c.sha256).where(
                advisories.c.tracking_id == a.tracking_id[:100]
            )
        ).first()
        if row is not None and row.sha256 == item.sha256:
            unchanged += 1
            continue
        values = _values(a, item, actor, f"{source}:{item.name}"[:300], now)
        if row is None:
            ident = conn.execute(
                advisories.insert().values(**values).returning(advisories.c.id)
            ).scalar_one()
        else:
            conn.execute(advisories.update().where(advisories.c.id == row.id).values(**values))
            ident = row.id
        changed.append(int(ident))
    return Stored(changed, unchanged)


def _values(a: Advisory, item: Loaded, actor: str, source: str, now: datetime) -> dict[str, Any]:
    cves = sorted({v.cve for v in a.vulnerabilities if v.cve})
    scores = [v.score for v in a.vulnerabilities if v.score is not None]
    top = max(scores) if scores else None
    severity = (
        next((v.severity for v in a.vulnerabilities if v.score == top), None)
        if top is not None
        else None
    )
    return {
        "tracking_id": a.tracking_id[:100],
        "title": a.title[:500],
        "publisher": a.publisher[:200],
        "tlp": a.tlp,
        "version": a.version[:32],
        "initial_release": a.initial_release[:40],
        "current_release": a.current_release[:40],
        "sha256": item.sha256,
        "source": source,
        "cves": cves,
        "max_score": top,
        "severity": severity,
        "products": [p.to_json() for p in a.products],
        "vulnerabilities": [v.to_json() for v in a.vulnerabilities],
        "search": " ".join([a.tracking_id, a.title, a.publisher, *cves]).lower()[:600],
        "imported_by": actor[:200],
        "imported_at": now,
    }


def advisory_from_row(row: Any) -> Advisory:
    """An `Advisory` rebuilt from its stored row (for matching)."""
    return Advisory(
        tracking_id=row.tracking_id,
        title=row.title,
        publisher=row.publisher,
        tlp=row.tlp,
        version=row.version,
        initial_release=row.initial_release,
        current_release=row.current_release,
        products=tuple(Product.from_json(p) for p in row.products),
        vulnerabilities=tuple(Vulnerability.from_json(v) for v in row.vulnerabilities),
    )


def load_advisories(conn: sa.Connection, ids: Sequence[int] | None = None) -> dict[int, Advisory]:
    """Stored advisories (all, or those ids) as `Advisory` values."""
    query = sa.select(advisories)
    if ids is not None:
        query = query.where(advisories.c.id.in_(list(ids)))
    return {int(r.id): advisory_from_row(r) for r in conn.execute(query)}


ADVISORY_COLUMNS = (
    advisories.c.id,
    advisories.c.tracking_id,
    advisories.c.title,
    advisories.c.publisher,
    advisories.c.tlp,
    advisories.c.current_release,
    advisories.c.cves,
    advisories.c.max_score,
    advisories.c.severity,
    advisories.c.imported_at,
)


def list_advisories(
    conn: sa.Connection,
    *,
    q: str = "",
    severity: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    """One page of advisories (shared: every signed-in user may list them), newest first."""
    where: list[sa.ColumnElement[bool]] = []
    if q.strip():
        where.append(advisories.c.search.contains(q.strip().lower()[:100], autoescape=True))
    if severity:
        where.append(advisories.c.severity == _severity(severity))
    return page_of_rows(
        conn, advisories, ADVISORY_COLUMNS, where,
        [advisories.c.current_release.desc(), advisories.c.id.desc()],
        offset=offset, limit=limit, scan=bool(q.strip()),
    )  # fmt: skip


def _severity(value: str) -> str:
    if value not in SEVERITIES:
        raise InvalidInput(
            f"unknown severity {value!r}",
            reason="vuln_bad_severity",
            params={"severity": value[:20]},
        )
    return value


def _state(value: str) -> str:
    if value not in STATES:
        raise InvalidInput(
            f"unknown state {value!r}", reason="vuln_bad_state", params={"state": value[:20]}
        )
    return value


MATCH_COLUMNS = tuple(c for c in matches.c if c.name != "search")


def list_matches(
    conn: sa.Connection,
    user: User,
    *,
    enterprise_id: int | None = None,
    asset_id: int | None = None,
    severity: str | None = None,
    state: str | None = None,
    q: str = "",
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the matches `user` may see, highest score first."""
    eid = access.scope(user, enterprise_id)
    where: list[sa.ColumnElement[bool]] = []
    if eid is not None:
        where.append(matches.c.enterprise_id == eid)
    if asset_id is not None:
        where.append(matches.c.asset_id == asset_id)
    if severity:
        where.append(matches.c.severity == _severity(severity))
    if state:
        where.append(matches.c.state == _state(state))
    if q.strip():
        where.append(matches.c.search.contains(q.strip().lower()[:100], autoescape=True))
    order = [sa.func.coalesce(matches.c.score, -1).desc(), matches.c.id.desc()]
    return page_of_rows(
        conn, matches, MATCH_COLUMNS, where, order, offset=offset, limit=limit, scan=bool(q.strip())
    )


def get_match(conn: sa.Connection, user: User, match_id: int) -> dict[str, Any]:
    """One match `user` may see (another tenant's is not found)."""
    row = conn.execute(sa.select(*MATCH_COLUMNS).where(matches.c.id == match_id)).first()
    if row is None:
        raise NotFound(f"no match {match_id}", reason="vuln_no_match", params={"id": str(match_id)})
    try:
        access.check_see(user, row.enterprise_id, f"match {match_id}")
    except NotFound:
        raise NotFound(
            f"no match {match_id}", reason="vuln_no_match", params={"id": str(match_id)}
        ) from None
    return dict(row._mapping)


def set_state(
    conn: sa.Connection, user: User, match_id: int, state: str, reason: str
) -> dict[str, Any]:
    """Set a match's state by a person (kept across re-matching); dismissing needs a reason."""
    row = get_match(conn, user, match_id)
    access.check_change(user, row["enterprise_id"], f"match {match_id}")
    _state(state)
    reason = reason.strip()
    if state == "dismissed" and not reason:
        raise InvalidInput("dismissing a match needs a reason", reason="vuln_reason_needed")
    if len(reason) > MAX_REASON:
        raise InvalidInput(
            f"the reason is longer than {MAX_REASON} characters",
            reason="vuln_reason_too_long",
            params={"max": str(MAX_REASON)},
        )
    now = datetime.now(UTC)
    conn.execute(
        matches.update()
        .where(matches.c.id == match_id)
        .values(state=state, reason=reason or None, decided_by=user.username, decided_at=now)
    )
    audit.record(
        conn,
        f"user:{user.username}",
        "security.vuln_match_state",
        f"match {match_id}",
        {
            "from": row["state"],
            "to": state,
            "reason": reason,
            "cve": row["cve"],
            "asset_id": row["asset_id"],
        },
        enterprise_id=row["enterprise_id"],
    )
    return get_match(conn, user, match_id)


def open_by_severity(
    conn: sa.Connection, user: User, enterprise_id: int | None = None
) -> list[dict[str, Any]]:
    """Open (not dismissed) vulnerabilities per severity: CVEs and affected assets."""
    eid = access.scope(user, enterprise_id)
    where = [matches.c.state != "dismissed"]
    if eid is not None:
        where.append(matches.c.enterprise_id == eid)
    rows = conn.execute(
        sa.select(
            matches.c.severity,
            sa.func.count(sa.distinct(matches.c.cve)).label("vulnerabilities"),
            sa.func.count(sa.distinct(matches.c.asset_id)).label("assets"),
            sa.func.count().label("matches"),
        )
        .where(*where)
        .group_by(matches.c.severity)
    ).all()
    found: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = r.severity if r.severity in SEVERITIES else "none"
        row = found.setdefault(
            key, {"severity": key, "vulnerabilities": 0, "assets": 0, "matches": 0}
        )
        for name in ("vulnerabilities", "assets", "matches"):
            row[name] += int(getattr(r, name))  # no score and "none" are one row
    return [
        found.get(s, {"severity": s, "vulnerabilities": 0, "assets": 0, "matches": 0})
        for s in SEVERITIES
    ]
