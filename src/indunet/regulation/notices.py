"""Notices (通报) and the disposal loop: issue → 签收 → 处置 and report → verify → close.

A regulator issues a notice (a vulnerability, an incident, a risk warning) to enterprises
under this instance, chosen by list, region, industry (GB/T 4754), type, level or by matching
assets (products in their inventories); the criteria given must all hold. Each recipient
signs it (before ``sign_due``), disposes of it and reports with evidence (before
``dispose_due``); the issuer closes it or sends it back. Deadlines follow the severity unless
the issuer sets them.

A recipient late for either deadline is escalated once by the instance that supervises its
enterprise directly (its parent instance, or the instance hosting it) to that instance's own
parent: the record says when and to whom, and travels like every other change.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
import sqlalchemy as sa

from indunet.core import audit
from indunet.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from indunet.federation import tree

from . import registry, rules
from .grading import _comment, _load, _save, evidence_list
from .replicate import Link
from .tables import enterprises, notices, recipients

KINDS = ("vulnerability", "incident", "risk")
SEVERITIES = ("critical", "high", "medium", "low")
HOUR = 3600.0
DEADLINES = {
    "critical": (24 * HOUR, 72 * HOUR),
    "high": (24 * HOUR, 7 * 24 * HOUR),
    "medium": (48 * HOUR, 15 * 24 * HOUR),
    "low": (72 * HOUR, 30 * 24 * HOUR),
}
"""Sign and dispose within (seconds), by severity, unless the issuer says otherwise."""
MIN_WITHIN, MAX_WITHIN = 10.0, 180 * 86_400.0
MAX_RECIPIENTS = 10_000
MAX_BODY = 20_000
OPEN = ("sent", "signed", "returned")
STATES = ("sent", "signed", "reported", "returned", "closed")


def _choice(value: Any, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise InvalidInput(
            f"{field} is one of {', '.join(allowed)}",
            reason="regulation_choice",
            params={"field": field, "allowed": ", ".join(allowed)},
        )
    return str(value)


def _within(value: Any, default: float, field: str) -> float:
    if value is None:
        return default
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not (MIN_WITHIN <= value <= MAX_WITHIN)
    ):
        raise InvalidInput(
            f"{field} is from {MIN_WITHIN:.0f} seconds to 180 days",
            reason="regulation_deadline",
            params={"field": field},
        )
    return float(value)


def select(conn: sa.Connection, sel: Any) -> list[str]:
    """The enterprises a selection names (all its criteria hold), each under this instance.
    An enterprise named by USCC that is not under it is 403 ``regulation_jurisdiction``."""
    if not isinstance(sel, dict) or not sel:
        raise InvalidInput(
            "a notice selects its recipients (uscc, region, industry, etype, level, products)",
            reason="regulation_selection",
        )
    unknown = set(sel) - {"uscc", "region", "industry", "etype", "level", "products"}
    if unknown:
        raise InvalidInput(
            f"no selection criterion {sorted(unknown)[0][:30]!r}", reason="regulation_selection"
        )
    where: list[sa.ColumnElement[bool]] = []
    listed = sel.get("uscc")
    if listed is not None:
        if not isinstance(listed, list) or not 0 < len(listed) <= MAX_RECIPIENTS:
            raise InvalidInput(
                f"uscc is a list of 1 to {MAX_RECIPIENTS:,} codes", reason="regulation_selection"
            )
        codes = {str(x)[:18] for x in listed}
        found = set(
            conn.execute(
                sa.select(enterprises.c.uscc).where(enterprises.c.uscc.in_(codes))
            ).scalars()
        )
        outside = sorted(codes - found)
        if outside:
            raise PermissionDenied(
                f"enterprise {outside[0]} is not under this instance's jurisdiction",
                reason="regulation_jurisdiction",
                params={"uscc": outside[0]},
            )
        where.append(enterprises.c.uscc.in_(codes))
    level = sel.get("level")
    if level is not None and level not in (0, *rules.LEVELS):
        raise InvalidInput("level is 0 (not graded), 1, 2 or 3", reason="regulation_level")
    etype = sel.get("etype") or ""
    if etype:
        _choice(etype, rules.TYPES, "etype")
    region, industry = sel.get("region") or "", sel.get("industry") or ""
    if region and not (isinstance(region, str) and region.isdigit() and len(region) <= 6):
        raise InvalidInput("region is a GB/T 2260 code (its prefix)", reason="regulation_region")
    if industry and not (isinstance(industry, str) and registry.INDUSTRY.match(industry.upper())):
        raise InvalidInput("industry is a GB/T 4754 code", reason="regulation_industry")
    where += registry.filters(etype=etype, level=level, region=region, industry=industry)
    wanted = sel.get("products")
    if wanted is not None:
        if not isinstance(wanted, list) or not 0 < len(wanted) <= 100:
            raise InvalidInput(
                "products are 1 to 100 [vendor, product] pairs", reason="regulation_products"
            )
        pairs = []
        for p in wanted:
            if isinstance(p, list) and len(p) == 2 and p[0] == "":
                pairs.append(("", str(p[1]).strip().lower()))
            else:
                pairs.extend(registry.product_pairs([p]))
        where.append(enterprises.c.uscc.in_(registry.matching_products(conn, pairs) or {""}))
    chosen = list(
        conn.execute(
            sa.select(enterprises.c.uscc)
            .where(*where)
            .order_by(enterprises.c.uscc)
            .limit(MAX_RECIPIENTS + 1)
        ).scalars()
    )
    if not chosen:
        raise InvalidInput("no enterprise matches the selection", reason="regulation_no_recipients")
    if len(chosen) > MAX_RECIPIENTS:
        raise InvalidInput(
            f"a notice goes to at most {MAX_RECIPIENTS:,} enterprises",
            reason="regulation_selection",
        )
    return chosen


def issue(
    conn: sa.Connection,
    link: Link,
    actor: str,
    fields: dict[str, Any],
    selection: Any,
    now: float | None = None,
) -> dict[str, Any]:
    """Issue a notice to the enterprises ``selection`` names; the notice with its count."""
    kind = _choice(fields.get("kind"), KINDS, "kind")
    severity = _choice(fields.get("severity"), SEVERITIES, "severity")
    title = fields.get("title")
    body = fields.get("body", "")
    if not isinstance(title, str) or not 0 < len(title.strip()) <= 200:
        raise InvalidInput(
            "a notice has a title of 1 to 200 characters",
            reason="regulation_field",
            params={"field": "title", "max": 200},
        )
    if not isinstance(body, str) or len(body) > MAX_BODY:
        raise InvalidInput(
            f"a notice's text has at most {MAX_BODY:,} characters",
            reason="regulation_field",
            params={"field": "body", "max": MAX_BODY},
        )
    sign_s, dispose_s = DEADLINES[severity]
    sign_s = _within(fields.get("sign_within_s"), sign_s, "sign_within_s")
    dispose_s = _within(fields.get("dispose_within_s"), dispose_s, "dispose_within_s")
    if dispose_s < sign_s:
        raise InvalidInput(
            "disposal is due no earlier than signing",
            reason="regulation_deadline",
            params={"field": "dispose_within_s"},
        )
    chosen = select(conn, selection)
    me = link.me(conn)
    now = time.time() if now is None else now
    notice = {
        "uid": uuid.uuid4().hex,
        "issuer": me[0] if me else "",
        "issued_by": actor[:200],
        "kind": kind,
        "severity": severity,
        "title": title.strip(),
        "body": body,
        "issued": now,
    }
    conn.execute(notices.insert().values(**notice))
    rows = [
        {
            "notice": notice["uid"],
            "uscc": u,
            "rev": 1,
            "state": "sent",
            "sign_due": now + sign_s,
            "dispose_due": now + dispose_s,
            "signed": None,
            "reported": None,
            "closed": None,
            "escalated": None,
            "escalated_to": None,
            "data": orjson.dumps(
                {"history": [{"at": now, "by": actor, "action": "notice.issue", "state": None}]}
            ).decode(),
            "updated": now,
        }
        for u in chosen
    ]
    conn.execute(recipients.insert(), rows)
    ents = {
        r["uscc"]: dict(r)
        for r in conn.execute(
            sa.select(enterprises).where(enterprises.c.uscc.in_(chosen))
        ).mappings()
    }
    audit.record(
        conn,
        actor,
        "regulation.notice.issue",
        f"notice {notice['uid']}",
        {"title": notice["title"], "severity": severity, "recipients": len(rows)},
        enterprise_id=None,
    )
    link.notice(conn, notice, rows, ents, came_from=None)
    return {**notice, "recipients": len(rows)}


def get(conn: sa.Connection, uid: str) -> dict[str, Any]:
    row = conn.execute(sa.select(notices).where(notices.c.uid == uid)).first()
    if row is None:
        raise NotFound(f"no notice {uid[:32]}", reason="regulation_notice_unknown")
    return dict(row._mapping)


def recipient(conn: sa.Connection, uid: str, uscc: str) -> dict[str, Any]:
    row = conn.execute(
        sa.select(recipients).where(recipients.c.notice == uid, recipients.c.uscc == uscc)
    ).first()
    if row is None:
        raise NotFound(
            f"notice {uid[:32]} was not sent to {uscc[:18]}", reason="regulation_recipient_unknown"
        )
    out = dict(row._mapping)
    out["data"] = _load(out["data"])
    return out


def _move(
    conn: sa.Connection,
    link: Link,
    ent: dict[str, Any],
    r: dict[str, Any],
    actor: str,
    action: str,
    changes: dict[str, Any],
    data: dict[str, Any],
) -> None:
    """Change a recipient's record: a new revision, its history, audited, passed on."""
    before = {**r, "data": orjson.dumps(r["data"]).decode()}
    row = {**r, **changes, "data": {**r["data"], **data}}
    _save(conn, link, ent, recipients, "recipient", row, actor, action, before)


