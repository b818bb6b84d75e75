"""What the authorities read: the overview of the enterprises under an instance (by level,
type and grading state, overdue counts), the review queue, notices with their progress, and
notice statistics by region or level. Every figure is one SQL aggregate over indexed
columns, so a province of 10,000 enterprises answers in a few tens of milliseconds
(bench/regulation_views.py).
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from indunet.core.paged import contains, page_of_rows

from .grading import _load
from .tables import enterprises, gradings, notices, obligations, recipients

OPEN = ("sent", "signed", "returned")


def _late(now: float) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(recipients.c.state == "sent", recipients.c.sign_due < now),
        sa.and_(recipients.c.state.in_(OPEN), recipients.c.dispose_due < now),
    )


def overview(conn: sa.Connection, now: float | None = None) -> dict[str, Any]:
    """Counts for the authority's first page."""
    now = time.time() if now is None else now
    by_level = {
        (str(t), int(lv)): int(n)
        for t, lv, n in conn.execute(
            sa.select(enterprises.c.etype, enterprises.c.level, sa.func.count()).group_by(
                enterprises.c.etype, enterprises.c.level
            )
        )
    }
    states: dict[Any, Any] = dict(
        conn.execute(
            sa.select(enterprises.c.grading_state, sa.func.count()).group_by(
                enterprises.c.grading_state
            )
        ).all()
    )
    overdue_obligations = conn.execute(
        sa.select(sa.func.count()).where(obligations.c.done.is_(None), obligations.c.due < now)
    ).scalar_one()
    late_enterprises = conn.execute(
        sa.select(sa.func.count(sa.distinct(obligations.c.uscc))).where(
            obligations.c.done.is_(None), obligations.c.due < now
        )
    ).scalar_one()
    open_notices = conn.execute(
        sa.select(sa.func.count()).where(recipients.c.state.in_(OPEN))
    ).scalar_one()
    late_notices = conn.execute(sa.select(sa.func.count()).where(_late(now))).scalar_one()
    escalated = conn.execute(
        sa.select(sa.func.count()).where(
            recipients.c.escalated.is_not(None), recipients.c.state != "closed"
        )
    ).scalar_one()
    return {
        "at": now,
        "enterprises": sum(by_level.values()),
        "by_type_level": [
            {"etype": t, "level": lv, "count": n} for (t, lv), n in sorted(by_level.items())
        ],
        "grading_states": {str(k): int(v) for k, v in states.items()},
        "overdue_obligations": int(overdue_obligations),
        "enterprises_with_overdue": int(late_enterprises),
        "open_notices": int(open_notices),
        "overdue_notices": int(late_notices),
        "escalated_open": int(escalated),
    }


def stats(
    conn: sa.Connection, by: str = "region", digits: int = 2, issuer: str | None = None
) -> list[dict[str, Any]]:
    """Notice statistics grouped by the enterprise's region (its first ``digits`` digits: 2
    a province, 4 a city) or level: issued, signed in time, disposed (reported) in time,
    mean time to dispose (seconds), open and overdue now."""
    now = time.time()
    if by == "level":
        key: Any = enterprises.c.level
    else:
        key = sa.func.substr(enterprises.c.region, 1, max(2, min(6, digits)))
    signed_in_time = sa.func.sum(
        sa.case((recipients.c.signed <= recipients.c.sign_due, 1), else_=0)
    )
    disposed_in_time = sa.func.sum(
        sa.case((recipients.c.reported <= recipients.c.dispose_due, 1), else_=0)
    )
    q = (
        sa.select(
            key.label("key"),
            sa.func.count().label("issued"),
            signed_in_time.label("signed_in_time"),
            disposed_in_time.label("disposed_in_time"),
            sa.func.avg(recipients.c.reported - notices.c.issued).label("mean_dispose_s"),
            sa.func.sum(sa.case((recipients.c.state.in_(OPEN), 1), else_=0)).label("open"),
            sa.func.sum(sa.case((_late(now), 1), else_=0)).label("overdue"),
            sa.func.sum(sa.case((recipients.c.escalated.is_not(None), 1), else_=0)).label(
                "escalated"
            ),
        )
        .select_from(
            recipients.join(enterprises, enterprises.c.uscc == recipients.c.uscc).join(
                notices, notices.c.uid == recipients.c.notice
            )
        )
        .group_by(key)
        .order_by(key)
    )
    if issuer is not None:
        q = q.where(notices.c.issuer == issuer)
    return [
        {
            "key": str(r.key),
            "issued": int(r.issued),
            "signed_in_time": int(r.signed_in_time or 0),
            "disposed_in_time": int(r.disposed_in_time or 0),
            "mean_dispose_s": None if r.mean_dispose_s is None else float(r.mean_dispose_s),
            "open": int(r.open or 0),
            "overdue": int(r.overdue or 0),
            "escalated": int(r.escalated or 0),
        }
        for r in conn.execute(q)
    ]


