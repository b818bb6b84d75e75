"""The security platform's counts for the federation's status report (``Federation.indicator``,
wired by ``web.indicators``): the whole installation's, each one SQL aggregate, no row read.

- ``assets``: assets in the inventory;
- ``vulns.<severity>``: open vulnerability matches (not dismissed) by severity (critical,
  high, medium, low, none: no score), as ``vulns.store.open_by_severity`` counts them;
- ``alerts_24h.<band>``: alerts raised in the last 24 hours by level band (critical 13–15,
  high 10–12, medium 6–9, low 0–5: ``situation.band``), the overview's "alerts, 24 h";
- ``cases_open``: cases not yet closed (``cases.model.OPEN_STATUSES``).

Every name is present, zero included, so a parent's columns do not come and go.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from .assettables import assets
from .cases.model import OPEN_STATUSES
from .casetables import alerts, cases
from .vulns.store import SEVERITIES
from .vulntables import matches

BANDS = (("critical", 13), ("high", 10), ("medium", 6), ("low", 0))
"""Alert level bands by their lowest level (``situation.band``'s, as SQL)."""
ALERT_WINDOW = timedelta(hours=24)


def band_of(level: sa.ColumnElement[int]) -> sa.ColumnElement[str]:
    """An alert level's band, in SQL."""
    return sa.case(*((level >= low, name) for name, low in BANDS[:-1]), else_="low")


def counts(conn: sa.Connection, now: datetime | None = None) -> dict[str, int]:
    """The installation's security counts now (one query per table)."""
    now = now or datetime.now(UTC)
    out = {"assets": int(conn.execute(sa.select(sa.func.count()).select_from(assets)).scalar_one())}
    out |= {f"vulns.{s}": 0 for s in SEVERITIES}
    for severity, n in conn.execute(
        sa.select(matches.c.severity, sa.func.count())
        .where(matches.c.state != "dismissed")
        .group_by(matches.c.severity)
    ):
        key = f"vulns.{severity if severity in SEVERITIES else 'none'}"
        out[key] += int(n)
    out |= {f"alerts_24h.{name}": 0 for name, _ in BANDS}
    band = band_of(alerts.c.level).label("band")
    for name, n in conn.execute(
        sa.select(band, sa.func.count()).where(alerts.c.ts >= now - ALERT_WINDOW).group_by(band)
    ):
        out[f"alerts_24h.{name}"] = int(n)
    out["cases_open"] = int(
        conn.execute(
            sa.select(sa.func.count()).where(cases.c.status.in_(sorted(OPEN_STATUSES)))
        ).scalar_one()
    )
    return out
