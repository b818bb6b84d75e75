"""Retention per enterprise: the setting, its default, and the pass that deletes old samples."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from tests.conftest import USCC_B

from indunet import core
from indunet.core import InvalidInput
from indunet.telemetry import MemoryStore, Sample, get_retention, retention_pass, set_retention

DAY = 86_400_000
NOW = 1_800_000_000_000


def test_a_setting_replaces_the_default_and_is_audited(
    engine: sa.Engine, enterprise: core.Enterprise
) -> None:
    with engine.begin() as conn:
        assert get_retention(conn, enterprise.id, default=365) == 365
        set_retention(conn, enterprise.id, 30, actor="user:bob")
        set_retention(conn, enterprise.id, 90, actor="user:bob")
        assert get_retention(conn, enterprise.id, default=365) == 90
        audited = core.audit.entries(conn, actor="user:bob")
    assert [(e.action, e.detail) for e in audited] == [
        ("telemetry.retention", {"days": 90}),
        ("telemetry.retention", {"days": 30}),
    ]


@pytest.mark.parametrize("days", [0, -1, 36_501])
def test_impossible_retention_is_refused(
    engine: sa.Engine, enterprise: core.Enterprise, days: int
) -> None:
    with engine.begin() as conn, pytest.raises(InvalidInput, match="1 to 36500 days"):
        set_retention(conn, enterprise.id, days, actor="user:bob")
    with engine.connect() as conn:
        assert get_retention(conn, enterprise.id, default=365) == 365


def test_the_pass_deletes_what_each_enterprise_no_longer_keeps(
    engine: sa.Engine, enterprise: core.Enterprise
) -> None:
    with engine.begin() as conn:
        other = core.create_enterprise(conn, uscc=USCC_B, name="B", actor="test", verified=True)
        set_retention(conn, enterprise.id, 7, actor="test")
    store = MemoryStore()
    ages = [1, 6, 8, 30, 400]  # days old
    store.write_batch(
        [Sample(dev, "t", NOW - age * DAY, float(age)) for dev in ("a1", "b1") for age in ages]
    )
    deleted = retention_pass(
        store,
        {enterprise.id: ["a1"], other.id: ["b1"]},
        engine=engine,
        default_days=365,
        now_ms=NOW,
    )
    assert deleted == {enterprise.id: 3, other.id: 1}
    assert [s.value for s in store.query("a1", "t", 0, NOW + 1)] == [6.0, 1.0]
    assert [s.value for s in store.query("b1", "t", 0, NOW + 1)] == [30.0, 8.0, 6.0, 1.0]
