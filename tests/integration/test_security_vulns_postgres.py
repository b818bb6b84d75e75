"""Vulnerability matching on a real PostgreSQL: migration sv001, storing a directory of real CISA
advisories, matching, a dismissal surviving re-matching, and downgrade."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from tests.security.vulns.samples import CSAF

from indunet import core
from indunet.core import Role
from indunet.security import AssetFacts, Vulnerabilities
from indunet.security.subsystem import SUBSYSTEM

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(pg_schema_url: str) -> Iterator[sa.Engine]:
    eng = core.make_engine(core.Settings(database_url=pg_schema_url))
    assert SUBSYSTEM.migrations is not None
    core.migrate(eng, [SUBSYSTEM.migrations])
    yield eng
    eng.dispose()


def test_sync_match_and_dismiss_on_postgres(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        e = core.create_enterprise(
            conn, uscc=core.make_uscc("91350200MA01ABCD"), name="甲厂", actor="t", verified=True
        )
    assets = [AssetFacts(1, e.id, "西门子", "SIMATIC CP 443-1 RNA", "V1.5.2")]
    vulns = Vulnerabilities(engine, CSAF, lambda ids: assets)
    root = core.User(0, "root", Role.PLATFORM_ADMIN, None)
    boss = core.User(1, "boss", Role.ENTERPRISE_ADMIN, e.id)
    report = vulns.sync(root)
    assert report.stored == 14 and report.failed == []
    advisories, count = vulns.advisories(q="siemens", severity="high")
    assert count >= 1 and all(a["severity"] == "high" for a in advisories)
    items, total = vulns.matches(boss, q="cve-2022-27640")
    assert total == 1 and items[0]["state"] == "confirmed"
    vulns.set_state(boss, items[0]["id"], "dismissed", "spare")
    vulns.matching.rematch_assets([1])
    vulns.matching.rematch_advisories([items[0]["advisory_id"]])
    assert vulns.match(boss, items[0]["id"])["state"] == "dismissed"
    assert sum(r["matches"] for r in vulns.summary(boss)) == 0
