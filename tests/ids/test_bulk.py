"""Bulk registration from CSV and JSON Lines: row errors, idempotence, resumption, rights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import USCC_B

from indunet import core, ids
from indunet.core import InvalidInput
from indunet.web import AppState

OPS = ids.Principal(actor="cli:test", identity=None, prefixes=None)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def record(state: AppState, handle: str) -> dict[str, str] | None:
    rec = state.hierarchy.front.store.get(ids.handle.parse(handle).key)
    return None if rec is None else {v.type: v.value for v in rec.values}


def bulk_audits(state: AppState) -> list[core.audit.AuditEntry]:
    with state.engine.connect() as conn:
        return [e for e in core.audit.entries(conn, limit=1000) if e.action == "handle.bulk"]


GOOD = """handle,URL,DESC:7
88.100.1/CNC-1,https://example.com/cnc/1,lathe 1
88.100.1/CNC-2,https://example.com/cnc/2,
88.100.1/CNC-3,https://example.com/cnc/3,lathe 3
"""


def test_good_csv_registers_every_row(state: AppState, allocation: ids.Allocation, tmp_path: Path):
    report = ids.import_file(state.hierarchy.front, write(tmp_path, "a.csv", GOOD), OPS)
    assert (report.total, report.registered, report.unchanged, report.failed) == (3, 3, 0, 0)
    rec = state.hierarchy.front.store.get("88.100.1/CNC-1")
    assert rec is not None
    by_index = {v.index: (v.type, v.value) for v in rec.values}
    assert by_index[1] == ("URL", "https://example.com/cnc/1")
    assert by_index[7] == ("DESC", "lathe 1")
    assert by_index[100][0] == "HS_ADMIN"  # the default admin a single registration gets
    assert record(state, "88.100.1/CNC-2") == {
        "URL": "https://example.com/cnc/2",
        "HS_ADMIN": by_index[100][1],
    }  # the empty cell gave no value
    (entry,) = bulk_audits(state)
    assert entry.detail["count"] == 3 and entry.detail["lines"] == [2, 4]


BAD = """handle,URL
88.100.1/OK-1,https://example.com/1
no-slash-here,https://example.com/2

