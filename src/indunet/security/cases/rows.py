"""Rows to shapes, and the one way a case's history grows (``changed``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.security.casetables import cases, history

from .model import Case, Change, Evidence, Note, StoredAlert, Task, sla_state

SYSTEM = "system:security"
"""The actor of what the alert store does on its own (promotion, merging)."""
_HISTORY_TEXT = 400


def utc(at: datetime | None) -> datetime | None:
    """``at`` as an aware UTC time (SQLite hands back naive ones)."""
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def aware(at: datetime) -> datetime:
    """``utc`` for a time that is never missing."""
    out = utc(at)
    assert out is not None
    return out


def case_of(row: Any, now: datetime) -> Case:
    """A ``Case`` from a row of ``security_cases``, its SLA state at ``now``."""
    m = row._mapping
    created, ack, resolve = aware(m["created_at"]), aware(m["ack_due"]), aware(m["resolve_due"])
    resolved = utc(m["resolved_at"])
    return Case(
        id=m["id"],
        enterprise_id=m["enterprise_id"],
        title=m["title"],
        description=m["description"],
        severity=m["severity"],
        tlp=m["tlp"],
        pap=m["pap"],
        status=m["status"],
        disposition=m["disposition"],
        assignee=m["assignee"],
        created_by=m["created_by"],
        created_at=created,
        updated_at=aware(m["updated_at"]),
        ack_due=ack,
        resolve_due=resolve,
        acknowledged_at=utc(m["acknowledged_at"]),
        resolved_at=resolved,
        alerts=m["alerts"],
        sla=sla_state(m["status"], created, ack, resolve, resolved, now),
        title_rule=m["title_rule"],
    )


def task_of(row: Any) -> Task:
    m = row._mapping
    return Task(
        m["id"],
        m["case_id"],
        m["title"],
        m["assignee"],
        bool(m["done"]),
        m["created_by"],
        aware(m["created_at"]),
    )


def note_of(row: Any) -> Note:
    m = row._mapping
    return Note(m["id"], m["case_id"], m["text"], m["author"], aware(m["at"]))


def evidence_of(row: Any) -> Evidence:
    m = row._mapping
    return Evidence(
        m["id"],
        m["case_id"],
        m["name"],
        m["media_type"],
        int(m["size"]),
        m["sha256"],
        m["stored"],
        m["uploaded_by"],
        aware(m["at"]),
    )


def change_of(row: Any) -> Change:
    m = row._mapping
    detail = m["detail"] if isinstance(m["detail"], dict) else {}
    return Change(
        m["id"], m["case_id"], aware(m["at"]), m["actor"], m["what"], m["old"], m["new"], detail
    )


def alert_of(row: Any) -> StoredAlert:
    m = row._mapping
    return StoredAlert(
        id=m["id"],
        enterprise_id=m["enterprise_id"],
        ts=aware(m["ts"]),
        rule=m["rule"],
        rule_version=m["rule_version"],
        level=m["level"],
        title=m["title"],
        techniques=tuple(m["techniques"] or ()),
        src_ip=m["src_ip"],
        dst_ip=m["dst_ip"],
        assets=tuple(m["assets"] or ()),
        events=tuple(m["events"] or ()),
        count=m["count"],
        group=m["grp"],
        detail=m["detail"] if isinstance(m["detail"], dict) else {},
        case_id=m["case_id"],
    )


def _text(value: object) -> str | None:
    if value is None:
        return None
    s = str(value)
    return s if len(s) <= _HISTORY_TEXT else s[: _HISTORY_TEXT - 1] + "…"


def changed(
    conn: sa.Connection,
    case_id: int,
    actor: str,
    what: str,
    old: object,
    new: object,
    at: datetime,
    **detail: Any,
) -> None:
    """Add a line to the case's history and touch its ``updated_at`` (same transaction)."""
    conn.execute(
        history.insert().values(
            case_id=case_id,
            at=at,
            actor=actor,
            what=what,
            old=_text(old),
            new=_text(new),
            detail=detail,
        )
    )
    conn.execute(cases.update().where(cases.c.id == case_id).values(updated_at=at))
