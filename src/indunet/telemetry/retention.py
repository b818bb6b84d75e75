"""How long each enterprise's telemetry is kept, and the pass that deletes older samples."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from indunet.core import InvalidInput, audit
from indunet.telemetry.store import TimeSeriesStore
from indunet.telemetry.tables import retention

DAY_MS = 86_400_000
MAX_DAYS = 36_500


def set_retention(conn: sa.Connection, enterprise_id: int, days: int, *, actor: str) -> None:
    """Keep ``days`` of telemetry for the enterprise's devices (1 to 36,500); audited."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"retention must be 1 to {MAX_DAYS} days, not {days}")
    now = datetime.now(UTC)
    found = conn.execute(
        retention.update()
        .where(retention.c.enterprise_id == enterprise_id)
        .values(days=days, updated_at=now)
    ).rowcount
    if not found:
        conn.execute(
            retention.insert().values(enterprise_id=enterprise_id, days=days, updated_at=now)
        )
    audit.record(conn, actor, "telemetry.retention", f"enterprise:{enterprise_id}", {"days": days})


def get_retention(conn: sa.Connection, enterprise_id: int, *, default: int) -> int:
    """Days of telemetry kept for the enterprise; ``default`` (settings.retention_days) if unset."""
    days = conn.execute(
        sa.select(retention.c.days).where(retention.c.enterprise_id == enterprise_id)
    ).scalar()
    return default if days is None else int(days)


def retention_pass(
    store: TimeSeriesStore,
    devices_by_enterprise: Mapping[int, Sequence[str]],
    *,
    engine: sa.Engine,
    default_days: int,
    now_ms: int | None = None,
) -> dict[int, int]:
    """Delete samples older than each enterprise's retention; return how many per enterprise.

    Blocking (store and database I/O): schedule it on a thread, e.g. once an hour.
    """
    now = int(time.time() * 1000) if now_ms is None else now_ms
    with engine.connect() as conn:
        days = dict(conn.execute(sa.select(retention.c.enterprise_id, retention.c.days)).all())
    deleted: dict[int, int] = {}
    for enterprise_id, devices in devices_by_enterprise.items():
        if not devices:
            continue
        keep = int(days.get(enterprise_id, default_days))
        deleted[enterprise_id] = store.delete_before(devices, now - keep * DAY_MS)
    return deleted
