"""Complaints on a real PostgreSQL: migration ig0001, the list's search and filters, and two
operators closing the same complaint at the same moment (one wins, the other gets 409)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from indunet import core
from indunet.core import Conflict, Role
from indunet.ids import complaints as cp
from indunet.ids.subsystem import SUBSYSTEM

pytestmark = pytest.mark.integration
FORM = cp.ComplaintForm(
    subject_kind="prefix",
    subject="88.100.1",
    text="前缀 88.100.1 下的标识 100% 解析失败_",
    contact="张三",
    contact_email="zhang@example.cn",
)


@pytest.fixture
def engine(pg_schema_url: str) -> Iterator[sa.Engine]:
    eng = core.make_engine(core.Settings(database_url=pg_schema_url))
    assert SUBSYSTEM.migrations is not None
    core.migrate(eng, [SUBSYSTEM.migrations])
    yield eng
    eng.dispose()


def _admin(engine: sa.Engine, name: str) -> core.User:
    with engine.begin() as conn:
        return core.create_user(
            conn, username=name, password="a-long-password", role=Role.PLATFORM_ADMIN, actor="t"
        )


def test_filing_searching_and_counting_on_postgres(engine: sa.Engine) -> None:
    admin = _admin(engine, "op")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        late = cp.file(conn, FORM, source="a", now=now - timedelta(days=16))
        cp.file(conn, cp.ComplaintForm("service", "", "慢", "李四", "0592-1234567"), source="b")
    with engine.connect() as conn:
        found, total = cp.find(conn, admin, cp.ComplaintQuery(like="%100\\%%"))
        assert total == 1 and found[0].reference == late.reference
        assert found[0].filed_at.tzinfo is not None
        _, n = cp.find(conn, admin, cp.ComplaintQuery(like="%失败\\_%"))
        assert n == 1
        overdue, n = cp.find(conn, admin, cp.ComplaintQuery(overdue=True))
        assert n == 1 and overdue[0].overdue(now)
        counts = cp.counts(conn, admin)
        assert (counts.total, counts.open, counts.overdue) == (2, 2, 1)
        assert cp.lookup(conn, late.reference, "ZHANG@example.cn").state == "received"


def test_two_operators_closing_at_once_leave_one_answer(engine: sa.Engine) -> None:
    first, second = _admin(engine, "op1"), _admin(engine, "op2")
    with engine.begin() as conn:
        filed = cp.file(conn, FORM, source="a")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def close(user: core.User, action: str) -> None:
        barrier.wait()
        try:
            with engine.begin() as conn:
                cp.step(conn, user, filed.id, action, f"{action} by {user.username}")
            outcomes.append("done")
        except Conflict as exc:
            outcomes.append(exc.reason or "")

    threads = [
        threading.Thread(target=close, args=(first, "resolve")),
        threading.Thread(target=close, args=(second, "reject")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(outcomes) in (["complaint_changed", "done"], ["complaint_state", "done"])
    with engine.connect() as conn:
        final = cp.get(conn, first, filed.id)
        entries, _ = core.audit.find(conn, core.audit.AuditFilter(action="complaint."))
    assert final.state in ("resolved", "rejected")
    assert final.reply.endswith(final.handler)
    assert [e.action for e in entries].count("complaint.file") == 1
    assert len(entries) == 2  # the filing and the one close that was written


def test_monthly_statistics_on_postgres(engine: sa.Engine) -> None:
    """The hand-made complaints of tests/ids/test_complaintstats.py give the same figures on
    PostgreSQL (timestamptz read back aware, months cut in Shanghai time)."""
    from zoneinfo import ZoneInfo

    from tests.ids import test_complaintstats as hand

    from indunet.ids import complaintstats as cs

    op = hand.seven_complaints(engine)
    with engine.connect() as conn:
        utc_months = cs.monthly(conn, op, months=3, now=hand.NOW)
        cst_months = cs.monthly(conn, op, months=3, zone=ZoneInfo("Asia/Shanghai"), now=hand.NOW)
    assert [(m.filed, m.overdue, m.closed, m.closed_late) for m in utc_months] == [
        (1, 0, 1, 0),
        (3, 1, 2, 1),
        (2, 0, 1, 0),
    ]
    assert [m.median_handling_days for m in utc_months] == [14.0, 10.75, 3.0]
    assert [m.filed for m in cst_months] == [1, 2, 3]
    assert cst_months[2].by_state == hand._states(resolved=1, received=1, in_progress=1)
