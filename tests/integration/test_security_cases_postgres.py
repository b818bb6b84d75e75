"""Alerts and cases on PostgreSQL: migration sc001 applies, alerts merge by each observable
into an open case of their enterprise only, searches filter and page, and SLA reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import USCC_A
from tests.security.cases.helpers import T0, Clock, alert, make_user

from indunet import core
from indunet.core import Role
from indunet.security.cases import AlertFilter, AlertStore, CaseFilter, find_alerts
from indunet.security.subsystem import SUBSYSTEM

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(pg_schema_url: str) -> Iterator[sa.Engine]:
    eng = core.make_engine(core.Settings(database_url=pg_schema_url))
    assert SUBSYSTEM.migrations is not None
    core.migrate(eng, [SUBSYSTEM.migrations])
    yield eng
    eng.dispose()


async def test_alerts_cases_and_merging_on_postgres(engine: sa.Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        a = core.create_enterprise(conn, uscc=USCC_A, name="甲厂", actor="t", verified=True)
        b = core.create_enterprise(
            conn, uscc=core.make_uscc("91110108MA01ABCD"), name="乙厂", actor="t", verified=True
        )
    user = make_user(engine, "eu", Role.ENTERPRISE_USER, a.id)
    clock = Clock()
    store = AlertStore(engine, clock=clock, evidence_dir=tmp_path / "ev")
    await store.raise_alerts([alert(a.id), alert(b.id)])
    later = T0 + timedelta(hours=2)
    await store.raise_alerts(
        [
            alert(a.id, at=later, assets=(9,), src_ip="10.9.9.9", techniques=("T0855",)),
            alert(a.id, at=later, assets=(7,), src_ip="10.8.8.8", techniques=("T0801",)),
            alert(a.id, at=later, assets=(8,), src_ip="10.0.0.9", techniques=("T0802",)),
        ]
    )
    found, total = store.cases.find(user, CaseFilter())
    assert total == 1 and found[0].alerts == 4
    assert store.cases.find(user, CaseFilter(q="modbus"))[1] == 1
    page, n = find_alerts(engine, user, AlertFilter(ip="10.0.0.9", min_level=10), limit=2)
    assert n == 2 and len(page) == 2
    store.cases.set_status(user, found[0].id, "resolved", "test")
    assert store.cases.get(user, found[0].id).sla == "met"
