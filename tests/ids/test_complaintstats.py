"""Complaint statistics per month (ids.complaintstats) on a real database, checked against a
hand-made set of complaints whose figures are worked out below, in UTC and in Shanghai time;
and the configurable deadline (``complaint_deadline_days``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pydantic
import pytest
import sqlalchemy as sa

from indunet import core
from indunet.core import Role, Settings
from indunet.ids import complaints as cp
from indunet.ids import complaintstats as cs
from indunet.web import build_state

NOW = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _admin(engine: sa.Engine) -> core.User:
    with engine.begin() as conn:
        return core.create_user(
            conn, username="op", password="a-long-password", role=Role.PLATFORM_ADMIN, actor="t"
        )


def _complaint(
    engine: sa.Engine,
    admin: core.User,
    kind: str,
    filed: str,
    closing: tuple[str, str] | None = None,
    *,
    started: bool = False,
) -> None:
    form = cp.ComplaintForm(kind, "" if kind == "service" else "88.100.1", "慢", "张三", "0592-1")
    with engine.begin() as conn:
        made = cp.file(conn, form, source="t", now=_at(filed))
        if started:
            cp.step(conn, admin, made.id, "start", now=_at(filed) + timedelta(hours=1))
        if closing:
            cp.step(conn, admin, made.id, closing[0], "已处理", now=_at(closing[1]))


def seven_complaints(engine: sa.Engine) -> core.User:
    """Seven complaints (deadline 15 days), A to G, and the admin who handled them:

    ==  =========  ==================  ===========  ====================  ===========
    id  kind       filed (UTC)         state now    closed (UTC)          handling
    ==  =========  ==================  ===========  ====================  ===========
    A   identifier 2026-01-20 00:00    resolved     2026-02-03 00:00      14 d
    B   prefix     2026-02-10 00:00    resolved     2026-03-01 00:00      19 d, late
    C   identifier 2026-03-01 08:00    rejected     2026-03-03 20:00      2.5 d
    D   service    2026-03-05 00:00    received     (due 03-20: overdue)
    E   identifier 2026-03-31 20:00    in_progress  (due 04-15)           Shanghai: 04-01
    F   prefix     2026-04-02 00:00    resolved     2026-04-05 00:00      3 d
    G   identifier 2026-04-08 00:00    received     (due 04-23)
    ==  =========  ==================  ===========  ====================  ===========
    """
    op = _admin(engine)
    _complaint(engine, op, "identifier", "2026-01-20T00:00", ("resolve", "2026-02-03T00:00"))
    _complaint(engine, op, "prefix", "2026-02-10T00:00", ("resolve", "2026-03-01T00:00"))
    _complaint(engine, op, "identifier", "2026-03-01T08:00", ("reject", "2026-03-03T20:00"))
    _complaint(engine, op, "service", "2026-03-05T00:00")
    _complaint(engine, op, "identifier", "2026-03-31T20:00", started=True)
    _complaint(engine, op, "prefix", "2026-04-02T00:00", ("resolve", "2026-04-05T00:00"))
    _complaint(engine, op, "identifier", "2026-04-08T00:00")
    return op


@pytest.fixture
def admin(engine: sa.Engine) -> core.User:
    """The platform admin who handled ``seven_complaints``."""
    return seven_complaints(engine)


def _zeros(names: tuple[str, ...], **given: int) -> dict[str, int]:
    return {**dict.fromkeys(names, 0), **given}


def _states(**given: int) -> dict[str, int]:
    return _zeros(cp.STATES, **given)


def _kinds(**given: int) -> dict[str, int]:
    return _zeros(cp.SUBJECT_KINDS, **given)


def test_months_in_utc_count_filed_by_state_and_kind_and_closed_with_median(
    engine: sa.Engine, admin: core.User
) -> None:
    with engine.connect() as conn:
        got = cs.monthly(conn, admin, months=5, now=NOW)
    assert [m.month for m in got] == ["2025-12", "2026-01", "2026-02", "2026-03", "2026-04"]
    dec, jan, feb, mar, apr = got
    assert dec == cs.MonthStats("2025-12")  # every month present, zeros and no median
    assert dec.median_handling_days is None
    assert (jan.filed, jan.by_state, jan.by_kind, jan.closed) == (
        1,
        _states(resolved=1),
        _kinds(identifier=1),
        0,
    )
    assert (feb.filed, feb.by_state, feb.by_kind, feb.overdue) == (
        1,
        _states(resolved=1),
        _kinds(prefix=1),
        0,
    )
    assert (feb.closed, feb.closed_late, feb.median_handling_days) == (1, 0, 14.0)  # A
    assert mar.filed == 3  # C, D, E
    assert mar.by_state == _states(rejected=1, received=1, in_progress=1)
    assert mar.by_kind == _kinds(identifier=2, service=1)
    assert mar.overdue == 1  # D
    assert (mar.closed, mar.closed_late) == (2, 1)  # B (late) and C
    assert mar.median_handling_days == 10.75  # median of 19 and 2.5
    assert (apr.filed, apr.by_state, apr.by_kind, apr.overdue) == (
        2,
        _states(resolved=1, received=1),
        _kinds(prefix=1, identifier=1),
        0,
    )
    assert (apr.closed, apr.closed_late, apr.median_handling_days) == (1, 0, 3.0)  # F


def test_months_are_the_readers_zones_months(engine: sa.Engine, admin: core.User) -> None:
    with engine.connect() as conn:
        got = cs.monthly(conn, admin, months=3, zone=ZoneInfo("Asia/Shanghai"), now=NOW)
    feb, mar, apr = got
    assert [m.month for m in got] == ["2026-02", "2026-03", "2026-04"]
    assert (feb.filed, feb.closed, feb.median_handling_days) == (1, 1, 14.0)
    assert (mar.filed, mar.by_state) == (2, _states(rejected=1, received=1))  # E went to April
    assert (apr.filed, apr.by_state) == (3, _states(resolved=1, received=1, in_progress=1))
    assert apr.by_kind == _kinds(identifier=2, prefix=1)


def test_a_later_now_makes_more_complaints_overdue(engine: sa.Engine, admin: core.User) -> None:
    with engine.connect() as conn:
        later = cs.monthly(conn, admin, months=2, now=datetime(2026, 4, 30, tzinfo=UTC))
    mar, apr = later
    assert (mar.overdue, apr.overdue) == (2, 1)  # D and E; G (due 04-23)


def test_only_readers_of_complaints_get_figures_and_the_span_is_bounded(
    engine: sa.Engine, admin: core.User
) -> None:
    with engine.begin() as conn:
        ent = core.create_enterprise(
            conn, uscc=core.make_uscc("91350200MA3GQWXX"), name="E", actor="t", verified=True
        )
        tenant = core.create_user(
            conn,
            username="ea",
            password="a-long-password",
            role=Role.ENTERPRISE_ADMIN,
            actor="t",
            enterprise_id=ent.id,
        )
        regulator = core.create_user(
            conn, username="reg", password="a-long-password", role=Role.REGULATOR, actor="t"
        )
    with engine.connect() as conn:
        assert cs.monthly(conn, tenant, now=NOW) == []
        assert sum(m.filed for m in cs.monthly(conn, regulator, now=NOW)) == 7
        assert len(cs.monthly(conn, admin, months=0, now=NOW)) == 1
        assert len(cs.monthly(conn, admin, months=10_000, now=NOW)) == cs.MAX_MONTHS


def test_the_deadline_is_the_nodes_setting_within_bounds(
    settings: Settings, engine: sa.Engine
) -> None:
    longer = settings.model_copy(update={"complaint_deadline_days": 30})
    state = build_state(longer, engine=engine)
    assert state.complaints.deadline_days == 30
    form = cp.ComplaintForm("service", "", "慢", "张三", "0592-1")
    filed = state.complaints.file(engine, form, source="203.0.113.9")
    assert filed.due_at - filed.filed_at == timedelta(days=30)
    for wrong in (0, 91, -3):
        with pytest.raises(pydantic.ValidationError, match="complaint_deadline_days"):
            Settings(complaint_deadline_days=wrong)
    assert Settings().complaint_deadline_days == cp.DEADLINE_DAYS == 15


def test_month_edges_are_the_zones_first_instants_across_a_new_year(engine: sa.Engine) -> None:
    op = _admin(engine)
    cst = ZoneInfo("Asia/Shanghai")
    new_year = datetime(2026, 1, 1, tzinfo=cst).astimezone(UTC)  # 2025-12-31 16:00 UTC
    for at in (
        new_year - timedelta(microseconds=1),  # December's last instant
        new_year,  # January's first
        datetime(2026, 2, 1, tzinfo=cst).astimezone(UTC),  # past the window: not counted
    ):
        _complaint(engine, op, "prefix", at.replace(tzinfo=None).isoformat())
    with engine.connect() as conn:
        got = cs.monthly(conn, op, months=2, zone=cst, now=datetime(2026, 1, 10, tzinfo=UTC))
    assert [(m.month, m.filed) for m in got] == [("2025-12", 1), ("2026-01", 1)]