def gradings_page(
    conn: sa.Connection,
    *,
    state: str,
    q: str,
    offset: int,
    limit: int,
    tenant_id: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Gradings (the review queue when ``state`` is submitted) with their enterprise."""
    j = gradings.join(enterprises, enterprises.c.uscc == gradings.c.uscc)
    where: list[sa.ColumnElement[bool]] = []
    if state:
        where.append(gradings.c.state == state)
    if q:
        where.append(
            sa.or_(
                contains(enterprises.c.name, q),
                contains(enterprises.c.uscc, q),
            )
        )
    if tenant_id is not None:
        where.append(enterprises.c.tenant_id == tenant_id)
    rows, total = page_of_rows(
        conn,
        j,
        [
            gradings.c.uid,
            gradings.c.uscc,
            gradings.c.state,
            gradings.c.edition,
            gradings.c.proposed,
            gradings.c.level,
            gradings.c.updated,
            gradings.c.rev,
            enterprises.c.name,
            enterprises.c.etype,
            enterprises.c.region,
            enterprises.c.instance,
        ],
        where,
        [gradings.c.updated.desc(), gradings.c.uid],
        offset=offset,
        limit=limit,
        scan=bool(q),
    )
    return rows, total


def notices_page(
    conn: sa.Connection,
    *,
    q: str,
    offset: int,
    limit: int,
    uscc: str | None = None,
    now: float | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Notices, newest first, each with its recipients' progress (for ``uscc``: only the
    notices sent to it)."""
    now = time.time() if now is None else now
    where: list[sa.ColumnElement[bool]] = []
    if q:
        where.append(contains(notices.c.title, q))
    if uscc is not None:
        where.append(
            notices.c.uid.in_(sa.select(recipients.c.notice).where(recipients.c.uscc == uscc))
        )
    rows, total = page_of_rows(
        conn,
        notices,
        [notices],
        where,
        [notices.c.issued.desc(), notices.c.uid],
        offset=offset,
        limit=limit,
        scan=bool(q),
    )
    uids = [r["uid"] for r in rows]
    progress: dict[str, dict[str, int]] = {}
    if uids:
        for r in conn.execute(
            sa.select(
                recipients.c.notice,
                sa.func.count().label("recipients"),
                sa.func.sum(sa.case((recipients.c.signed.is_not(None), 1), else_=0)).label(
                    "signed"
                ),
                sa.func.sum(sa.case((recipients.c.reported.is_not(None), 1), else_=0)).label(
                    "reported"
                ),
                sa.func.sum(sa.case((recipients.c.state == "closed", 1), else_=0)).label("closed"),
                sa.func.sum(sa.case((_late(now), 1), else_=0)).label("overdue"),
                sa.func.sum(sa.case((recipients.c.escalated.is_not(None), 1), else_=0)).label(
                    "escalated"
                ),
            )
            .where(recipients.c.notice.in_(uids))
            .group_by(recipients.c.notice)
        ):
            progress[r.notice] = {
                k: int(getattr(r, k) or 0)
                for k in ("recipients", "signed", "reported", "closed", "overdue", "escalated")
            }
    for row in rows:
        row["progress"] = progress.get(row["uid"], {})
    return rows, total


def recipients_page(
    conn: sa.Connection,
    *,
    notice: str | None = None,
    uscc: str | None = None,
    state: str = "",
    overdue: bool = False,
    region: str = "",
    q: str = "",
    offset: int = 0,
    limit: int = 50,
    now: float | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Recipients with their enterprise and notice (the drill-down of the statistics);
    ``q`` searches the enterprise's name and USCC and the notice's title."""
    now = time.time() if now is None else now
    j = recipients.join(enterprises, enterprises.c.uscc == recipients.c.uscc).join(
        notices, notices.c.uid == recipients.c.notice
    )
    where: list[sa.ColumnElement[bool]] = []
    if notice:
        where.append(recipients.c.notice == notice)
    if uscc:
        where.append(recipients.c.uscc == uscc)
    if state:
        where.append(recipients.c.state == state)
    if overdue:
        where.append(_late(now))
    if region:
        where.append(enterprises.c.region.startswith(region))
    if q:
        where.append(
            sa.or_(
                contains(enterprises.c.name, q),
                contains(enterprises.c.uscc, q),
                contains(notices.c.title, q),
            )
        )
    rows, total = page_of_rows(
        conn,
        j,
        [
            *recipients.columns,
            enterprises.c.name,
            enterprises.c.region,
            enterprises.c.level,
            notices.c.title,
            notices.c.severity,
            notices.c.issuer,
            notices.c.issued,
        ],
        where,
        [recipients.c.dispose_due, recipients.c.uscc],
        offset=offset,
        limit=limit,
        scan=bool(q),
    )
    for m in rows:
        m["data"] = _load(m["data"])
        m["overdue"] = (m["state"] == "sent" and m["sign_due"] < now) or (
            m["state"] in OPEN and m["dispose_due"] < now
        )
    return rows, total
