"""A node answers its prefix, refers delegated prefixes, refuses others, and guards writes."""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest
import sqlalchemy as sa

from indunet import core, ids
from indunet.ids import (
    OPERATOR,
    RC,
    HandleExists,
    HandleNotFound,
    Node,
    NodeRole,
    NotAuthorized,
    NotResponsible,
    Principal,
    TemplateRegistry,
    ValueExists,
    ValuesNotFound,
)

USCC_A = "91350100M000100Y43"
USCC_B = core.make_uscc("91110108MA01ABCD")
SECRET_A = "secret-of-enterprise-a"
SECRET_B = "secret-of-enterprise-b"
URL = [{"index": 1, "type": "URL", "data": "https://a.example.cn/cnc-1"}]


@pytest.fixture
def node(engine: sa.Engine) -> Node:
    return Node("88.100", NodeRole.SECONDARY, "88.100", engine, TemplateRegistry(engine))


@pytest.fixture
def tenants(engine: sa.Engine, node: Node) -> tuple[Principal, Principal]:
    with engine.begin() as conn:
        a = core.create_enterprise(conn, uscc=USCC_A, name="A", actor="test", verified=True)
        b = core.create_enterprise(conn, uscc=USCC_B, name="B", actor="test", verified=True)
    ids.allocate(node, "88.100.1", a, actor="test", secret=SECRET_A)
    ids.allocate(node, "88.100.2", b, actor="test", secret=SECRET_B)
    return (
        node.authenticate("300:0.NA/88.100.1", SECRET_A),
        node.authenticate("300%3A0.NA%2F88.100.2", SECRET_B),
    )


def _values(node: Node, handle: str) -> dict[int, Any] | None:
    rec = node.store.get(ids.handle.key(handle))
    return None if rec is None else {v.index: v.value for v in rec.values}


def _raw_rows(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.text("SELECT record FROM ids_handles"))]


async def test_authoritative_answer_and_not_found(node: Node) -> None:
    handle, created = node.put("88.100.7/CNC-1", URL, OPERATOR)
    assert (handle, created) == ("88.100.7/CNC-1", True)
    answer = await node.resolve("88.100.7/cnc-1")
    assert answer.rc == RC.SUCCESS
    assert answer.handle == "88.100.7/CNC-1"
    assert [v.type for v in answer.public_values()] == ["URL", "HS_ADMIN"]
    missing = await node.resolve("88.100.7/CNC-2")
    assert (missing.rc, missing.message) == (
        RC.HANDLE_NOT_FOUND,
        "handle 88.100.7/CNC-2 is not registered",
    )
    assert node.stats.resolutions == 2


async def test_invalid_identifier_is_answered_with_102(node: Node) -> None:
    answer = await node.resolve("88.100.1")
    assert answer.rc == RC.INVALID_HANDLE
    assert "has no '/'" in answer.message


async def test_delegated_child_prefixes_are_referred(node: Node) -> None:
    ids.delegate(node, "88.100.9", ["http://ent-a/nodes/e", "http://ent-b/nodes/e"])
    for text in ("88.100.9/X", "88.100.9.3/Y"):
        answer = await node.resolve(text)
        assert answer.rc == RC.SERVICE_REFERRAL
        assert answer.referral is not None
        assert answer.referral.prefix == "88.100.9"
        assert [(s.url, s.primary) for s in answer.referral.sites] == [
            ("http://ent-a/nodes/e", True),
            ("http://ent-b/nodes/e", False),
        ]
    # The prefix handle itself lives here, with the parent.
    assert (await node.resolve("0.NA/88.100.9")).rc == RC.SUCCESS
    with pytest.raises(
        NotResponsible,
        match=r"prefix 88.100.9 is delegated to http://ent-a/nodes/e, http://ent-b/nodes/e; write there",
    ):
        node.put("88.100.9/X", URL, OPERATOR)


async def test_other_prefixes_are_not_this_nodes(node: Node) -> None:
    for text in ("88.200/X", "99/X", "0.NA/88"):
        answer = await node.resolve(text)
        assert answer.rc == RC.SERVER_NOT_RESPONSIBLE
        assert "node 88.100 does not serve prefix" in answer.message
    with pytest.raises(NotResponsible, match=r"node 88.100 does not serve prefix 88.200"):
        node.put("88.200/X", URL, OPERATOR)
    assert node.store.count() == 0


