"""The security situation (态势) at a glance: what the overview page and the wall display show.

Figures for one enterprise or for every enterprise (an overseer's view), computed from each
part's tables in a few queries:

- assets (and how many are critical), open alerts of the last 24 h by level band, open cases by
  SLA state, open vulnerability matches (not dismissed) by severity;
- **risk per asset**, 0–100: ``weight(criticality) x (vulnerability + alerts)``, where
  *vulnerability* is 6 x the highest CVSS base score of its open matches (0–60) and *alerts*
  is half the sum of the levels of the alerts naming it in the last 7 days, at most 40; the
  weight is 0.6 (low), 0.8 (medium or unknown), 1.0 (high), 1.2 (critical), and the result
  is capped at 100. **Risk per enterprise** is its riskiest asset's, with how many assets are
  at 70 or more. The formula is a first, documented choice (docs/decisions.md), not a
  standard: it ranks what to look at first.
- the newest alerts and the open cases with their SLA state.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from .assettables import assets
from .cases.model import OPEN_STATUSES, sla_state
from .casetables import alerts, cases
from .eventtables import security_events as events
from .vulntables import matches

WEIGHT = {"low": 0.6, "medium": 0.8, "": 0.8, "high": 1.0, "critical": 1.2}
ALERT_WINDOW = timedelta(days=7)
RECENT = 10
HIGH_RISK = 70
MAX_ALERTS_READ = 20_000
"""Alerts of the last 7 days read for the risk at most (the newest)."""
"""Events read for top talkers and new conversations at most (the newest of 7 days)."""
TALKERS = 10


@dataclass
class AssetRisk:
    id: int
    enterprise_id: int | None
    name: str
    criticality: str
    risk: int
    max_cvss: float
    alert_levels: int


@dataclass
class Situation:
    """What the overview shows, for ``enterprise_id`` (None: every enterprise)."""

    assets: int = 0
    critical_assets: int = 0
    alerts_24h: dict[str, int] = field(default_factory=dict)  # band -> count
    cases: dict[str, int] = field(default_factory=dict)  # SLA state -> open cases
    vulnerabilities: dict[str, int] = field(default_factory=dict)  # severity -> open matches
    riskiest: list[AssetRisk] = field(default_factory=list)
    enterprises: list[dict[str, Any]] = field(default_factory=list)
    newest_alerts: list[dict[str, Any]] = field(default_factory=list)
    asset_names: dict[int, str] = field(default_factory=dict)  # of the newest alerts' assets
    open_cases: list[dict[str, Any]] = field(default_factory=list)
    talkers: list[dict[str, Any]] = field(default_factory=list)  # src_ip, events, peers (24 h)
    new_conversations: list[dict[str, Any]] = field(default_factory=list)  # first seen in 24 h


def band(level: int) -> str:
    """A level's band: critical (13–15), high (10–12), medium (6–9), low (0–5)."""
    return (
        "critical" if level >= 13 else "high" if level >= 10 else "medium" if level >= 6 else "low"
    )


def situation(
    engine: sa.Engine, enterprise_id: int | None, *, now: datetime | None = None, top: int = 10
) -> Situation:
    """The situation of one enterprise, or of all (``enterprise_id`` None)."""
    now = now or datetime.now(UTC)
    out = Situation()

    def mine(table: sa.Table) -> Any:
        return sa.true() if enterprise_id is None else table.c.enterprise_id == enterprise_id

    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                assets.c.id, assets.c.enterprise_id, assets.c.name, assets.c.criticality
            ).where(mine(assets))
        ).all()
        out.assets = len(rows)
        out.critical_assets = sum(1 for r in rows if r.criticality == "critical")
        cvss = dict(
            conn.execute(
                sa.select(matches.c.asset_id, sa.func.max(matches.c.score))
                .where(mine(matches), matches.c.state != "dismissed")
                .group_by(matches.c.asset_id)
            ).all()
        )
        for severity, n in conn.execute(
            sa.select(matches.c.severity, sa.func.count())
            .where(mine(matches), matches.c.state != "dismissed")
            .group_by(matches.c.severity)
        ):
            out.vulnerabilities[str(severity or "none")] = int(n)
        recent = conn.execute(
            sa.select(alerts.c.level, alerts.c.assets, alerts.c.ts)
            .where(mine(alerts), alerts.c.ts >= now - ALERT_WINDOW)
            .order_by(alerts.c.ts.desc())
            .limit(MAX_ALERTS_READ)
        ).all()
        newest = conn.execute(
            sa.select(
                alerts.c.id,
                alerts.c.enterprise_id,
                alerts.c.ts,
                alerts.c.rule,
                alerts.c.level,
                alerts.c.title,
                alerts.c.techniques,
                alerts.c.src_ip,
                alerts.c.dst_ip,
                alerts.c.assets,
                alerts.c.case_id,
            )
            .where(mine(alerts))
            .order_by(alerts.c.ts.desc())
            .limit(RECENT)
        ).mappings()
        out.newest_alerts = [dict(r) for r in newest]
        named = {int(i) for a in out.newest_alerts for i in (a["assets"] or ())}
        if named:
            out.asset_names = dict(
                conn.execute(
                    sa.select(assets.c.id, assets.c.name).where(
                        assets.c.id.in_(sorted(named)), mine(assets)
                    )
                ).all()
            )
        open_rows = conn.execute(
            sa.select(cases)
            .where(mine(cases), cases.c.status.in_(sorted(OPEN_STATUSES)))
            .order_by(cases.c.resolve_due)
        ).mappings()
        states: Counter[str] = Counter()
        listed: list[dict[str, Any]] = []
        for c in open_rows:
            state = sla_state(
                c["status"],
                _aware(c["created_at"]),
                _aware(c["ack_due"]),
                _aware(c["resolve_due"]),
                None,
                now,
            )
            states[state] += 1
            if len(listed) < RECENT:
                listed.append({**dict(c), "sla": state})
        out.cases, out.open_cases = dict(states), listed
        out.talkers, out.new_conversations = conversations(conn, enterprise_id, now)
    day_ago = now - timedelta(days=1)
    levels: Counter[int] = Counter()
    for level, ids, ts in recent:
        if _aware(ts) >= day_ago:
            out.alerts_24h[band(level)] = out.alerts_24h.get(band(level), 0) + 1
        for asset_id in ids or ():
            levels[int(asset_id)] += int(level)
    risks = [
        AssetRisk(
            id=r.id,
            enterprise_id=r.enterprise_id,
            name=r.name,
            criticality=r.criticality,
            risk=risk_of(r.criticality, float(cvss.get(r.id) or 0.0), levels[r.id]),
            max_cvss=float(cvss.get(r.id) or 0.0),
            alert_levels=levels[r.id],
        )
        for r in rows
    ]
    risks.sort(key=lambda a: (-a.risk, a.name))
    out.riskiest = [a for a in risks[:top] if a.risk > 0]
    by_enterprise: dict[int | None, list[AssetRisk]] = {}
    for a in risks:
        by_enterprise.setdefault(a.enterprise_id, []).append(a)
    out.enterprises = sorted(
        (
            {
                "enterprise_id": eid,
                "risk": max(a.risk for a in group),
                "high": sum(1 for a in group if a.risk >= HIGH_RISK),
                "assets": len(group),
            }
            for eid, group in by_enterprise.items()
        ),
        key=lambda e: -int(e["risk"]),
    )
    return out