99.1/ELSEWHERE,https://example.com/3
88.100.1/OK-2,https://example.com/4
0.NA/88.100.9,https://example.com/5
88.100.1/OK-1,https://example.com/other
"""


def test_bad_rows_are_reported_by_line_and_good_rows_kept(
    state: AppState, allocation: ids.Allocation, tmp_path: Path
):
    report = ids.import_file(state.hierarchy.front, write(tmp_path, "b.csv", BAD), OPS)
    assert (report.total, report.registered, report.failed) == (6, 2, 4)
    errors = {line: (handle, msg) for line, handle, msg in report.errors}
    assert set(errors) == {3, 5, 7, 8}
    assert "no '/'" in errors[3][1]
    assert errors[5][0] == "99.1/ELSEWHERE" and "does not serve prefix 99.1" in errors[5][1]
    assert "prefix handles" in errors[7][1]
    assert "also on line 2" in errors[8][1]
    assert record(state, "88.100.1/OK-1")["URL"] == "https://example.com/1"  # type: ignore[index]
    assert record(state, "88.100.1/OK-2") is not None


def test_rerun_registers_nothing_new_and_fixed_file_completes(
    state: AppState, allocation: ids.Allocation, tmp_path: Path
):
    node = state.hierarchy.front
    path = write(tmp_path, "b.csv", BAD)
    ids.import_file(node, path, OPS)
    again = ids.import_file(node, path, OPS)
    assert (again.registered, again.unchanged, again.failed) == (0, 2, 4)
    assert again.resumed_from_line is None
    fixed = write(
        tmp_path,
        "b.csv",
        BAD.replace("no-slash-here", "88.100.1/WAS-BAD").replace("99.1/", "88.100.1/"),
    )
    report = ids.import_file(node, fixed, OPS)
    assert (report.registered, report.unchanged, report.failed) == (2, 2, 2)
    assert record(state, "88.100.1/WAS-BAD") == {
        "URL": "https://example.com/2",
        "HS_ADMIN": record(state, "88.100.1/OK-1")["HS_ADMIN"],  # type: ignore[index]
    }


def test_changed_values_need_overwrite(state: AppState, allocation: ids.Allocation, tmp_path: Path):
    node = state.hierarchy.front
    ids.import_file(node, write(tmp_path, "a.csv", GOOD), OPS)
    changed = write(tmp_path, "c.csv", GOOD.replace("lathe 3", "milling 3"))
    refused = ids.import_file(node, changed, OPS)
    assert (refused.unchanged, refused.failed) == (2, 1)
    assert refused.errors[0][0] == 4 and "already exists with other values" in refused.errors[0][2]
    assert record(state, "88.100.1/CNC-3")["DESC"] == "lathe 3"  # type: ignore[index]
    done = ids.import_file(node, changed, OPS, overwrite=True)
    assert (done.registered, done.unchanged, done.failed) == (1, 2, 0)
    assert record(state, "88.100.1/CNC-3")["DESC"] == "milling 3"  # type: ignore[index]
    assert "HS_ADMIN" in record(state, "88.100.1/CNC-3")  # type: ignore[operator]


def test_resume_after_crash(state: AppState, allocation: ids.Allocation, tmp_path: Path):
    node = state.hierarchy.front
    lines = ["handle,URL"] + [f"88.100.1/P-{i},https://example.com/{i}" for i in range(10)]
    path = write(tmp_path, "p.csv", "\n".join(lines) + "\n")

    def crash(done: int, total: int) -> None:
        if done >= 4:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        ids.import_file(node, path, OPS, batch_size=4, progress=crash)
    assert node.store.get("88.100.1/P-3") is not None  # the first batch was committed
    assert node.store.get("88.100.1/P-4") is None
    seen: list[tuple[int, int]] = []
    report = ids.import_file(
        node, path, OPS, batch_size=4, progress=lambda d, t: seen.append((d, t))
    )
    assert report.resumed_from_line == 6  # header is line 1, the first batch lines 2-5
    assert seen[0] == (4, 10) and seen[-1] == (10, 10)
    assert (report.total, report.registered, report.unchanged, report.failed) == (10, 10, 0, 0)
    job = ids.get_job(state.engine, report.job_id)
    assert (job.status, job.registered, job.next_line) == ("done", 10, 12)
    assert all(node.store.get(f"88.100.1/P-{i}") is not None for i in range(10))


def test_template_violation_is_a_row_error(
    state: AppState, allocation: ids.Allocation, tmp_path: Path
):
    node = state.hierarchy.front
    t = ids.parse_template(
        "88.100.1",
        {
            "name": "machine",
            "version": "1.0",
            "industry_code": "C34",
            "items": [
                {"name": "model", "index": 2001, "required": True},
                {"name": "serial", "index": 2002, "pattern": "SN-[0-9]{4}"},
            ],
        },
    )
    with state.engine.begin() as conn:
        node.templates.add(conn, t, actor="test")
    text = (
        "handle,TEMPLATE:3,model:2001,serial:2002\n"
        "88.100.1/M-1,machine@1.0,CK6140,SN-0001\n"
        "88.100.1/M-2,machine@1.0,CK6140,bad-serial\n"
        "88.100.1/M-3,machine@1.0,,SN-0003\n"
    )
    report = ids.import_file(node, write(tmp_path, "t.csv", text), OPS)
    assert report.registered == 1
    errors = {line: msg for line, _, msg in report.errors}
    assert "'serial'" in errors[3] and "does not match pattern" in errors[3]
    assert "required item 'model' is missing" in errors[4]


def test_another_tenants_prefix_is_refused(
    state: AppState, allocation: ids.Allocation, tmp_path: Path
):
    node = state.hierarchy.front
    with state.engine.begin() as conn:
        other = core.create_enterprise(
            conn, uscc=USCC_B, name="北京另一家公司", actor="test", verified=True
        )
    ids.allocate(node, "88.100.2", other, actor="test", secret="another-secret-key")
    text = "handle,URL\n88.100.1/MINE,https://a.example\n88.100.2/THEIRS,https://b.example\n"
    path = write(tmp_path, "x.csv", text)
    user = ids.Principal(actor="user:alice", prefixes=frozenset({"88.100.1"}))
    report = ids.import_file(node, path, user)
    assert (report.registered, report.failed) == (1, 1)
    assert report.errors[0][:2] == (3, "88.100.2/THEIRS")
    assert "does not belong to its enterprise" in report.errors[0][2]
    keyholder = node.authenticate("300:0.NA/88.100.1", "s3cret-key-for-tests")
    again = ids.import_file(node, write(tmp_path, "y.csv", text), keyholder)
    assert (again.unchanged, again.failed) == (1, 1)
    assert "holds no add_handle right" in again.errors[0][2]
    assert node.store.get("88.100.2/THEIRS") is None


def test_json_lines(state: AppState, allocation: ids.Allocation, tmp_path: Path):
    value = {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://j.example"}}
    lines = [
        json.dumps({"handle": "88.100.1/J-1", "values": [value]}),
        "{not json",
        json.dumps({"handle": "88.100.1/J-2", "values": [{**value, "type": "HS_SITE"}]}),
        json.dumps({"values": []}),
    ]
    path = write(tmp_path, "j.ndjson", "\n".join(lines) + "\n")
    report = ids.import_file(state.hierarchy.front, path, OPS)
    assert report.registered == 1
    errors = {line: msg for line, _, msg in report.errors}
    assert "not valid JSON" in errors[2]
    assert "HS_SITE data must have format 'site'" in errors[3]
    assert '"handle"' in errors[4]


def test_bulk_write_drops_cached_answers(
    state: AppState, allocation: ids.Allocation, tmp_path: Path
):
    recursive = state.hierarchy.nodes["recursive"]
    first = await_resolve(recursive, "88.100.1/CNC-1")
    assert first == ids.RC.HANDLE_NOT_FOUND  # now cached as "not found"
    ids.import_file(state.hierarchy.front, write(tmp_path, "a.csv", GOOD), OPS)
    assert await_resolve(recursive, "88.100.1/CNC-1") == ids.RC.SUCCESS


def await_resolve(node: ids.Node, handle: str) -> int:
    import asyncio

    return asyncio.run(node.resolve(handle, recurse=True)).rc


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("ids.txt", "handle,URL\n", "use .csv, .jsonl or .ndjson"),
        ("ids.csv", "id,URL\n88.100.1/A,x\n", "must start with a 'handle' column"),
        ("ids.csv", "handle,URL:1,DESC:1\n", "names index 1 twice"),
        ("ids.csv", "handle,HS_SITE\n", "column 2 (HS_SITE)"),
    ],
)
def test_unusable_files_are_refused_before_anything_is_written(
    state: AppState, allocation: ids.Allocation, tmp_path: Path, name: str, text: str, expected: str
):
    with pytest.raises(InvalidInput, match=expected.replace("(", r"\(").replace(")", r"\)")):
        ids.import_file(state.hierarchy.front, write(tmp_path, name, text), OPS)
    with pytest.raises(core.NotFound):
        ids.get_job(state.engine, 1)


def test_missing_and_non_utf8_files(state: AppState, tmp_path: Path):
    with pytest.raises(InvalidInput, match="does not exist"):
        ids.import_file(state.hierarchy.front, tmp_path / "nope.csv", OPS)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("handle,DESC\n88.100.1/A,caf\xe9\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="not UTF-8"):
        ids.import_file(state.hierarchy.front, latin, OPS)


def test_enterprise_users_cannot_bulk_write_device_records(
    state: AppState, allocation: ids.Allocation, tmp_path: Path
):
    node = state.hierarchy.front
    text = (
        "handle,URL\n88.100.1/dev-pump-9,https://evil.example\n88.100.1/PART-9,https://a.example\n"
    )
    user = ids.Principal(actor="user:bob", prefixes=frozenset({"88.100.1"}), platform_records=False)
    report = ids.import_file(node, write(tmp_path, "d.csv", text), user)
    assert (report.registered, report.failed) == (1, 1)
    assert report.errors[0][:2] == (2, "88.100.1/dev-pump-9")
    assert "managed by the platform" in report.errors[0][2]
    assert node.store.get("88.100.1/DEV-PUMP-9") is None
    admin = ids.Principal(actor="user:ann", prefixes=frozenset({"88.100.1"}))
    assert ids.import_file(node, write(tmp_path, "e.csv", text), admin).registered == 1


def test_allocating_a_prefix_with_a_site_outside_the_policy_is_refused(
    state: AppState, enterprise: core.Enterprise
):
    with pytest.raises(ids.SiteRefused, match=r"169\.254\.169\.254 is link-local"):
        ids.allocate(
            state.hierarchy.front,
            "88.100.5",
            enterprise,
            actor="t",
            sites=["http://169.254.169.254"],
        )
    assert ids.list_allocations(state.engine) == []


def test_a_finished_job_is_claimed_once_and_a_running_or_old_one_never(
    state: AppState, allocation: ids.Allocation, tmp_path: Path
):
    from datetime import UTC, datetime, timedelta

    from indunet.ids.bulkjobs import ANNOUNCE_WITHIN, claim_finished
    from indunet.ids.tables import bulk_jobs

    done = ids.import_file(state.hierarchy.front, write(tmp_path, "a.csv", GOOD), OPS)
    old = ids.import_file(state.hierarchy.front, write(tmp_path, "b.csv", BAD), OPS)
    running = ids.bulk.begin(state.hierarchy.front, write(tmp_path, "c.csv", GOOD + "\n"), OPS)
    long_ago = datetime.now(UTC) - ANNOUNCE_WITHIN - timedelta(minutes=1)
    with state.engine.begin() as conn:
        conn.execute(
            bulk_jobs.update().where(bulk_jobs.c.id == old.job_id).values(updated_at=long_ago)
        )
    (event,) = claim_finished(state.engine)
    assert event.type == "bulk.finished" and event.data["job_id"] == done.job_id
    assert event.data["source"].endswith("a.csv") and event.data["actor"] == "cli:test"
    assert (event.data["total"], event.data["registered"], event.data["failed"]) == (3, 3, 0)
    assert claim_finished(state.engine) == []  # once
    assert claim_finished(state.engine, old.job_id) != []  # by id: the process that ran it
    assert claim_finished(state.engine, running.id) == []
