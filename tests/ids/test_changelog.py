"""The durable change log: every writer logs, numbers follow commits, retention answers 410."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from indunet.core import Settings
from indunet.ids import OPERATOR, Node, NodeRole, TemplateRegistry, allocate, changelog
from indunet.ids.bulk import import_file
from indunet.ids.changelog import ChangesExpired
from indunet.ids.errors import HandleExists
from indunet.ids.prefixes import revoke, rotate_key
from indunet.web import open_database

URL = [{"index": 1, "type": "URL", "data": "https://a.example.cn/x"}]


def secondary(engine: sa.Engine) -> Node:
    return Node("88.100", NodeRole.SECONDARY, "88.100", engine, TemplateRegistry(engine))


def keys_after(engine: sa.Engine, after: int = 0) -> list[tuple[int, str, bool]]:
    page = changelog.read(engine, "88.100", after)
    return [(e.seq, e.key, e.record is not None) for e in page.entries]


def test_every_writer_logs_in_order(engine: sa.Engine, tmp_path: Path) -> None:
    node = secondary(engine)
    node.put("88.100/a-1", URL, OPERATOR)  # 1 create
    node.put("88.100/a-1", URL, OPERATOR, indices=[1])  # 2 modify values
    node.put("88.100/b-1", [*URL, {"index": 2, "type": "EMAIL", "data": "a@b.cn"}], OPERATOR)
    node.delete("88.100/b-1", OPERATOR, indices=[2])  # 4 remove a value
    node.delete("88.100/a-1", OPERATOR)  # 5 delete
    csv = tmp_path / "rows.csv"
    csv.write_text("handle,URL\n88.100/c-1,https://c.cn/1\n88.100/c-2,https://c.cn/2\n")
    assert import_file(node, csv, OPERATOR).registered == 2  # 6, 7 bulk
    allocate(node, "88.100.9", None, actor="t", secret="a-secret-of-the-prefix")  # 8
    rotate_key({"88.100": node}, "88.100.9", actor="t")  # 9
    revoke({"88.100": node}, "88.100.9", reason="test", actor="t")  # 10 (the record goes)
    got = keys_after(engine)
    assert [s for s, _, _ in got] == sorted(s for s, _, _ in got)
    by_key = {k: (s, present) for s, k, present in got}
    assert by_key["88.100/A-1"] == (5, False)  # deleted: its last entry, no record
    assert by_key["88.100/B-1"] == (4, True)
    assert {by_key["88.100/C-1"][0], by_key["88.100/C-2"][0]} == {6, 7}
    assert by_key["0.NA/88.100.9"] == (10, False)
    with engine.connect() as conn:
        assert changelog.head(conn, "88.100") == changelog.Head(10, 0)


def test_a_refused_write_takes_no_number(engine: sa.Engine) -> None:
    node = secondary(engine)
    node.put("88.100/a-1", URL, OPERATOR)
    with pytest.raises(HandleExists):
        node.put("88.100/a-1", URL, OPERATOR, overwrite=False)
    node.put("88.100/a-2", URL, OPERATOR)
    assert [s for s, _, _ in keys_after(engine)] == [1, 2]


def test_pages_resume_after_a_number(engine: sa.Engine) -> None:
    node = secondary(engine)
    for i in range(5):
        node.put(f"88.100/p-{i}", URL, OPERATOR)
    first = changelog.read(engine, "88.100", 0, limit=2)
    assert [e.seq for e in first.entries] == [1, 2] and first.more and first.next == 2
    rest = changelog.read(engine, "88.100", first.next, limit=10)
    assert [e.seq for e in rest.entries] == [3, 4, 5] and not rest.more and rest.next == 5
    assert changelog.read(engine, "88.100", 5).entries == []


def test_pruned_changes_are_gone_and_a_reset_log_is_noticed(engine: sa.Engine) -> None:
    node = secondary(engine)
    for i in range(3):
        node.put(f"88.100/p-{i}", URL, OPERATOR)
    assert changelog.prune(engine, 3600) == 0  # nothing old yet
    assert changelog.prune(engine, -1) == 3  # everything older than "one second ahead"
    node.put("88.100/p-9", URL, OPERATOR)
    with pytest.raises(ChangesExpired) as gone:
        changelog.read(engine, "88.100", 1)
    assert gone.value.status == 410 and gone.value.reason == "changes_expired"
    assert [e.seq for e in changelog.read(engine, "88.100", 3).entries] == [4]
    with pytest.raises(ChangesExpired) as ahead:
        changelog.read(engine, "88.100", 99)
    assert ahead.value.reason == "changes_ahead"


def test_snapshot_pages_by_key_with_the_head_first(engine: sa.Engine) -> None:
    node = secondary(engine)
    for i in range(5):
        node.put(f"88.100/s-{i}", URL, OPERATOR)
    seen: list[str] = []
    after = ""
    heads = set()
    while True:
        snap = changelog.snapshot(engine, "88.100", after, limit=2)
        heads.add(snap.head.last)
        seen += [r.key for r in snap.records]
        if snap.next is None:
            break
        after = snap.next
    assert seen == [f"88.100/S-{i}" for i in range(5)] and heads == {5}


@pytest.mark.integration
def test_concurrent_writers_on_postgresql_number_in_commit_order(pg_schema_url: str) -> None:
    """Writers on four threads while a reader pages: every page starts right after the number
    asked for and has no hole, so no lower number can commit after a higher one was read."""
    engine = open_database(Settings(data_dir=Path("/nonexistent"), database_url=pg_schema_url))
    try:
        nodes = [secondary(engine) for _ in range(4)]
        per_writer = 40
        done = threading.Event()
        errors: list[BaseException] = []
        pages: list[tuple[int, list[int]]] = []

        def write(n: int) -> None:
            try:
                for i in range(per_writer):
                    nodes[n].put(f"88.100/w{n}-{i}", URL, OPERATOR)
            except BaseException as exc:  # reported below
                errors.append(exc)

        def read() -> None:
            after = 0
            while not done.is_set() or after < 4 * per_writer:
                page = changelog.read(engine, "88.100", after, limit=7)
                pages.append((after, [e.seq for e in page.entries]))
                after = page.next
                if after >= 4 * per_writer:
                    break

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        reader = threading.Thread(target=read)
        reader.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        done.set()
        reader.join(60)
        assert not errors, errors
        for after, seqs in pages:
            assert seqs == list(range(after + 1, after + 1 + len(seqs))), (after, seqs)
        total = changelog.read(engine, "88.100", 0)
        assert [e.seq for e in total.entries] == list(range(1, 4 * per_writer + 1))
    finally:
        engine.dispose()


@pytest.mark.integration
def test_a_bulk_import_on_postgresql_logs_every_row(pg_schema_url: str, tmp_path: Path) -> None:
    engine = open_database(Settings(data_dir=tmp_path, database_url=pg_schema_url))
    try:
        node = secondary(engine)
        node.put("88.100/first", URL, OPERATOR)
        csv = tmp_path / "rows.csv"
        rows = changelog.COPY_FROM * 3
        csv.write_text(
            "handle,URL\n" + "".join(f"88.100/r-{i},https://r.cn/{i}\n" for i in range(rows))
        )
        assert import_file(node, csv, OPERATOR, batch_size=rows).registered == rows  # by COPY
        node.put("88.100/last", URL, OPERATOR)
        page = changelog.read(engine, "88.100", 0, limit=changelog.MAX_PAGE)
        assert [e.seq for e in page.entries] == list(range(1, rows + 3))
        assert {e.key for e in page.entries[1:-1]} == {f"88.100/R-{i}" for i in range(rows)}
        assert all(e.record is not None for e in page.entries)
    finally:
        engine.dispose()
