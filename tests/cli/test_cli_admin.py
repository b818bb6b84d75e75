"""``indunet enterprise …``, ``indunet user …`` and ``indunet token …``."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import USCC_A
from typer.testing import CliRunner, Result

from indunet import core
from indunet.cli import app
from indunet.cli.options import engine

runner = CliRunner()


def run(data: Path, *args: str) -> Result:
    return runner.invoke(app, [*args, "--data-dir", str(data)])


def test_enterprise_with_a_bad_check_character_is_refused_and_nothing_written(tmp_path: Path):
    bad = USCC_A[:-1] + ("4" if USCC_A[-1] != "4" else "5")
    r = run(tmp_path, "enterprise", "add", "--uscc", bad, "--name", "厦门示例机床有限公司")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: ")
    assert "fails its check character" in r.stderr and f"expected {USCC_A[-1]!r}" in r.stderr
    with engine(tmp_path).connect() as conn:
        assert core.list_enterprises(conn) == []
        assert [e for e in core.audit.entries(conn) if e.action == "enterprise.create"] == []


def test_enterprise_add_list_verify(tmp_path: Path):
    r = run(
        tmp_path, "enterprise", "add", "--uscc", USCC_A, "--name", "厦门示例机床有限公司",
        "--industry-code", "C3421", "--region", "350200",
    )  # fmt: skip
    assert r.exit_code == 0 and r.stdout == f"{USCC_A} 厦门示例机床有限公司 (verified)\n"
    listed = run(tmp_path, "enterprise", "list")
    assert USCC_A in listed.stdout and "C3421" in listed.stdout and "yes" in listed.stdout
    dup = run(tmp_path, "enterprise", "add", "--uscc", USCC_A, "--name", "again")
    assert dup.exit_code == 2 and "already exists" in dup.stderr
    assert run(tmp_path, "enterprise", "verify", USCC_A).exit_code == 0
    with engine(tmp_path).connect() as conn:
        entries = core.audit.entries(conn)
    assert {e.actor for e in entries if e.action.startswith("enterprise.")} == {entries[0].actor}
    assert entries[0].actor.startswith("cli:")
    unknown = run(tmp_path, "enterprise", "verify", "91110108MA01ABCDE0")
    assert unknown.exit_code == 2 and "no enterprise" in unknown.stderr


def test_user_and_token(tmp_path: Path):
    run(tmp_path, "enterprise", "add", "--uscc", USCC_A, "--name", "厦门示例")
    pw = tmp_path / "pw.txt"
    pw.write_text("a-long-password\n")
    r = run(
        tmp_path, "user", "add", "alice", "--role", "enterprise_admin",
        "--enterprise", USCC_A, "--password-file", str(pw),
    )  # fmt: skip
    assert r.exit_code == 0 and r.stdout == "alice (enterprise_admin)\n"
    orphan = run(
        tmp_path, "user", "add", "bob", "--role", "enterprise_user", "--password-file", str(pw)
    )
    assert orphan.exit_code == 2 and "needs an enterprise" in orphan.stderr
    missing = run(
        tmp_path, "user", "add", "carl", "--role", "regulator", "--password-file", "nope.txt"
    )
    assert missing.exit_code == 2 and "password file 'nope.txt' does not exist" in missing.stderr
    listed = run(tmp_path, "user", "list").stdout
    assert "alice" in listed and USCC_A in listed and "bob" not in listed

    token = run(tmp_path, "token", "create", "alice", "--password-file", str(pw))
    assert token.exit_code == 0
    with engine(tmp_path).connect() as conn:
        assert core.user_for_token(conn, token.stdout.strip()).username == "alice"
    (tmp_path / "wrong.txt").write_text("not-the-password\n")
    wrong = run(
        tmp_path, "token", "create", "alice", "--password-file", str(tmp_path / "wrong.txt")
    )
    assert wrong.exit_code == 2 and "wrong username or password" in wrong.stderr
