"""Per-identifier records (ids.history): one entry per identifier for every writer (single
puts, bulk rows, prefix allocation, key rotation, revocation), with the values before, and the
search and export scoped to an enterprise's prefixes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.conftest import USCC_B

from indunet import core, ids
from indunet.ids import history, prefixes
from indunet.web import AppState

OPS = ids.Principal(actor="cli:ops", identity=None, prefixes=None)
ROWS = "handle,URL\n" + "".join(f"88.100.1/R-{i},https://example.com/{i}\n" for i in range(250))


def entries(state: AppState, **kw: object) -> list[history.Change]:
    f = history.RecordFilter(**kw)  # type: ignore[arg-type]
    return list(history.export(state.engine, f))


def test_bulk_writes_one_entry_per_row_with_the_values_before(
    state: AppState, allocation: ids.Allocation, tmp_path: Path
) -> None:
    path = tmp_path / "a.csv"
    path.write_text(ROWS, encoding="utf-8")
    node = state.hierarchy.front
    ids.import_file(node, path, OPS, batch_size=100)
    created = entries(state, prefix="88.100.1", action="handle.create", q="/R-")
    assert len(created) == 250
    assert {c.handle for c in created} == {f"88.100.1/R-{i}" for i in range(250)}
    assert all(c.before is None and c.actor == "cli:ops" for c in created)
    # a second file changes two rows: two entries, each with the URL it replaced
    path.write_text(
        "handle,URL\n88.100.1/R-7,https://example.com/new\n88.100.1/R-8,https://example.com/8\n"
        "88.100.1/R-9,https://example.com/other\n",
        encoding="utf-8",
    )
    ids.import_file(node, path, OPS, overwrite=True)
    changed = entries(state, action="handle.modify")
    assert [c.handle for c in changed] == ["88.100.1/R-9", "88.100.1/R-7"]  # newest first
    urls = [v["data"]["value"] for v in changed[1].before or [] if v["type"] == "URL"]
    assert urls == ["https://example.com/7"]
    # the entries belong to the prefix's enterprise
    mine = history.RecordFilter(enterprise_id=allocation.enterprise_id)
    assert history.search(state.engine, mine, limit=1)[0] == 253  # + 0.NA/88.100.1


def test_prefix_allocation_rotation_and_revocation_are_recorded(
    state: AppState, allocation: ids.Allocation
) -> None:
    nodes = state.hierarchy.nodes
    prefixes.rotate_key(nodes, "88.100.1", actor="user:op")
    prefixes.revoke(nodes, "88.100.1", reason="licence ended", actor="user:op")
    found = entries(state, handle="0.na/88.100.1")
    assert [(c.action, c.actor) for c in found] == [
        ("handle.delete", "user:op"),
        ("handle.modify", "user:op"),
        ("handle.create", "test"),
    ]
    assert found[0].before and found[1].before and found[2].before is None
    assert all(c.prefix == "88.100.1" for c in found)
    # secret values are never kept: the admin key is not in the rotation's before
    assert not any(v["type"] == "HS_SECKEY" for v in found[1].before)


def test_search_filters_pages_and_scope(state: AppState, allocation: ids.Allocation) -> None:
    node = state.hierarchy.front
    value = [{"index": 1, "type": "URL", "data": {"format": "string", "value": "https://x.cn"}}]
    for i in range(5):
        node.put(f"88.100.1/S_{i}", value, OPS)
    node.delete("88.100.1/S_0", OPS)
    with state.engine.begin() as conn:
        other = core.create_enterprise(conn, uscc=USCC_B, name="乙", actor="t", verified=True)
    ids.allocate(node, "88.100.2", other, actor="test", secret="another-secret-key")
    node.put("88.100.2/S_9", value, OPS)

    total, page = history.search(state.engine, history.RecordFilter(q="s_"), limit=2)
    assert total == 7 and [c.handle for c in page] == ["88.100.2/S_9", "88.100.1/S_0"]
    total, page = history.search(state.engine, history.RecordFilter(q="s_"), offset=2, limit=2)
    assert total == 7 and [c.handle for c in page] == ["88.100.1/S_4", "88.100.1/S_3"]
    # "_" is a character, not a wildcard: "S_" matches, "S%" and "SX" nothing
    assert history.search(state.engine, history.RecordFilter(q="S%"))[0] == 0
    mine = history.RecordFilter(enterprise_id=allocation.enterprise_id, q="S_")
    assert history.search(state.engine, mine)[0] == 6
    theirs = history.RecordFilter(enterprise_id=other.id)
    assert {c.handle for c in entries(state, enterprise_id=other.id)} == {
        "88.100.2/S_9",
        "0.NA/88.100.2",
    }
    assert history.search(state.engine, theirs)[0] == 2
    gone = entries(state, action="handle.delete")
    assert [c.handle for c in gone] == ["88.100.1/S_0"] and gone[0].before
    soon = datetime.now(UTC) + timedelta(minutes=1)
    assert history.search(state.engine, history.RecordFilter(since=soon))[0] == 0
    everything = history.search(state.engine, history.RecordFilter())[0]
    assert history.search(state.engine, history.RecordFilter(until=soon))[0] == everything
    assert (
        history.search(state.engine, history.RecordFilter(until=soon - timedelta(hours=1)))[0] == 0
    )
    assert history.search(state.engine, history.RecordFilter(actor="test"))[0] == 2
    assert len(list(history.export(state.engine, history.RecordFilter(), limit=3))) == 3


def test_export_reads_in_chunks_below_the_last_id(
    state: AppState, allocation: ids.Allocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = state.hierarchy.front
    value = [{"index": 1, "type": "URL", "data": {"format": "string", "value": "https://x.cn"}}]
    for i in range(7):
        node.put(f"88.100.1/C-{i}", value, OPS)
    monkeypatch.setattr(history, "EXPORT_CHUNK", 3)
    got = [c.handle for c in history.export(state.engine, history.RecordFilter(q="C-"))]
    assert got == [f"88.100.1/C-{i}" for i in range(6, -1, -1)]
