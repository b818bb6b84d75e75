"""A node's copy of its prefix identity (``ids.enrolment``) in-process: what it lets in, and
what a check does when the parent cannot be asked. The parent's answers are tested with two
processes in tests/integration/test_enterprise_node_key.py."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import sqlalchemy as sa

from indunet import ids
from indunet.ids import AuthenticationFailed
from indunet.ids.enrolment import MAX_KEY_FILE, Enrolment, Verdict, enrol, read_key, withdraw

PREFIX = "88.100.3"
KEY = "key-of-enterprise-88.100.3"
USER = f"300:0.NA/{PREFIX}"


@pytest.fixture
def node(engine: sa.Engine) -> ids.Node:
    return ids.Node(PREFIX, ids.NodeRole.ENTERPRISE, PREFIX, engine, ids.TemplateRegistry(engine))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_copy_lets_the_prefix_key_write_under_the_prefix_and_is_withdrawn(
    node: ids.Node,
) -> None:
    with pytest.raises(AuthenticationFailed):
        node.authenticate(USER, KEY)  # before enrolment: the node does not hold the identity
    assert enrol(node, PREFIX, KEY) is True
    assert enrol(node, PREFIX, KEY) is False  # held already: nothing rewritten
    who = node.authenticate(USER, KEY)
    url = [{"index": 1, "type": "URL", "data": "https://xm.example/1"}]
    assert node.put(f"{PREFIX}/ROBOT-1", url, who) == (f"{PREFIX}/ROBOT-1", True)
    with pytest.raises(AuthenticationFailed):
        node.authenticate(USER, "another-key-entirely")
    history = node.history(f"0.NA/{PREFIX}")[1]
    assert [c.action for c in history] == ["handle.create"]
    assert withdraw(node, PREFIX) is True and withdraw(node, PREFIX) is False
    with pytest.raises(AuthenticationFailed):
        node.authenticate(USER, KEY)


def test_a_new_key_replaces_the_old_one(node: ids.Node) -> None:
    enrol(node, PREFIX, KEY)
    assert enrol(node, PREFIX, "the-rotated-key-1234") is True
    node.authenticate(USER, "the-rotated-key-1234")
    with pytest.raises(AuthenticationFailed):
        node.authenticate(USER, KEY)


def test_an_unreachable_parent_keeps_the_copy(node: ids.Node, tmp_path: Path) -> None:
    enrol(node, PREFIX, KEY)
    key_file = tmp_path / "parent.key"
    key_file.write_text(KEY + "\n")
    check = Enrolment(node, f"http://127.0.0.1:{closed_port()}", PREFIX, key_file)
    assert check.check() is Verdict.UNREACHABLE
    node.authenticate(USER, KEY)  # still taken


def test_a_missing_or_oversized_key_file_is_no_key(node: ids.Node, tmp_path: Path) -> None:
    assert read_key(tmp_path / "absent") == ""
    big = tmp_path / "big.key"
    big.write_text("k" * (MAX_KEY_FILE + 1))
    assert read_key(big) == ""
    enrol(node, PREFIX, KEY)
    check = Enrolment(node, f"http://127.0.0.1:{closed_port()}", PREFIX, big)
    assert check.check() is Verdict.REFUSED  # nothing to ask with; the parent is not asked
    node.authenticate(USER, KEY)  # and the copy is left as it is


async def test_the_node_answers_its_prefix_handle_from_the_copy(node: ids.Node) -> None:
    assert (await node.resolve(f"0.NA/{PREFIX}")).rc == ids.RC.SERVER_NOT_RESPONSIBLE
    enrol(node, PREFIX, KEY)
    answer = await node.resolve(f"0.NA/{PREFIX}")
    assert answer.rc == ids.RC.SUCCESS
    assert {v.type for v in answer.values} == {"HS_ADMIN", "HS_SECKEY"}