def test_write_lifecycle_with_the_enterprise_credential(
    node: Node, tenants: tuple[Principal, Principal]
) -> None:
    a, _ = tenants
    assert node.put("88.100.1/CNC-1", URL, a) == ("88.100.1/CNC-1", True)
    admins = [v for v in node.store.get("88.100.1/CNC-1").values if v.type == "HS_ADMIN"]
    assert [adm.value["handle"] for adm in admins] == ["0.NA/88.100.1"]
    # modify (replace the record)
    new_url = [{"index": 1, "type": "URL", "data": "https://a.example.cn/v2"}]
    assert node.put("88.100.1/cnc-1", new_url, a) == ("88.100.1/CNC-1", False)
    assert _values(node, "88.100.1/CNC-1")[1] == "https://a.example.cn/v2"
    # add a value
    node.put("88.100.1/CNC-1", [{"index": 3, "type": "DESC", "data": "lathe"}], a, indices=[3])
    assert _values(node, "88.100.1/CNC-1")[3] == "lathe"
    with pytest.raises(ValueExists, match="already has a value at index 3"):
        node.put(
            "88.100.1/CNC-1",
            [{"index": 3, "type": "DESC", "data": "mill"}],
            a,
            indices=[3],
            overwrite=False,
        )
    with pytest.raises(ValuesNotFound, match=r"the body has no value with index \[4\]"):
        node.put("88.100.1/CNC-1", [{"index": 3, "type": "DESC", "data": "x"}], a, indices=[4])
    # remove a value
    node.delete("88.100.1/CNC-1", a, indices=[3])
    assert 3 not in _values(node, "88.100.1/CNC-1")
    with pytest.raises(ValuesNotFound, match=r"has no value at index \[3\]"):
        node.delete("88.100.1/CNC-1", a, indices=[3])
    # delete
    assert node.delete("88.100.1/CNC-1", a) == "88.100.1/CNC-1"
    assert _values(node, "88.100.1/CNC-1") is None
    with pytest.raises(HandleNotFound, match=r"handle 88.100.1/CNC-1 is not registered"):
        node.delete("88.100.1/CNC-1", a)
    with node.engine.connect() as conn:
        actions = [e.action for e in core.audit.entries(conn, actor="300:0.NA/88.100.1")]
    assert actions == [
        "handle.delete",
        "handle.remove_values",
        "handle.modify",
        "handle.modify",
        "handle.create",
    ]


def test_cross_tenant_writes_are_refused_and_change_nothing(
    engine: sa.Engine, node: Node, tenants: tuple[Principal, Principal]
) -> None:
    a, b = tenants
    node.put("88.100.1/CNC-1", URL, a)
    before = _raw_rows(engine)
    evil = [{"index": 1, "type": "URL", "data": "https://evil.example"}]
    with pytest.raises(
        NotAuthorized, match=r"300:0.NA/88.100.2 holds no modify_value right on 88.100.1/CNC-1"
    ):
        node.put("88.100.1/CNC-1", evil, b)
    with pytest.raises(NotAuthorized, match="holds no add_value right"):
        node.put("88.100.1/CNC-1", [{"index": 9, "type": "DESC", "data": "x"}], b, indices=[9])
    with pytest.raises(NotAuthorized, match=r"holds no add_handle right on 88.100.1/NEW"):
        node.put("88.100.1/NEW", evil, b)
    with pytest.raises(NotAuthorized, match="holds no delete_handle right"):
        node.delete("88.100.1/CNC-1", b)
    with pytest.raises(NotAuthorized, match="holds no remove_value right"):
        node.delete("88.100.1/CNC-1", b, indices=[1])
    with pytest.raises(NotAuthorized, match=r"holds no modify_value right on 0.NA/88.100.1"):
        node.put("0.NA/88.100.1", evil, b)
    with pytest.raises(NotAuthorized, match=r"prefix 88.100.1 does not belong to its enterprise"):
        node.put(
            "88.100.1/CNC-1", evil, Principal("user:b-admin", prefixes=frozenset({"88.100.2"}))
        )
    with pytest.raises(NotAuthorized, match="holds no list_handles right"):
        node.list_handles("88.100.1", b)
    assert _raw_rows(engine) == before
    with engine.connect() as conn:
        assert core.audit.entries(conn, actor="300:0.NA/88.100.2") == []