def risk_of(criticality: str, max_cvss: float, alert_levels: int) -> int:
    """An asset's risk, 0–100 (see the module's text)."""
    vulnerability = 6.0 * max(0.0, min(10.0, max_cvss))
    alerting = min(40.0, alert_levels / 2)
    return min(100, round(WEIGHT.get(criticality, 0.8) * (vulnerability + alerting)))


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def conversations(
    conn: sa.Connection, enterprise_id: int | None, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Top talkers of the last 24 h (events sent, distinct peers) and the conversations
    (source, destination, port, protocol) first seen in the last 24 h of the last 7 days,
    counted by the database (grouped on the ``(enterprise, ts)`` and ``ts`` indexes)."""
    since, day = (now - ALERT_WINDOW).timestamp(), (now - timedelta(days=1)).timestamp()
    e = events.c
    scope: list[sa.ColumnElement[bool]] = [e.src_ip.is_not(None)]
    if enterprise_id is not None:
        scope.append(e.enterprise_id == enterprise_id)
    sent = sa.func.count().label("sent")
    talkers = [
        {"ip": ip, "events": int(n), "peers": int(peers)}
        for ip, n, peers in conn.execute(
            sa.select(e.src_ip, sent, sa.func.count(e.dst_ip.distinct()))
            .where(e.ts >= day, *scope)
            .group_by(e.src_ip)
            .order_by(sent.desc(), e.src_ip)
            .limit(TALKERS)
        )
    ]
    first = sa.func.min(e.ts).label("first")
    new = [
        {
            "src_ip": src,
            "dst_ip": dst,
            "dst_port": port,
            "protocol": protocol,
            "first_seen": datetime.fromtimestamp(t, UTC),
        }
        for src, dst, port, protocol, t in conn.execute(
            sa.select(e.src_ip, e.dst_ip, e.dst_port, e.protocol, first)
            .where(e.ts >= since, e.dst_ip.is_not(None), *scope)
            .group_by(e.src_ip, e.dst_ip, e.dst_port, e.protocol)
            .having(first >= day)
            .order_by(first.desc())
            .limit(TALKERS)
        )
    ]
    return talkers, new


class SituationMemo:
    """Situations recently computed, per scope, for ``ttl`` seconds: the wall display
    refreshes every 15 s on every screen that shows it, and one situation groups a week of
    events. At most ``size`` scopes are kept (the oldest computed goes first)."""

    def __init__(self, engine: sa.Engine, ttl: float = 10.0, size: int = 256) -> None:
        self.engine, self.ttl, self.size = engine, ttl, size
        self._kept: dict[int | None, tuple[float, Situation]] = {}
        self._lock = threading.Lock()  # pages compute in worker threads

    def get(self, enterprise_id: int | None) -> Situation:
        """The situation of ``enterprise_id`` (None: all), at most ``ttl`` seconds old."""
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(enterprise_id)
        if kept is not None and now - kept[0] < self.ttl:
            return kept[1]
        found = situation(self.engine, enterprise_id)
        with self._lock:
            self._kept.pop(enterprise_id, None)
            if len(self._kept) >= self.size:
                self._kept.pop(next(iter(self._kept)))
            self._kept[enterprise_id] = (now, found)
        return found
