"""``indunet id …`` on a data directory: prefixes, registration, resolution, bulk import."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import USCC_A
from tests.integration.servers import group
from typer.testing import CliRunner, Result

from indunet import ids
from indunet.cli import app
from indunet.cli.ids import parse_value_option, values_from_options
from indunet.cli.options import engine
from indunet.core import InvalidInput, Settings
from indunet.web import open_database

runner = CliRunner()
KEY = "s3cret-key-for-tests"


def run(data: Path, *args: str) -> Result:
    return runner.invoke(app, [*args, "--data-dir", str(data)])


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data dir with a verified enterprise holding prefix 88.100.1 (key in tmp/key.txt)."""
    d = tmp_path / "data"
    assert run(d, "enterprise", "add", "--uscc", USCC_A, "--name", "厦门示例").exit_code == 0
    (tmp_path / "key.txt").write_text(KEY + "\n")
    r = run(
        d, "id", "prefix", "add", "88.100.1", "--enterprise", USCC_A,
        "--secret-key-file", str(tmp_path / "key.txt"),
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return d


def node(data: Path, name: str = "88.100") -> ids.Node:
    from indunet.cli import context

    return context.node(engine(data), name)


def test_prefix_add_prints_only_the_username_and_the_key_works(data: Path, tmp_path: Path):
    r = run(
        data, "id", "prefix", "add", "88.100.2", "--enterprise", USCC_A,
        "--secret-key-file", str(tmp_path / "key.txt"),
    )  # fmt: skip
    assert r.exit_code == 0
    assert r.stdout == "300:0.NA/88.100.2\n"
    who = node(data).authenticate("300:0.NA/88.100.2", KEY)
    assert who.identity == (300, "0.NA/88.100.2")
    listed = run(data, "id", "prefix", "list")
    assert "88.100.2" in listed.stdout and USCC_A in listed.stdout


def test_prefix_add_refuses_a_missing_or_short_key(data: Path, tmp_path: Path):
    missing = run(
        data, "id", "prefix", "add", "88.100.3", "--secret-key-file", str(tmp_path / "nope.txt")
    )
    assert missing.exit_code == 2
    assert "secret key file" in missing.stderr and "does not exist" in missing.stderr
    (tmp_path / "short.txt").write_text("short\n")
    short = run(
        data, "id", "prefix", "add", "88.100.3", "--secret-key-file", str(tmp_path / "short.txt")
    )
    assert short.exit_code == 2
    assert "has 5 characters; at least 12 are needed" in short.stderr
    neither = run(data, "id", "prefix", "add", "88.100.3")
    assert neither.exit_code == 2 and "exactly one of" in neither.stderr
    assert [a.prefix for a in ids.list_allocations(engine(data))] == ["88.100.1"]


def test_generated_key_file_and_a_top_level_prefix_on_a_root(tmp_path: Path):
    root = tmp_path / "root"
    key_file = tmp_path / "88.key"
    r = run(
        root, "id", "prefix", "add", "88", "--node", "root", "--generate-key-file", str(key_file)
    )
    assert r.exit_code == 0, r.output
    assert r.stdout == "300:0.NA/88\n"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    node(root, "root").authenticate("300:0.NA/88", key_file.read_text().strip())
    again = run(
        root,
        "id",
        "prefix",
        "add",
        "88",
        "--node",
        "root",
        "--generate-key-file",
        str(tmp_path / "b.key"),
    )
    assert again.exit_code == 2 and "already allocated" in again.stderr
    assert not (tmp_path / "b.key").exists()  # no key file left behind for a failed allocation


def test_register_then_resolve_as_table_and_json(data: Path):
    r = run(
        data, "id", "register", "88.100.1/CNC-1",
        "--value", "URL=https://example.com/cnc/1", "--value", "DESC=五轴机床:5",
    )  # fmt: skip
    assert r.exit_code == 0 and r.stdout == "registered 88.100.1/CNC-1\n"
    table = run(data, "id", "resolve", "88.100.1/CNC-1")
    assert table.exit_code == 0, table.output
    assert "88.100.1/CNC-1" in table.stdout
    assert "https://example.com/cnc/1" in table.stdout and "五轴机床" in table.stdout
    assert "path: root → 88 → 88.100" in table.stdout
    as_json = run(data, "id", "resolve", "88.100.1/CNC-1", "--json")
    body = json.loads(as_json.stdout)
    assert body["responseCode"] == 1
    assert {(v["index"], v["type"]) for v in body["values"]} >= {(1, "URL"), (5, "DESC")}
    missing = run(data, "id", "resolve", "88.100.1/NOPE")
    assert missing.exit_code == 2
    assert "error: handle 88.100.1/NOPE is not registered" in missing.stderr


def test_register_refuses_a_duplicate_and_bad_values(data: Path, tmp_path: Path):
    assert run(data, "id", "register", "88.100.1/A", "--value", "URL=https://a").exit_code == 0
    dup = run(data, "id", "register", "88.100.1/A", "--value", "URL=https://b")
    assert dup.exit_code == 2 and "already exists" in dup.stderr
    unknown = run(data, "id", "register", "88.100.1/B", "--value", "colour=red")
    assert unknown.exit_code == 2 and "unknown type 'colour'" in unknown.stderr
    (tmp_path / "v.json").write_text('[{"index": 1, "type": "URL", "data": "https://j"}]')
    ok = run(data, "id", "register", "88.100.1/J", "--json", str(tmp_path / "v.json"))
    assert ok.exit_code == 0, ok.output


def test_value_options():
    assert parse_value_option("URL=https://a.example/x") == (None, "URL", "https://a.example/x")
    assert parse_value_option("URL=http://h:8080:1") == (1, "URL", "http://h:8080")
    assert parse_value_option("URL:2=http://h:8080") == (2, "URL", "http://h:8080")
    assert [v["index"] for v in values_from_options(["DESC=a", "URL=b:1", "EMAIL=c"])] == [2, 1, 3]
    with pytest.raises(InvalidInput, match="TYPE=VALUE"):
        parse_value_option("no-equals-sign")


def test_list_delete_and_mint(data: Path):
    for s in ("B", "A"):
        run(data, "id", "register", f"88.100.1/{s}", "--value", "URL=https://x")
    listed = run(data, "id", "list", "88.100.1")
    assert listed.stdout.splitlines() == ["88.100.1/A", "88.100.1/B"]
    assert "2 of 2" in listed.stderr
    assert run(data, "id", "delete", "88.100.1/A").stdout == "deleted 88.100.1/A\n"
    assert run(data, "id", "resolve", "88.100.1/A").exit_code == 2
    minted = run(data, "id", "mint", "88.100.1").stdout.strip()
    assert ids.handle.parse(minted).prefix == "88.100.1"


CSV = "handle,URL,DESC\n88.100.1/P-1,https://e/1,one\nnot-an-id,https://e/2,two\n88.100.1/P-3,https://e/3,three\n"


def test_import_reports_bad_rows_and_exits_1(data: Path, tmp_path: Path):
    path = tmp_path / "ids.csv"
    path.write_text(CSV)
    r = run(data, "id", "import", str(path))
    assert r.exit_code == 1
    assert "3 rows: 2 registered, 0 unchanged, 1 failed" in r.stdout
    assert "line 3: not-an-id: identifier 'not-an-id' has no '/'" in r.stdout
    assert "rows/s" in r.stderr  # the progress bar
    assert run(data, "id", "resolve", "88.100.1/P-3").exit_code == 0
    path.write_text(CSV.replace("not-an-id", "88.100.1/P-2"))
    fixed = run(data, "id", "import", str(path))
    assert fixed.exit_code == 0
    assert "1 registered, 2 unchanged, 0 failed" in fixed.stdout


def test_templates(data: Path, tmp_path: Path):
    spec = {
        "name": "machine", "version": "1.0", "industry_code": "C34",
        "items": [{"name": "model", "index": 2001, "required": True}],
    }  # fmt: skip
    (tmp_path / "t.json").write_text(json.dumps(spec))
    added = run(data, "id", "template", "add", "88.100.1", str(tmp_path / "t.json"))
    assert added.stdout == "template machine@1.0 added to prefix 88.100.1\n"
    assert "machine@1.0" in run(data, "id", "template", "list", "88.100.1").stdout
    shown = json.loads(run(data, "id", "template", "show", "88.100.1", "machine@1.0").stdout)
    assert shown["items"][0]["name"] == "model"
    missing = run(data, "id", "template", "show", "88.100.1", "machine@9")
    assert missing.exit_code == 2 and "has no template machine@9" in missing.stderr
    refused = run(data, "id", "register", "88.100.1/M", "--value", "TEMPLATE=machine@1.0:3")
    assert refused.exit_code == 2 and "required item 'model' is missing" in refused.stderr


def test_errors_escaping_the_entry_point_print_a_message_and_exit_2(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "indunet", "id", "resolve", "no-slash", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "has no '/'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_resolve_via_a_running_server(data: Path, tmp_path: Path):
    run(data, "id", "register", "88.100.1/VIA", "--value", "URL=https://via.example")
    with group(tmp_path) as g:
        server = g.start("up", "up", data_dir=data)
        r = run(data, "id", "resolve", "88.100.1/VIA", "--via", server.url)
        assert r.exit_code == 0, r.output
        assert "https://via.example" in r.stdout
        gone = run(data, "id", "resolve", "88.100.1/GONE", "--via", server.url, "--json")
        assert gone.exit_code == 2 and json.loads(gone.stdout)["responseCode"] == 100


def test_resolve_on_a_server_data_dir_keeps_the_servers_published_sites(data: Path):
    from indunet.core import Settings
    from indunet.web import build_state

    build_state(Settings(data_dir=data, port=8800))  # what `indunet up --port 8800` publishes
    before = ids.stored_base_url(engine(data))
    assert before == "http://127.0.0.1:8800"
    r = run(data, "id", "resolve", "0.NA/88.100.1", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["handle"] == "0.NA/88.100.1"
    assert ids.stored_base_url(engine(data)) == before


def test_registrations_by_the_cli_reach_the_daily_statistics(data: Path, tmp_path: Path):
    from datetime import UTC, datetime

    path = tmp_path / "ids.csv"
    path.write_text(CSV)
    assert run(data, "id", "import", str(path)).exit_code == 1  # 2 good rows, 1 bad
    one = run(data, "id", "register", "88.100.1/ONE", "--value", "URL=https://example.com/1")
    assert one.exit_code == 0, one.output
    today = datetime.now(UTC).date()
    (day,) = ids.daily.counts(engine(data), since_day=today, prefix="88.100.1")
    assert day.registrations == 3


def test_register_and_resolve_an_oid_and_an_ecode(data: Path):
    env = {
        "INDUNET_OID_PREFIXES": "1.2.156.3001=88.100.1",
        "INDUNET_ECODE_PREFIXES": "10001=88.100.1",
    }
    for handle in ("88.100.1/OID:1.2.156.3001.7", "88.100.1/ECODE:100011234567"):
        r = runner.invoke(
            app, ["id", "register", handle, "--value", "URL=https://oid.example/7",
                  "--data-dir", str(data)], env=env,
        )  # fmt: skip
        assert r.exit_code == 0, r.output
    for asked in ("oid:1.2.156.3001.7", "ecode:100011234567"):
        r = runner.invoke(app, ["id", "resolve", asked, "--json", "--data-dir", str(data)], env=env)
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["values"][0]["data"]["value"] == "https://oid.example/7"
    bad = run(
        data, "id", "register", "88.100.1/OID:1.2.156.03001", "--value", "URL=https://x.example"
    )
    assert bad.exit_code != 0 and "leading zero" in bad.output
    unmapped = runner.invoke(app, ["id", "resolve", "oid:1.2.840.1", "--data-dir", str(data)])
    assert unmapped.exit_code != 0 and "no configured oid arc holds 1.2.840.1" in unmapped.output


def test_writes_on_a_dr_copys_data_dir_are_refused(data: Path):
    db = open_database(Settings(data_dir=data))
    try:
        with db.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO ids_replicas (node, primary_url) VALUES ('88.100', :u)"),
                {"u": "https://primary.example"},
            )
    finally:
        db.dispose()
    refused = run(data, "id", "register", "88.100.1/ON-COPY", "--value", "URL=https://x")
    assert refused.exit_code == 2, refused.output
    assert (
        "disaster-recovery copy" in refused.stderr and "https://primary.example" in refused.stderr
    )
    assert run(data, "id", "resolve", "88.100.1/ON-COPY").exit_code != 0
