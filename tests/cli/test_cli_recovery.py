"""``indunet user reset-password``: the recovery path of a lost admin password."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from indunet import core
from indunet.cli import app
from indunet.cli.options import engine

runner = CliRunner()


def run(data: Path, *args: str) -> Result:
    return runner.invoke(app, [*args, "--data-dir", str(data)])


def first_admin(data: Path) -> tuple[str, str]:
    """The first admin as ``indunet up`` makes it, and an API token of theirs."""
    with engine(data).begin() as conn:
        password = core.ensure_admin(conn)
        assert password
        user = core.authenticate(conn, "admin", password)
        return password, core.issue_token(conn, user, name="old")


def test_a_lost_admin_password_is_replaced_by_a_one_time_password(tmp_path: Path) -> None:
    lost, token = first_admin(tmp_path)
    r = run(tmp_path, "user", "reset-password", "admin")
    assert r.exit_code == 0, r.output
    new = r.stdout.strip()
    assert len(new) >= 16 and new != lost and "\n" not in new
    assert "shown once" in r.stderr and "choose a new password" in r.stderr
    with engine(tmp_path).begin() as conn:
        with pytest.raises(core.AuthenticationFailed):
            core.authenticate(conn, "admin", lost)
        with pytest.raises(core.AuthenticationFailed):
            core.user_for_token(conn, token)  # the old tokens end
        with pytest.raises(core.PasswordChangeRequired):
            core.authenticate(conn, "admin", new)  # works once, to set a new password
        admin = core.get_user(conn, "admin")
        change = core.accounts.begin_password_change(conn, admin)
        core.accounts.finish_password_change(conn, change, "Recovered-admin-2026")
        assert core.authenticate(conn, "admin", "Recovered-admin-2026") == admin
        (entry,) = [e for e in core.audit.entries(conn) if e.action == "user.password_reset"]
    assert entry.actor.startswith("cli:") and entry.target == "user:admin"


def test_a_disabled_account_is_named_and_enabled_on_request(tmp_path: Path) -> None:
    first_admin(tmp_path)
    with engine(tmp_path).begin() as conn:
        conn.execute(core.accounts.users.update().values(disabled=True))
    r = run(tmp_path, "user", "reset-password", "admin")
    assert r.exit_code == 0 and "--enable" in r.stderr
    with engine(tmp_path).begin() as conn, pytest.raises(core.AuthenticationFailed):
        core.authenticate(conn, "admin", r.stdout.strip())
    r = run(tmp_path, "user", "reset-password", "admin", "--enable")
    assert r.exit_code == 0 and "--enable" not in r.stderr
    with engine(tmp_path).begin() as conn, pytest.raises(core.PasswordChangeRequired):
        core.authenticate(conn, "admin", r.stdout.strip())


def test_an_unknown_user_is_an_error_and_changes_nothing(tmp_path: Path) -> None:
    lost, _ = first_admin(tmp_path)
    r = run(tmp_path, "user", "reset-password", "nobody")
    assert r.exit_code == 2 and "no user 'nobody'" in r.stderr
    with engine(tmp_path).begin() as conn:
        core.authenticate(conn, "admin", lost)
