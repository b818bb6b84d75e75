"""``indunet token create --days``, ``token list`` and ``token revoke`` at the operator's terminal."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from indunet import core
from indunet.cli import app
from indunet.cli.options import engine

runner = CliRunner()


def run(data: Path, *args: str) -> Result:
    return runner.invoke(app, [*args, "--data-dir", str(data)])


def test_tokens_are_listed_without_secrets_and_revoked_by_id(tmp_path: Path) -> None:
    pw = tmp_path / "pw.txt"
    pw.write_text("a-long-password\n")
    assert (
        run(
            tmp_path, "user", "add", "alice", "--role", "regulator", "--password-file", str(pw)
        ).exit_code
        == 0
    )
    made = run(tmp_path, "token", "create", "alice", "--password-file", str(pw), "--days", "7")
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    listed = run(tmp_path, "token", "list")
    assert listed.exit_code == 0 and "alice" in listed.stdout and token not in listed.stdout
    with engine(tmp_path).connect() as conn:
        (info,) = core.list_tokens(conn, core.get_user(conn, "alice"))
    revoked = run(tmp_path, "token", "revoke", str(info.id))
    assert revoked.exit_code == 0, revoked.output
    with engine(tmp_path).connect() as conn:
        assert core.list_tokens(conn, core.get_user(conn, "alice")) == []
    assert run(tmp_path, "token", "revoke", str(info.id)).exit_code != 0
    too_long = run(
        tmp_path, "token", "create", "alice", "--password-file", str(pw), "--days", "400"
    )
    assert too_long.exit_code == 2
