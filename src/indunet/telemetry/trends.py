"""Fleet-wide figures over time for the overview and the wall display.

Each function takes the enterprises to count (``None``: every enterprise; the caller has
asked ``core.access`` which ones a user or a display may see) and a window in ms cut into
``step`` buckets. Devices online over time replays the status history (``dev_status_history``:
each device's last change before the window, then every change in it); alarms by severity
and top devices read ``tel_alarms``. Reads are bounded (``MAX_ROWS``): a window with more
changes than that is drawn from the first ``MAX_ROWS`` of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.devices.tables import status_history as history
from indunet.telemetry.alarms import Severity
from indunet.telemetry.alarmtables import alarms

MAX_ROWS = 200_000
Scope = Collection[int] | None


def _within(column: Any, scope: Scope) -> list[sa.ColumnElement[bool]]:
    if scope is None:
        return []
    return [column.in_(list(scope))] if scope else [sa.false()]


def buckets(start: int, end: int, step: int) -> list[int]:
    """Bucket starts of ``[start, end)``."""
    return list(range(start, end, max(1, step)))


def online_series(
    engine: sa.Engine, scope: Scope, start: int, end: int, step: int
) -> list[list[int]]:
    """``[bucket start, devices online at the bucket's end]`` for each bucket."""
    c = history.c
    lo, hi = start / 1000, end / 1000
    mine = _within(c.enterprise_id, scope)
    last = (
        sa.select(c.device_id, sa.func.max(c.at).label("at"))
        .where(c.at < lo, *mine)
        .group_by(c.device_id)
        .subquery()
    )
    before = sa.select(c.device_id, c.status, c.id).join(
        last, sa.and_(c.device_id == last.c.device_id, c.at == last.c.at)
    )
    changes = (
        sa.select(c.device_id, c.status, c.at)
        .where(c.at >= lo, c.at < hi, *mine)
        .order_by(c.at, c.id)
        .limit(MAX_ROWS)
    )
    state: dict[str, str] = {}
    with engine.connect() as conn:
        for device, status, _ in sorted(conn.execute(before), key=lambda r: r[2]):
            state[device] = status
        rows = conn.execute(changes).all()
    online = sum(1 for s in state.values() if s == "online")
    out: list[list[int]] = []
    i = 0
    for b in buckets(start, end, step):
        edge = min(b + step, end) / 1000
        while i < len(rows) and rows[i][2] < edge:
            device, status, _ = rows[i]
            was = state.get(device)
            if was != status:
                online += (status == "online") - (was == "online")
                state[device] = status
            i += 1
        out.append([b, online])
    return out


def _ms(value: datetime) -> int:
    when = value if value.tzinfo else value.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def alarm_series(
    engine: sa.Engine, scope: Scope, start: int, end: int, step: int
) -> dict[str, list[list[int]]]:
    """Alarms raised per bucket, by severity: ``{severity: [[bucket start, count], ...]}``."""
    c = alarms.c
    q = (
        sa.select(c.raised_at, c.severity)
        .where(
            c.raised_at >= _when(start), c.raised_at < _when(end), *_within(c.enterprise_id, scope)
        )
        .limit(MAX_ROWS)
    )
    starts = buckets(start, end, step)
    counts: dict[str, list[int]] = {s.value: [0] * len(starts) for s in Severity}
    with engine.connect() as conn:
        for raised, severity in conn.execute(q):
            k = (_ms(raised) - start) // step
            if severity in counts and 0 <= k < len(starts):
                counts[severity][k] += 1
    return {s: [[b, n] for b, n in zip(starts, ns, strict=True)] for s, ns in counts.items()}


def top_devices(engine: sa.Engine, scope: Scope, since: int, limit: int = 10) -> list[list[Any]]:
    """``[device, alarms raised since]`` of the devices with most alarms, most first."""
    c = alarms.c
    n = sa.func.count().label("n")
    q = (
        sa.select(c.device_id, n)
        .where(c.raised_at >= _when(since), *_within(c.enterprise_id, scope))
        .group_by(c.device_id)
        .order_by(n.desc(), c.device_id)
        .limit(max(1, min(limit, 100)))
    )
    with engine.connect() as conn:
        return [[d, int(k)] for d, k in conn.execute(q)]


def open_alarm_counts(engine: sa.Engine, scope: Scope) -> dict[str, int]:
    """Open (not closed) alarms per severity."""
    c = alarms.c
    q = (
        sa.select(c.severity, sa.func.count())
        .where(c.state != "closed", *_within(c.enterprise_id, scope))
        .group_by(c.severity)
    )
    with engine.connect() as conn:
        found = Counter({s: int(n) for s, n in conn.execute(q)})
    return {s.value: found.get(s.value, 0) for s in Severity}


def recent_open(engine: sa.Engine, scope: Scope, limit: int = 10) -> list[dict[str, Any]]:
    """The newest open alarms: severity, device, message and when raised (ms)."""
    c = alarms.c
    q = (
        sa.select(c.severity, c.device_id, c.message, c.raised_at)
        .where(c.state != "closed", *_within(c.enterprise_id, scope))
        .order_by(c.id.desc())
        .limit(max(1, min(limit, 100)))
    )
    with engine.connect() as conn:
        return [
            {"severity": s, "device": d, "message": m, "at": _ms(r)}
            for s, d, m, r in conn.execute(q)
        ]
