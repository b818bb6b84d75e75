"""Turning alerts into cases: a new case from an alert, or the alert merged into an open case.

Merge rule: an alert joins an OPEN case (new or in progress) of the SAME enterprise that has
an observable in common with it — an asset id, the source IP, or an ATT&CK technique — seen
on the case within ``MERGE_WINDOW`` before the alert's time. The newest such case wins; the
case's history says which alert joined and what it shares ("shares source 10.0.0.9").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from indunet.core import audit
from indunet.security.casetables import alerts, cases, links

from .model import OPEN_STATUSES, dues, severity_of_level
from .rows import aware, changed

MERGE_WINDOW = timedelta(hours=24)
DEFAULT_TLP = "AMBER"
DEFAULT_PAP = "AMBER"
#: Longest observable value kept (an IPv6 address is 45; technique ids are short).
_VALUE = 64


def observables(alert: dict[str, Any]) -> list[tuple[str, str]]:
    """An alert row's observables: ``(asset, id)``, ``(ip, source)``, ``(technique, id)``."""
    out = [("asset", str(a)) for a in alert.get("assets") or ()]
    if alert.get("src_ip"):
        out.append(("ip", str(alert["src_ip"])))
    out += [("technique", str(t)) for t in alert.get("techniques") or ()]
    return [(k, v[:_VALUE]) for k, v in dict.fromkeys(out)]


def _owner(column: sa.Column[Any], enterprise_id: int | None) -> sa.ColumnElement[bool]:
    return column.is_(None) if enterprise_id is None else column == enterprise_id


def open_case_for(
    conn: sa.Connection,
    enterprise_id: int | None,
    found: Iterable[tuple[str, str]],
    since: datetime,
) -> tuple[int, list[tuple[str, str]]] | None:
    """The newest open case of ``enterprise_id`` sharing one of ``found`` seen after
    ``since``, and what it shares; None when there is none."""
    pairs = list(found)
    if not pairs:
        return None
    q = (
        sa.select(links.c.case_id, links.c.kind, links.c.value)
        .join(cases, cases.c.id == links.c.case_id)
        .where(
            _owner(links.c.enterprise_id, enterprise_id),
            _owner(cases.c.enterprise_id, enterprise_id),
            cases.c.status.in_(OPEN_STATUSES),
            links.c.at >= since,
            sa.tuple_(links.c.kind, links.c.value).in_(pairs),
        )
        .order_by(links.c.case_id.desc())
        .limit(len(pairs) * 4)
    )
    rows = conn.execute(q).all()
    if not rows:
        return None
    case_id = rows[0].case_id
    return case_id, [(r.kind, r.value) for r in rows if r.case_id == case_id]


def _link(
    conn: sa.Connection,
    case_id: int,
    enterprise_id: int | None,
    found: Iterable[tuple[str, str]],
    at: datetime,
) -> None:
    for kind, value in found:
        old = conn.execute(
            sa.select(links.c.id, links.c.at).where(
                links.c.case_id == case_id, links.c.kind == kind, links.c.value == value
            )
        ).first()
        if old is None:
            conn.execute(
                links.insert().values(
                    case_id=case_id, enterprise_id=enterprise_id, kind=kind, value=value, at=at
                )
            )
        elif aware(old.at) < at:
            conn.execute(links.update().where(links.c.id == old.id).values(at=at))


def new_case(
    conn: sa.Connection,
    alert: dict[str, Any],
    actor: str,
    now: datetime,
    *,
    title: str | None = None,
    severity: str | None = None,
) -> int:
    """Make a case of ``alert`` (a row of ``security_alerts``); its id."""
    sev = severity or severity_of_level(int(alert["level"]))
    ack_due, resolve_due = dues(sev, now)
    name = (title or str(alert["title"]))[:200]
    case_id = int(
        conn.execute(
            cases.insert()
            .values(
                enterprise_id=alert["enterprise_id"],
                title=name,
                title_rule=None if title else str(alert["rule"])[:200],
                description="",
                severity=sev,
                tlp=DEFAULT_TLP,
                pap=DEFAULT_PAP,
                status="new",
                disposition=None,
                assignee=None,
                created_by=actor,
                created_at=now,
                updated_at=now,
                ack_due=ack_due,
                resolve_due=resolve_due,
                acknowledged_at=None,
                resolved_at=None,
                alerts=1,
                search=_search_of(name, alert, title),
            )
            .returning(cases.c.id)
        ).scalar_one()
    )
    conn.execute(alerts.update().where(alerts.c.id == alert["id"]).values(case_id=case_id))
    _link(conn, case_id, alert["enterprise_id"], observables(alert), alert["ts"])
    changed(conn, case_id, actor, "created", None, name, now, alert=alert["id"], severity=sev)
    audit.record(
        conn,
        actor,
        "security.case.create",
        f"case {case_id}",
        {"alert": alert["id"], "severity": sev},
        enterprise_id=alert["enterprise_id"],
    )
    return case_id


def merge_into(
    conn: sa.Connection,
    case_id: int,
    alert: dict[str, Any],
    shared: list[tuple[str, str]],
    actor: str,
    now: datetime,
) -> None:
    """Add ``alert`` to open case ``case_id``, recording what they share."""
    conn.execute(alerts.update().where(alerts.c.id == alert["id"]).values(case_id=case_id))
    conn.execute(cases.update().where(cases.c.id == case_id).values(alerts=cases.c.alerts + 1))
    _link(conn, case_id, alert["enterprise_id"], observables(alert), alert["ts"])
    changed(
        conn,
        case_id,
        actor,
        "merged",
        None,
        alert["id"],
        now,
        alert=alert["id"],
        shares=[f"{k} {v}" for k, v in shared],
    )
    audit.record(
        conn,
        actor,
        "security.case.merge",
        f"case {case_id}",
        {"alert": alert["id"], "shares": [f"{k} {v}" for k, v in shared]},
        enterprise_id=alert["enterprise_id"],
    )


def promote(
    conn: sa.Connection,
    alert: dict[str, Any],
    actor: str,
    now: datetime,
    window: timedelta = MERGE_WINDOW,
) -> tuple[int, bool]:
    """Merge ``alert`` into an open case it shares observables with, else make one; the
    case's id and whether it was merged."""
    found = open_case_for(conn, alert["enterprise_id"], observables(alert), alert["ts"] - window)
    if found is not None:
        merge_into(conn, found[0], alert, found[1], actor, now)
        return found[0], True
    return new_case(conn, alert, actor, now), False


def _search_of(name: str, alert: dict[str, Any], title: str | None) -> str:
    """What the case list's search reads: the title, and for a title taken from the rule the
    rule's Chinese title too (kept with the alert), so either language finds it."""
    detail = alert.get("detail") if title is None else None
    zh = detail.get("title_zh") if isinstance(detail, dict) else None
    return f"{name} {zh or ''}".strip().lower()[:400]
