"""Cases: read, list, make, change — every call checked with ``core.access``, every change in
the case's history and the audit log, in one transaction.

Who may do what (docs/security/cases.md): anyone who may see an enterprise's things sees its
cases (regulators read only); its users work on them — acknowledge, resolve with a
disposition, tasks, notes, evidence, promote an alert; its admins and platform admins also
make cases, change title, severity, TLP, PAP and assignee, close and reopen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core import Conflict, InvalidInput, NotFound, User, access, audit
from indunet.core.paged import page_of_rows
from indunet.core.users import Role, get_user
from indunet.security.casetables import alerts, cases, history

from . import merge
from .model import (
    DISPOSITIONS,
    OPEN_STATUSES,
    PAPS,
    SEVERITIES,
    STATUSES,
    TLPS,
    Case,
    Change,
    dues,
)
from .rows import case_of, change_of, changed, utc

MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
#: Changes only an admin (of the enterprise, or the platform) may make.
ADMIN_FIELDS = ("title", "description", "severity", "tlp", "pap", "assignee")
CHOICES: dict[str, tuple[str, ...]] = {"severity": SEVERITIES, "tlp": TLPS, "pap": PAPS}


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """Which cases a list shows."""

    status: str = ""
    severity: str = ""
    assignee: str = ""
    overdue: bool = False
    q: str = ""
    enterprise_id: int | None = None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def bad(field: str, value: object) -> InvalidInput:
    """The error for a value a case's field does not take."""
    return InvalidInput(
        f"{field} may not be {value!r}",
        reason="case_value",
        params={"field": field, "value": str(value)[:100]},
    )


def text(field: str, value: str, limit: int, *, required: bool = True) -> str:
    """``value`` stripped, checked for presence and length."""
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{field} is empty", reason="case_text_empty", params={"field": field})
    if len(value) > limit:
        raise InvalidInput(
            f"{field} is over {limit} characters",
            reason="case_text_long",
            params={"field": field, "limit": str(limit)},
        )
    return value


