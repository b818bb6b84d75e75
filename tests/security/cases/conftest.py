"""Fixtures of the alert and case tests: a store over the test database on a settable clock,
a second enterprise, users of each role."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import USCC_B
from tests.security.cases.helpers import Clock, make_user

from indunet import core
from indunet.core import Role, User
from indunet.security.cases import AlertStore


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(engine: sa.Engine, clock: Clock, tmp_path: Path) -> AlertStore:
    return AlertStore(engine, None, clock=clock, evidence_dir=tmp_path / "evidence")


@pytest.fixture
def other(engine: sa.Engine) -> core.Enterprise:
    with engine.begin() as conn:
        return core.create_enterprise(conn, uscc=USCC_B, name="乙厂", actor="t", verified=True)


@pytest.fixture
def users(
    engine: sa.Engine, enterprise: core.Enterprise, other: core.Enterprise
) -> dict[str, User]:
    return {
        "pa": make_user(engine, "pa", Role.PLATFORM_ADMIN),
        "reg": make_user(engine, "reg", Role.REGULATOR),
        "ea": make_user(engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id),
        "eu": make_user(engine, "eu", Role.ENTERPRISE_USER, enterprise.id),
        "eu2": make_user(engine, "eu2", Role.ENTERPRISE_USER, enterprise.id),
        "ob": make_user(engine, "ob", Role.ENTERPRISE_ADMIN, other.id),
    }
