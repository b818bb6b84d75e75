"""Reading alerts: a searched, filtered page of them, and one alert, as the reader may see."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from indunet.core import InvalidInput, NotFound, User, access
from indunet.core.paged import page_of_rows
from indunet.security.casetables import alerts

from .model import StoredAlert
from .rows import alert_of


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts a list shows. ``q`` is contained in rule, title or a technique."""

    q: str = ""
    rule: str = ""
    min_level: int = 0
    max_level: int = 15
    technique: str = ""
    ip: str = ""
    since: datetime | None = None
    until: datetime | None = None
    case_id: int | None = None
    enterprise_id: int | None = None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def where_of(user: User, f: AlertFilter) -> tuple[list[sa.ColumnElement[bool]], bool]:
    """The conditions of ``f`` for ``user``, and whether they scan (a ``LIKE``)."""
    c = alerts.c
    out: list[sa.ColumnElement[bool]] = []
    scan = False
    eid = access.scope(user, f.enterprise_id)
    if eid is not None:
        out.append(c.enterprise_id == eid)
    if f.rule:
        out.append(c.rule == f.rule)
    if f.min_level > 0:
        out.append(c.level >= f.min_level)
    if f.max_level < 15:
        out.append(c.level <= f.max_level)
    if f.ip:
        try:
            ip = str(ipaddress.ip_address(f.ip.strip()))
        except ValueError:
            raise InvalidInput(
                f"{f.ip!r} is not an IP address", reason="alert_ip", params={"ip": f.ip[:64]}
            ) from None
        out.append(sa.or_(c.src_ip == ip, c.dst_ip == ip))
    if f.technique:
        scan = True
        out.append(c.search.like(f"%{_like(f.technique.lower())}%", escape="\\"))
    if f.q:
        scan = True
        out.append(c.search.like(f"%{_like(f.q.lower())}%", escape="\\"))
    if f.since is not None:
        out.append(c.ts >= f.since)
    if f.until is not None:
        out.append(c.ts < f.until)
    if f.case_id is not None:
        out.append(c.case_id == f.case_id)
    return out, scan


def find_alerts(
    engine: sa.Engine, user: User, f: AlertFilter, *, offset: int = 0, limit: int = 20
) -> tuple[list[StoredAlert], int]:
    """One page of the alerts ``user`` may see that ``f`` matches, newest first."""
    where, scan = where_of(user, f)
    with engine.connect() as conn:
        rows, total = page_of_rows(
            conn,
            alerts,
            list(alerts.c),
            where,
            [alerts.c.ts.desc(), alerts.c.id.desc()],
            offset=offset,
            limit=limit,
            scan=scan,
        )
    return [alert_of(_Row(r)) for r in rows], total


def get_alert(engine: sa.Engine, user: User, alert_id: str) -> StoredAlert:
    """Alert ``alert_id`` if ``user`` may see it, else ``NotFound``."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()
    if row is None:
        raise NotFound(f"no alert {alert_id}")
    found = alert_of(row)
    access.check_see(user, found.enterprise_id, f"alert {alert_id}")
    return found


class _Row:
    def __init__(self, mapping: dict[str, object]) -> None:
        self._mapping = mapping