class Cases:
    """The case workflow over one database; ``clock`` is injectable for SLA tests."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.clock = clock

    # reading -------------------------------------------------------------------------
    def row(self, conn: sa.Connection, user: User, case_id: int) -> Case:
        """Case ``case_id`` if ``user`` may see it, else ``NotFound`` (same as missing)."""
        row = conn.execute(sa.select(cases).where(cases.c.id == case_id)).first()
        if row is None:
            raise NotFound(f"no case {case_id}")
        case = case_of(row, self.clock())
        access.check_see(user, case.enterprise_id, f"case {case_id}")
        return case

    def get(self, user: User, case_id: int) -> Case:
        """Case ``case_id`` as ``user`` may see it."""
        with self.engine.connect() as conn:
            return self.row(conn, user, case_id)

    def find(
        self, user: User, f: CaseFilter, *, offset: int = 0, limit: int = 20
    ) -> tuple[list[Case], int]:
        """One page of the cases ``user`` may see that ``f`` matches, newest first."""
        c = cases.c
        where: list[sa.ColumnElement[bool]] = []
        eid = access.scope(user, f.enterprise_id)
        if eid is not None:
            where.append(c.enterprise_id == eid)
        if f.status:
            if f.status == "open":
                where.append(c.status.in_(OPEN_STATUSES))
            elif f.status in STATUSES:
                where.append(c.status == f.status)
            else:
                raise bad("status", f.status)
        if f.severity:
            if f.severity not in SEVERITIES:
                raise bad("severity", f.severity)
            where.append(c.severity == f.severity)
        if f.assignee:
            where.append(c.assignee == f.assignee)
        if f.overdue:
            now = self.clock()
            where.append(
                sa.or_(
                    sa.and_(c.status == "new", c.ack_due <= now),
                    sa.and_(c.status == "in_progress", c.resolve_due <= now),
                )
            )
        if f.q:
            where.append(c.search.like(f"%{_like(f.q.lower())}%", escape="\\"))
        with self.engine.connect() as conn:
            rows, total = page_of_rows(
                conn,
                cases,
                list(cases.c),
                where,
                [c.id.desc()],
                offset=offset,
                limit=limit,
                scan=bool(f.q),
            )
        now = self.clock()
        return [case_of(_Row(r), now) for r in rows], total

    def history(self, user: User, case_id: int) -> list[Change]:
        """Every change of the case, oldest first."""
        with self.engine.connect() as conn:
            self.row(conn, user, case_id)
            q = sa.select(history).where(history.c.case_id == case_id).order_by(history.c.id)
            return [change_of(r) for r in conn.execute(q)]

    # making --------------------------------------------------------------------------
    def promote(self, user: User, alert_id: str) -> int:
        """Make a case of alert ``alert_id`` (users of its enterprise may); its id.
        An alert already in a case is a ``Conflict`` naming the case."""
        actor = f"user:{user.username}"
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()
            if row is None:
                raise NotFound(f"no alert {alert_id}")
            m = dict(row._mapping)
            access.check_change(user, m["enterprise_id"], f"alert {alert_id}", users_too=True)
            if m["case_id"] is not None:
                raise Conflict(
                    f"alert {alert_id} is in case {m['case_id']} already",
                    reason="alert_in_case",
                    params={"case": str(m["case_id"])},
                )
            m["ts"] = utc(m["ts"])
            case_id = merge.new_case(conn, m, actor, self.clock())
            audit.record(
                conn,
                actor,
                "security.alert.promote",
                f"alert {alert_id}",
                {"case": case_id},
                enterprise_id=m["enterprise_id"],
            )
            return case_id

    def create(
        self,
        user: User,
        *,
        title: str,
        description: str = "",
        severity: str = "medium",
        tlp: str = merge.DEFAULT_TLP,
        pap: str = merge.DEFAULT_PAP,
        enterprise_id: int | None = None,
    ) -> int:
        """A case opened by hand (admins); its id."""
        eid = access.change_scope(user, enterprise_id, "open cases")
        title = text("title", title, MAX_TITLE)
        description = text("description", description, MAX_DESCRIPTION, required=False)
        for name, value in (("severity", severity), ("tlp", tlp), ("pap", pap)):
            if value not in CHOICES[name]:
                raise bad(name, value)
        now = self.clock()
        ack_due, resolve_due = dues(severity, now)
        actor = f"user:{user.username}"
        with self.engine.begin() as conn:
            case_id = int(
                conn.execute(
                    cases.insert()
                    .values(
                        enterprise_id=eid,
                        title=title,
                        description=description,
                        severity=severity,
                        tlp=tlp,
                        pap=pap,
                        status="new",
                        created_by=actor,
                        created_at=now,
                        updated_at=now,
                        ack_due=ack_due,
                        resolve_due=resolve_due,
                        alerts=0,
                        search=title.lower()[:400],
                    )
                    .returning(cases.c.id)
                ).scalar_one()
            )
            changed(conn, case_id, actor, "created", None, title, now, severity=severity)
            audit.record(
                conn, actor, "security.case.create", f"case {case_id}", {}, enterprise_id=eid
            )
        return case_id

    # changing ------------------------------------------------------------------------
    def update(self, user: User, case_id: int, **fields: str | None) -> Case:
        """Change title, description, severity, TLP, PAP, assignee (admins); each change is a
        history line; a severity change moves the SLA due times."""
        unknown = set(fields) - set(ADMIN_FIELDS)
        if unknown:
            raise bad("field", sorted(unknown)[0])
        actor = f"user:{user.username}"
        now = self.clock()
        with self.engine.begin() as conn:
            case = self.row(conn, user, case_id)
            access.check_change(user, case.enterprise_id, f"case {case_id}")
            values: dict[str, Any] = {}
            for name in (n for n in ADMIN_FIELDS if n in fields):
                value = self._checked(conn, case, name, fields[name])
                old = getattr(case, name)
                if value == old:
                    continue
                values[name] = value
                changed(conn, case_id, actor, name, old, value, now)
            if "severity" in values:
                values["ack_due"], values["resolve_due"] = dues(values["severity"], case.created_at)
            if "title" in values:
                values["title_rule"] = None  # a person's title, shown as written
            if "title" in values or "assignee" in values:
                title = values.get("title", case.title)
                who = values.get("assignee", case.assignee) or ""
                values["search"] = f"{title} {who}".lower()[:400]
            if values:
                conn.execute(cases.update().where(cases.c.id == case_id).values(**values))
                audit.record(
                    conn,
                    actor,
                    "security.case.update",
                    f"case {case_id}",
                    {k: str(v) for k, v in values.items() if k in ADMIN_FIELDS},
                    enterprise_id=case.enterprise_id,
                )
            return self.row(conn, user, case_id)

    def _checked(self, conn: sa.Connection, case: Case, name: str, value: str | None) -> Any:
        if name == "assignee":
            return check_assignee(conn, case.enterprise_id, value)
        if value is None:
            raise bad(name, "")
        if name in CHOICES:
            if value not in CHOICES[name]:
                raise bad(name, value)
            return value
        limit = MAX_TITLE if name == "title" else MAX_DESCRIPTION
        return text(name, value, limit, required=name == "title")

    def set_status(
        self, user: User, case_id: int, status: str, disposition: str | None = None
    ) -> Case:
        """Move the case: acknowledge (``in_progress``), resolve (a disposition required),
        close, reopen. Users of the enterprise acknowledge and resolve; closing and reopening
        need an admin."""
        if status not in STATUSES:
            raise bad("status", status)
        if disposition is not None and disposition not in DISPOSITIONS:
            raise bad("disposition", disposition)
        actor = f"user:{user.username}"
        now = self.clock()
        with self.engine.begin() as conn:
            case = self.row(conn, user, case_id)
            admin_only = status == "closed" or not case.open
            access.check_change(
                user, case.enterprise_id, f"case {case_id}", users_too=not admin_only
            )
            if status == case.status or (status == "new"):
                raise Conflict(
                    f"case {case_id} cannot go from {case.status} to {status}",
                    reason="case_transition",
                    params={"old": case.status, "new": status},
                )
            values: dict[str, Any] = {"status": status}
            if status in ("resolved", "closed"):
                chosen = disposition or case.disposition
                if chosen is None:
                    raise InvalidInput(
                        f"say why case {case_id} is {status}: a disposition is required",
                        reason="case_disposition_required",
                    )
                if chosen != case.disposition:
                    values["disposition"] = chosen
                    changed(conn, case_id, actor, "disposition", case.disposition, chosen, now)
                if case.resolved_at is None:
                    values["resolved_at"] = now
            else:  # in_progress: acknowledged, or reopened
                values["resolved_at"] = None
            if case.acknowledged_at is None:
                values["acknowledged_at"] = now
            changed(conn, case_id, actor, "status", case.status, status, now)
            conn.execute(cases.update().where(cases.c.id == case_id).values(**values))
            audit.record(
                conn,
                actor,
                "security.case.status",
                f"case {case_id}",
                {"from": case.status, "to": status, "disposition": values.get("disposition")},
                enterprise_id=case.enterprise_id,
            )
            return self.row(conn, user, case_id)


def check_assignee(conn: sa.Connection, enterprise_id: int | None, name: str | None) -> str | None:
    """``name`` if it is a user of ``enterprise_id`` or a platform admin (None: nobody)."""
    if name is None or not name.strip():
        return None
    name = name.strip()
    try:
        found: User | None = get_user(conn, name)
    except NotFound:
        found = None
    ok = found is not None and (
        found.role is Role.PLATFORM_ADMIN
        or (enterprise_id is not None and found.enterprise_id == enterprise_id)
    )
    if not ok:
        raise InvalidInput(
            f"{name} may not be assigned: not a user of the case's enterprise nor a platform admin",
            reason="case_assignee",
            params={"name": name[:100]},
        )
    return name


class _Row:
    """A mapping dressed as a row (``page_of_rows`` hands out mappings)."""

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping
