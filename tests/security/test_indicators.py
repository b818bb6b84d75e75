"""The security counts the federation's status report carries (``security.indicators``):
the same figures the situation page shows for every enterprise, read as SQL aggregates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from indunet import core
from indunet.core import Role
from indunet.security import Alert, Security
from indunet.security.indicators import BANDS, band_of, counts
from indunet.security.situation import band, situation
from indunet.security.vulntables import advisories, matches
from indunet.web import AppState


def test_the_sql_bands_are_the_situation_bands(engine: sa.Engine) -> None:
    levels = sa.union_all(*(sa.select(sa.literal(n).label("level")) for n in range(16))).subquery()
    with engine.connect() as conn:
        got = dict(conn.execute(sa.select(levels.c.level, band_of(levels.c.level))).all())
    assert got == {n: band(n) for n in range(16)}


async def test_the_counts_are_the_situation_figures(
    state: AppState, enterprise: core.Enterprise
) -> None:
    svc = state.services["security"]
    assert isinstance(svc, Security)
    with state.engine.begin() as conn:
        core.create_user(
            conn, username="ea", password="a-long-password", role=Role.ENTERPRISE_ADMIN,
            actor="t", enterprise_id=enterprise.id,
        )  # fmt: skip
        boss = core.get_user(conn, "ea")
    inventory = svc.part("assets").store
    plc = inventory.create(boss, enterprise.id, {"name": "PLC-1", "criticality": "high"})
    inventory.create(boss, enterprise.id, {"name": "HMI-1"})
    now = datetime.now(UTC)
    await svc.part("alerts").raise_alerts(
        [
            Alert(
                ts=now.timestamp() - 60 * i,
                rule=f"r{i}",
                rule_version=1,
                level=level,
                title="t",
                enterprise_id=enterprise.id,
                assets=(plc.id,),
            )
            for i, level in enumerate((13, 10, 10, 3))
        ]
    )
    with state.engine.begin() as conn:
        advisory = conn.execute(
            advisories.insert().values(
                tracking_id="T",
                title="t",
                publisher="p",
                version="1",
                initial_release="",
                current_release="",
                sha256="0" * 64,
                source="t",
                cves=[],
                products=[],
                vulnerabilities=[],
                search="",
                imported_by="t",
                imported_at=now,
            )
        ).inserted_primary_key[0]
        for n, (severity, state_) in enumerate(
            (("high", "open"), ("high", "dismissed"), (None, "open"), ("critical", "open"))
        ):
            conn.execute(
                matches.insert().values(
                    enterprise_id=enterprise.id,
                    asset_id=plc.id,
                    asset_name="PLC-1",
                    advisory_id=advisory,
                    tracking_id="T",
                    cve=f"CVE-2026-{n}",
                    product_id="p",
                    product_name="p",
                    state=state_,
                    why={},
                    severity=severity,
                    matched_at=now,
                    search="",
                )
            )
        got = counts(conn)
        later = counts(conn, now + timedelta(days=2))
    seen = situation(state.engine, None)
    assert got["assets"] == seen.assets == 2
    assert (
        {b: got[f"alerts_24h.{b}"] for b, _ in BANDS if got[f"alerts_24h.{b}"]}
        == (seen.alerts_24h)
        == {"critical": 1, "high": 2, "low": 1}
    )
    assert {k: v for k, v in got.items() if k.startswith("vulns.") and v} == {
        "vulns.high": 1, "vulns.critical": 1, "vulns.none": 1,
    }  # fmt: skip
    assert got["cases_open"] == sum(seen.cases.values()) >= 1
    assert set(got) == set(later) and later["alerts_24h.critical"] == 0  # every name, always
