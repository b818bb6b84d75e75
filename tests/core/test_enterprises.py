"""Enterprises: registration with real-name data, duplicates, lookups, verification."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from indunet import core

USCC_A = "91350100M000100Y43"
USCC_B = core.make_uscc("91110108MA01ABCD")


def _create(
    engine: sa.Engine, uscc: str = USCC_A, name: str = "厦门示例机床有限公司"
) -> core.Enterprise:
    with engine.begin() as conn:
        return core.create_enterprise(conn, uscc=uscc, name=name, actor="user:op", region="福建")


def test_create_then_find_by_code_and_id(core_engine: sa.Engine) -> None:
    ent = _create(core_engine, uscc=USCC_A.lower(), name="  厦门示例机床有限公司 ")
    assert ent.uscc == USCC_A
    assert ent.name == "厦门示例机床有限公司"
    assert ent.verified is False
    with core_engine.connect() as conn:
        assert core.get_enterprise(conn, USCC_A.lower()).id == ent.id
        assert core.get_enterprise_by_id(conn, ent.id).region == "福建"
        entries = core.audit.entries(conn, target=f"enterprise:{USCC_A}")
    assert [(e.actor, e.action) for e in entries] == [("user:op", "enterprise.create")]


def test_duplicate_is_refused_and_nothing_is_written(
    core_engine: sa.Engine, rows: Callable[[str], int]
) -> None:
    _create(core_engine)
    with pytest.raises(core.Conflict) as err, core_engine.begin() as conn:
        core.create_enterprise(conn, uscc=USCC_A.lower(), name="Another name", actor="user:op")
    assert USCC_A in err.value.message
    assert err.value.status == 409
    assert rows("core_enterprises") == 1
    assert rows("core_audit_log") == 1


def test_bad_code_is_refused_and_nothing_is_written(
    core_engine: sa.Engine, rows: Callable[[str], int]
) -> None:
    with pytest.raises(core.InvalidInput, match="expected '3'"), core_engine.begin() as conn:
        core.create_enterprise(conn, uscc=USCC_A[:17] + "0", name="X", actor="user:op")
    assert rows("core_enterprises") == 0
    assert rows("core_audit_log") == 0


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_name_must_have_1_to_200_characters(
    core_engine: sa.Engine, rows: Callable[[str], int], name: str
) -> None:
    with pytest.raises(core.InvalidInput, match="1 to 200 characters"), core_engine.begin() as conn:
        core.create_enterprise(conn, uscc=USCC_A, name=name, actor="user:op")
    assert rows("core_enterprises") == 0


def test_unknown_enterprise_is_not_found(core_engine: sa.Engine) -> None:
    with core_engine.connect() as conn:
        with pytest.raises(core.NotFound, match=USCC_B):
            core.get_enterprise(conn, USCC_B)
        with pytest.raises(core.NotFound, match="no enterprise with id 42"):
            core.get_enterprise_by_id(conn, 42)


def test_list_is_sorted_by_name(core_engine: sa.Engine) -> None:
    _create(core_engine, USCC_A, "Zeta Machine Tools")
    _create(core_engine, USCC_B, "Alpha Bearings")
    with core_engine.connect() as conn:
        names = [e.name for e in core.list_enterprises(conn)]
    assert names == ["Alpha Bearings", "Zeta Machine Tools"]


def test_verification_is_recorded_and_audited(core_engine: sa.Engine) -> None:
    _create(core_engine)
    with core_engine.begin() as conn:
        ent = core.set_verified(conn, USCC_A, verified=True, actor="user:reviewer")
    assert ent.verified is True
    with core_engine.connect() as conn:
        assert core.get_enterprise(conn, USCC_A).verified is True
        latest = core.audit.entries(conn, limit=1)[0]
    assert (latest.actor, latest.action, latest.detail) == (
        "user:reviewer",
        "enterprise.verify",
        {"verified": True},
    )


@pytest.mark.parametrize(
    ("field", "limit"),
    [("legal_representative", 100), ("contact", 200), ("industry_code", 8), ("region", 100)],
)
def test_real_name_fields_have_length_limits(
    core_engine: sa.Engine, rows: Callable[[str], int], field: str, limit: int
) -> None:
    with (
        pytest.raises(core.InvalidInput, match=f"{field} must have at most {limit} characters"),
        core_engine.begin() as conn,
    ):
        core.create_enterprise(
            conn, uscc=USCC_A, name="Acme", actor="user:op", **{field: "x" * (limit + 1)}
        )
    assert rows("core_enterprises") == 0