def _expect(r: dict[str, Any], states: tuple[str, ...], action: str) -> None:
    if r["state"] not in states:
        raise Conflict(
            f"a {r['state']} notice cannot be {action}",
            reason="regulation_notice_state",
            params={"state": r["state"], "action": action},
        )


def sign(
    conn: sa.Connection,
    link: Link,
    ent: dict[str, Any],
    uid: str,
    actor: str,
    now: float | None = None,
) -> dict[str, Any]:
    """签收: the enterprise acknowledges the notice."""
    r = recipient(conn, uid, ent["uscc"])
    _expect(r, ("sent",), "signed")
    _move(
        conn,
        link,
        ent,
        r,
        actor,
        "notice.sign",
        {"state": "signed", "signed": time.time() if now is None else now},
        {},
    )
    return recipient(conn, uid, ent["uscc"])


def report(
    conn: sa.Connection,
    link: Link,
    ent: dict[str, Any],
    uid: str,
    actor: str,
    text: Any,
    evidence_shas: Any = None,
    now: float | None = None,
) -> dict[str, Any]:
    """处置 and report: what was done, with evidence (signing first if not yet signed)."""
    r = recipient(conn, uid, ent["uscc"])
    _expect(r, ("sent", "signed", "returned"), "reported")
    words = _comment(text, True)
    files = evidence_list(conn, ent["uscc"], evidence_shas)
    now = time.time() if now is None else now
    changes: dict[str, Any] = {"state": "reported", "reported": now}
    if r["signed"] is None:
        changes["signed"] = now
    reports = [
        *r["data"].get("reports", [])[-9:],
        {"at": now, "by": actor, "text": words, "evidence": files},
    ]
    _move(conn, link, ent, r, actor, "notice.report", changes, {"reports": reports})
    return recipient(conn, uid, ent["uscc"])


