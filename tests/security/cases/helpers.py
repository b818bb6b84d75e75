"""Helpers of the alert and case tests: a settable clock, users, alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from indunet import core
from indunet.core import Role, User
from indunet.security import Alert

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def make_user(engine: sa.Engine, name: str, role: Role, enterprise_id: int | None = None) -> User:
    with engine.begin() as conn:
        core.create_user(
            conn,
            username=name,
            password="a-long-enough-password-1",
            role=role,
            actor="t",
            enterprise_id=enterprise_id,
        )
        return core.get_user(conn, name)


def alert(enterprise_id: int | None, at: datetime = T0, **kw: Any) -> Alert:
    base: dict[str, Any] = {
        "ts": at.timestamp(),
        "rule": "ics.write_from_new_host",
        "rule_version": 1,
        "level": 12,
        "title": "Modbus write from a new host",
        "enterprise_id": enterprise_id,
        "techniques": ("T0855",),
        "src_ip": "10.0.0.9",
        "dst_ip": "10.0.0.20",
        "assets": (7,),
    }
    base.update(kw)
    return Alert(**base)
