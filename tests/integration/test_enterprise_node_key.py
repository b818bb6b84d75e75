"""An enterprise running its own node writes to its prefix there with pyhandle and its prefix
key, and a key rotation at the parent reaches that node (``ids.enrolment``).

Two OS processes on 127.0.0.1: the parent secondary node 88.100, which holds the prefix
``88.100.3`` and its key, and the enterprise node 88.100.3 started with ``--parent`` and
``--parent-key-file``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pyhandle.handleexceptions import HandleAuthenticationError
from tests.integration.prefixes import pyhandle_client
from tests.integration.servers import Server, group
from tests.integration.test_hierarchy_processes import ALLOW_LOOPBACK, allocate_in

from indunet import ids
from indunet.core import Settings
from indunet.ids.prefixes import rotate_key
from indunet.web import open_database

pytestmark = pytest.mark.integration

PREFIX = "88.100.3"
USERNAME = f"300:0.NA/{PREFIX}"
KEY = "key-of-enterprise-88.100.3"
CHECK_S = 1  # how often the enterprise node asks its parent about the key (default 60)


@dataclass
class Pair:
    parent: Server
    node: Server
    key_file: Path


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with group(tmp_path_factory.mktemp("enterprise-key")) as g:
        parent = g.prepare(
            "parent", "node", "--role", "secondary", "--prefix", "88.100", env=ALLOW_LOOPBACK
        )
        allocate_in(parent.data_dir, "88.100", PREFIX, KEY)
        parent.start()
        key_file = g.base / "parent.key"
        key_file.write_text(KEY + "\n")
        key_file.chmod(0o600)
        node = g.start(
            "enterprise",
            *("node", "--role", "enterprise", "--prefix", PREFIX),
            *("--parent", parent.url, "--parent-key-file", str(key_file)),
            env=ALLOW_LOOPBACK | {"INDUNET_ENROL_CHECK_S": str(CHECK_S)},
        )
        yield Pair(parent, node, key_file)


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def write(node: Server, handle: str, secret: str) -> int:
    resp = httpx.put(
        f"{node.url}/api/handles/{handle}",
        json={"values": [{"index": 1, "type": "URL", "data": "https://xm.example/r"}]},
        auth=(USERNAME.replace(":", "%3A", 1), secret),
        timeout=5,
    )
    return resp.status_code


def test_pyhandle_writes_to_the_enterprise_node_with_the_prefix_key(pair: Pair) -> None:
    client = pyhandle_client(pair.node, USERNAME, KEY)
    handle = f"{PREFIX}/ROBOT-0001"
    client.register_handle(handle, "https://xm-machine.example.com/devices/ROBOT-0001")
    assert client.get_value_from_handle(handle, "URL").startswith("https://xm-machine")
    client.modify_handle_value(handle, DESC="焊接机器人")
    got = httpx.get(f"{pair.node.url}/api/handles/{handle}", timeout=5).json()
    assert {v["type"] for v in got["values"]} >= {"URL", "DESC", "HS_ADMIN"}
    assert "accepted at this node" in pair.node.output
    identity = httpx.get(f"{pair.node.url}/api/handles/0.NA/{PREFIX}", timeout=5).json()
    assert [v["type"] for v in identity["values"]] == ["HS_ADMIN"]  # the key's hash is not public
    # and the node is where the parent refers to
    ref = httpx.get(f"{pair.parent.url}/api/handles/{handle}", timeout=5)
    assert ref.status_code == 302 and ref.headers["location"].startswith(pair.node.url)


def test_a_wrong_key_is_refused_at_the_enterprise_node(pair: Pair) -> None:
    bad = pyhandle_client(pair.node, USERNAME, "not-the-key-at-all")
    with pytest.raises(HandleAuthenticationError):
        bad.register_handle(f"{PREFIX}/ROBOT-BAD", "https://x.example")


def test_a_rotation_at_the_parent_reaches_the_node_and_a_new_key_file_is_taken(
    pair: Pair,
) -> None:
    engine = open_database(Settings(data_dir=pair.parent.data_dir))
    try:
        node = ids.Node(
            "88.100", ids.NodeRole.SECONDARY, "88.100", engine, ids.TemplateRegistry(engine)
        )
        new_key = rotate_key({"88.100": node}, PREFIX, actor="test")
    finally:
        engine.dispose()
    # the old key stops working at the enterprise node within a few checks
    assert eventually(lambda: write(pair.node, f"{PREFIX}/ROT-1", KEY) == 401)
    assert write(pair.node, f"{PREFIX}/ROT-1", new_key) == 401  # not given to the node yet
    pair.key_file.write_text(new_key + "\n")
    assert eventually(lambda: write(pair.node, f"{PREFIX}/ROT-1", new_key) in (200, 201))
    client = pyhandle_client(pair.node, USERNAME, new_key)
    client.register_handle(f"{PREFIX}/ROT-2", "https://xm.example/2")
