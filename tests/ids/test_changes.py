"""Writes noted in ids_changes reach another process's caches through its ChangeFeed."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from indunet.ids import OPERATOR, Node, NodeRole, TemplateRegistry, allocate
from indunet.ids.changes import EVERYTHING, KEEP_S, MAX_KEYS, note
from indunet.ids.prefixes import revoke
from indunet.ids.tables import changes
from indunet.ids.upkeep import Upkeep

URL = [{"index": 1, "type": "URL", "data": "https://a.example.cn/cnc-1"}]
URL2 = [{"index": 1, "type": "URL", "data": "https://a.example.cn/cnc-2"}]


def secondary(engine: sa.Engine) -> Node:
    """A secondary node as one process builds it (two of these: two processes' views)."""
    return Node("88.100", NodeRole.SECONDARY, "88.100", engine, TemplateRegistry(engine))


@pytest.fixture
def server(engine: sa.Engine) -> tuple[Node, Upkeep]:
    node = secondary(engine)
    upkeep = Upkeep(engine, [node])
    upkeep.feed.begin()
    return node, upkeep


async def test_another_writers_change_is_dropped_from_the_cache(
    engine: sa.Engine, server: tuple[Node, Upkeep]
) -> None:
    node, upkeep = server
    writer = secondary(engine)  # the CLI's node on the same database
    writer.put("88.100/cnc-1", URL, OPERATOR)
    upkeep.feed.poll()
    assert (await node.resolve("88.100/cnc-1")).values[0].value.endswith("cnc-1")  # type: ignore[index, union-attr]
    assert node.cached_body("88.100/CNC-1", "88.100/cnc-1") is not None
    writer.put("88.100/cnc-1", URL2, OPERATOR)
    assert node.cached_body("88.100/CNC-1", "88.100/cnc-1") is not None  # not told yet
    assert upkeep.feed.poll() == [("88.100", "88.100/CNC-1")]
    assert node.cached_body("88.100/CNC-1", "88.100/cnc-1") is None
    assert (await node.resolve("88.100/cnc-1")).values[0].value.endswith("cnc-2")  # type: ignore[index, union-attr]
    assert upkeep.feed.poll() == []  # each change is acted on once


def test_a_late_commit_with_a_lower_number_is_not_missed(
    engine: sa.Engine, server: tuple[Node, Upkeep]
) -> None:
    _, upkeep = server
    row = {"node": "88.100", "at": time.time()}
    with engine.begin() as conn:
        conn.execute(changes.insert().values(seq=20, hkey="88.100/B", **row))
    assert upkeep.feed.poll() == [("88.100", "88.100/B")]
    assert upkeep.feed.last == 20
    # A transaction that took number 10 before B's but committed after the poll saw B.
    with engine.begin() as conn:
        conn.execute(changes.insert().values(seq=10, hkey="88.100/A", **row))
    assert upkeep.feed.poll() == [("88.100", "88.100/A")]


def test_a_large_batch_is_noted_as_everything(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        note(conn, "88.100", [f"88.100/K{i}" for i in range(MAX_KEYS + 1)])
        rows = conn.execute(sa.select(changes.c.node, changes.c.hkey)).all()
    assert [tuple(r) for r in rows] == [("88.100", EVERYTHING)]


async def test_a_revocation_elsewhere_empties_the_cache_and_is_obeyed(
    engine: sa.Engine, server: tuple[Node, Upkeep]
) -> None:
    node, upkeep = server
    writer = secondary(engine)
    allocate(writer, "88.100.7", None, actor="test", secret="secret-of-88.100.7")
    writer.put("88.100.7/cnc-1", URL, OPERATOR)
    upkeep.feed.poll()
    await node.resolve("88.100.7/cnc-1")
    assert len(node.answers) == 1
    revoke({writer.name: writer}, "88.100.7", reason="licence withdrawn", actor="test")
    upkeep.feed.poll()
    assert len(node.answers) == 0
    assert "88.100.7" in node.revoked
    assert (await node.resolve("88.100.7/cnc-1")).reason == "prefix_revoked"


def test_a_poller_that_lost_track_drops_everything(
    engine: sa.Engine, server: tuple[Node, Upkeep]
) -> None:
    _, upkeep = server
    upkeep.feed._polled -= KEEP_S + 1  # suspended for longer than changes are kept
    assert upkeep.feed.poll() == [("", EVERYTHING)]