def test_duplicate_create_without_overwrite_is_refused(
    node: Node, tenants: tuple[Principal, Principal]
) -> None:
    a, _ = tenants
    node.put("88.100.1/CNC-1", URL, a)
    with pytest.raises(
        HandleExists, match=r"handle 88.100.1/cnc-1 already exists \(overwrite=false\)"
    ):
        node.put(
            "88.100.1/cnc-1",
            [{"index": 1, "type": "URL", "data": "https://other"}],
            a,
            overwrite=False,
        )
    assert _values(node, "88.100.1/CNC-1")[1] == URL[0]["data"]


def test_secret_keys_are_stored_hashed_and_never_shown(engine: sa.Engine, node: Node) -> None:
    seckey = {"index": 300, "type": "HS_SECKEY", "data": "device-secret-123", "permissions": "1111"}
    node.put("88.100.7/DEV-1", [*URL, seckey], OPERATOR)
    stored = node.store.get("88.100.7/DEV-1").values
    key = next(v for v in stored if v.type == "HS_SECKEY")
    assert key.value.startswith("scrypt$") and core.verify_secret("device-secret-123", key.value)
    assert key.permissions == "1100"
    assert all("device-secret-123" not in row for row in _raw_rows(engine))
    device = node.authenticate("300:88.100.7/DEV-1", "device-secret-123")
    assert device.identity == (300, "88.100.7/DEV-1")


async def test_secret_keys_are_not_in_public_answers(
    node: Node, tenants: tuple[Principal, Principal]
) -> None:
    answer = await node.resolve("0.NA/88.100.1")
    assert answer.rc == RC.SUCCESS
    assert "HS_SECKEY" in {v.type for v in answer.values or []}
    assert "HS_SECKEY" not in {v.type for v in answer.public_values()}
    assert b"HS_SECKEY" not in answer.body()
    assert b"scrypt" not in answer.body()


def _failure(node: Node, username: str, secret: str) -> tuple[str, float]:
    t0 = time.perf_counter()
    with pytest.raises(ids.AuthenticationFailed) as err:
        node.authenticate(username, secret)
    return err.value.message, time.perf_counter() - t0


def test_authentication_failures_say_the_same_and_cost_the_same(
    node: Node, tenants: tuple[Principal, Principal]
) -> None:
    """Unknown identity, no key at that index and a wrong secret cannot be told apart."""
    cases = {
        "wrong secret": ("300:0.NA/88.100.1", SECRET_B),
        "unknown identity": ("300:0.NA/88.100.3", SECRET_A),
        "no key at index": ("301:0.NA/88.100.1", SECRET_A),
    }
    _failure(node, *cases["unknown identity"])  # the stand-in hash is made on first use
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(5):
        for name, (username, secret) in cases.items():
            message, seconds = _failure(node, username, secret)
            assert message == "unknown identity or wrong secret key", name
            timings[name].append(seconds)
    medians = {name: statistics.median(t) for name, t in timings.items()}
    wrong = medians["wrong secret"]
    for name, median in medians.items():  # scrypt dominates: within a factor of two
        assert wrong / 2 < median < wrong * 2, (name, medians)


def test_list_handles_needs_the_right_and_pages(
    node: Node, tenants: tuple[Principal, Principal]
) -> None:
    a, _ = tenants
    for i in range(5):
        node.put(f"88.100.1/N-{i}", URL, a)
    total, page = node.list_handles("88.100.1", a, page=1, page_size=2)
    assert total == 5
    assert page == ["88.100.1/N-2", "88.100.1/N-3"]


def test_template_violation_changes_nothing(
    engine: sa.Engine, node: Node, tenants: tuple[Principal, Principal]
) -> None:
    a, _ = tenants
    node.put("88.100.1/CNC-1", URL, a)
    before = _raw_rows(engine)
    with pytest.raises(ids.InvalidValue, match="unknown type 'serial'"):
        node.put("88.100.1/CNC-1", [{"index": 2000, "type": "serial", "data": "x"}], a)
    with pytest.raises(ids.InvalidValue, match="unknown type 'serial'"):
        node.put("88.100.1/CNC-2", [{"index": 2000, "type": "serial", "data": "x"}], a)
    assert _raw_rows(engine) == before


def test_mint_makes_a_new_valid_handle(node: Node) -> None:
    minted = node.mint("88.100.7/batch-")
    assert minted.startswith("88.100.7/batch-") and len(minted) == len("88.100.7/batch-") + 36
    assert node.mint("88.100.7") != node.mint("88.100.7")