def verify(
    conn: sa.Connection,
    link: Link,
    ent: dict[str, Any],
    uid: str,
    actor: str,
    decision: str,
    comment: Any = "",
    now: float | None = None,
) -> dict[str, Any]:
    """The issuer closes a reported disposal or sends it back with a comment."""
    n = get(conn, uid)
    me = link.me(conn)
    if n["issuer"] != (me[0] if me else ""):
        raise PermissionDenied(
            f"notice {uid} is verified by its issuer, {n['issuer']}",
            reason="regulation_not_issuer",
            params={"issuer": n["issuer"]},
        )
    r = recipient(conn, uid, ent["uscc"])
    _expect(r, ("reported",), "verified")
    if decision not in ("close", "return"):
        raise InvalidInput("decision is close or return", reason="regulation_decision")
    words = _comment(comment, decision == "return")
    now = time.time() if now is None else now
    verdicts = [
        *r["data"].get("verdicts", [])[-9:],
        {"at": now, "by": actor, "decision": decision, "text": words},
    ]
    changes = {"state": "closed", "closed": now} if decision == "close" else {"state": "returned"}
    _move(conn, link, ent, r, actor, f"notice.{decision}", changes, {"verdicts": verdicts})
    return recipient(conn, uid, ent["uscc"])


def _supervised(conn: sa.Connection) -> sa.ColumnElement[bool]:
    """The enterprises this instance supervises directly: those living at an enterprise
    instance that is its child, and those it hosts (unless it is an enterprise's instance).
    An enterprise hosted by a child province is that province's to supervise."""
    me = tree.me(conn)
    direct = sa.and_(
        enterprises.c.via == enterprises.c.instance,
        enterprises.c.via.in_(tree.children_at(conn, "enterprise") or [""]),
    )
    if me is not None and me[1] == "enterprise":
        return direct
    return sa.or_(direct, enterprises.c.via.is_(None))


