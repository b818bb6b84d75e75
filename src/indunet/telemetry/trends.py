"""Fleet-wide figures over time for the overview and the wall display.

Each function takes the enterprises to count (``None``: every enterprise; the caller has
asked ``core.access`` which ones a user or a display may see) and a window in ms cut into
``step`` buckets. Devices online over time is the devices subsystem's replay of its status
history (``devices.online_series``); alarms by severity and top devices read ``tel_alarms``.
The database counts per bucket, so no rows are carried into Python however many devices
there are.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Hashable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet import devices
from indunet.core.buckets import SCOPE, edge_table, edge_values, scoped, within
from indunet.telemetry.alarms import Severity
from indunet.telemetry.alarmtables import alarms

Scope = Collection[int] | None
MEMO_S = 20.0  # how long a computed figure is reused (overview pages, wall refreshes)


class Memo:
    """Figures computed in the last ``ttl`` seconds, by key: many screens and pages asking for
    the same window count it once (bounded to ``size`` keys; thread-safe)."""

    def __init__(self, ttl: float = MEMO_S, size: int = 256) -> None:
        self.ttl = ttl
        self.size = size
        self._found: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value of ``key``, computed now unless it was in the last ``ttl`` seconds."""
        now = time.monotonic()
        with self._lock:
            hit = self._found.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        value = compute()
        with self._lock:
            self._found[key] = (now + self.ttl, value)
            self._found.move_to_end(key)
            while len(self._found) > self.size:
                self._found.popitem(last=False)
        return value


def online_series(
    engine: sa.Engine, scope: Scope, start: int, end: int, step: int
) -> list[list[int]]:
    """``[bucket start, devices online at the bucket's end]`` for each bucket (the devices'
    status history is theirs: ``devices.online_series``)."""
    return devices.online_series(engine, scope, start, end, step)


def _ms(value: datetime) -> int:
    when = value if value.tzinfo else value.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@functools.lru_cache(maxsize=32)
def _alarm_statement(n: int, scope: bool) -> sa.Select[Any]:
    """Alarms per severity in each of ``n`` buckets (parameters: the ``edge_table``'s bounds,
    ``SCOPE`` if ``scope``)."""
    c = alarms.c
    edges = edge_table(n, sa.DateTime(timezone=True))
    counted = [
        sa.select(sa.func.count())
        .where(c.severity == s.value, c.raised_at >= edges.c.lo, c.raised_at < edges.c.hi)
        .where(*scoped(c.enterprise_id, scope))
        .scalar_subquery()
        for s in Severity
    ]
    return sa.select(edges.c.k, *counted)


def alarm_series(
    engine: sa.Engine, scope: Scope, start: int, end: int, step: int
) -> dict[str, list[list[int]]]:
    """Alarms raised per bucket, by severity: ``{severity: [[bucket start, count], ...]}``.

    Each bucket's count of each severity is one range of the (time, severity) index (ar0003):
    the database reads no alarm row, and sorts none, however many the window holds.
    """
    starts, values = edge_values(start, end, step, _when)
    counts: dict[str, list[int]] = {s.value: [0] * len(starts) for s in Severity}
    if starts and (scope is None or scope):
        if scope is not None:
            values[SCOPE] = list(scope)
        with engine.connect() as conn:
            for k, *ns in conn.execute(_alarm_statement(len(starts), scope is not None), values):
                for s, n in zip(Severity, ns, strict=True):
                    counts[s.value][int(k)] = int(n)
    return {s: [[b, n] for b, n in zip(starts, ns, strict=True)] for s, ns in counts.items()}


def top_devices(engine: sa.Engine, scope: Scope, since: int, limit: int = 10) -> list[list[Any]]:
    """``[device, alarms raised since]`` of the devices with most alarms, most first."""
    c = alarms.c
    n = sa.func.count().label("n")
    q = (
        sa.select(c.device_id, n)
        .where(c.raised_at >= _when(since), *within(c.enterprise_id, scope))
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
        .where(c.state != "closed", *within(c.enterprise_id, scope))
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
        .where(c.state != "closed", *within(c.enterprise_id, scope))
        .order_by(c.id.desc())
        .limit(max(1, min(limit, 100)))
    )
    with engine.connect() as conn:
        return [
            {"severity": s, "device": d, "message": m, "at": _ms(r)}
            for s, d, m, r in conn.execute(q)
        ]