def escalate_due(
    conn: sa.Connection, link: Link, now: float | None = None, limit: int = 500
) -> int:
    """Escalate the recipients late for a deadline that this instance supervises (once
    each); how many."""
    now = time.time() if now is None else now
    late = sa.or_(
        sa.and_(recipients.c.state == "sent", recipients.c.sign_due < now),
        sa.and_(recipients.c.state.in_(OPEN), recipients.c.dispose_due < now),
    )
    rows = (
        conn.execute(
            sa.select(recipients, enterprises.c.tenant_id)
            .join(enterprises, enterprises.c.uscc == recipients.c.uscc)
            .where(recipients.c.escalated.is_(None), late, _supervised(conn))
            .limit(limit)
        )
        .mappings()
        .all()
    )
    up = tree.parent(conn) if link.fed is not None else None
    me = link.me(conn)
    for m in rows:
        r = {str(c.name): m[c.name] for c in recipients.columns}
        r["data"] = _load(r["data"])
        ent = registry.get(conn, r["uscc"])
        which = "sign" if r["state"] == "sent" and r["sign_due"] < now else "dispose"
        _move(
            conn,
            link,
            ent,
            r,
            f"instance:{me[0] if me else 'local'}",
            "notice.escalate",
            {"escalated": now, "escalated_to": up or (me[0] if me else "")},
            {"escalation": which},
        )
    return len(rows)


def overdue(r: dict[str, Any], now: float) -> bool:
    return (r["state"] == "sent" and r["sign_due"] < now) or (
        r["state"] in OPEN and r["dispose_due"] < now
    )


__all__ = [
    "DEADLINES",
    "KINDS",
    "SEVERITIES",
    "escalate_due",
    "issue",
    "report",
    "select",
    "sign",
    "verify",
]
