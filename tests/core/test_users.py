"""Users, roles, password checks, API tokens (stored hashed) and the first admin."""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa

from indunet import core

USCC = "91350100M000100Y43"


@pytest.fixture
def enterprise_id(core_engine: sa.Engine) -> int:
    with core_engine.begin() as conn:
        return core.create_enterprise(conn, uscc=USCC, name="Acme", actor="test").id


def _user(
    engine: sa.Engine,
    username: str = "alice",
    role: core.Role = core.Role.REGULATOR,
    enterprise_id: int | None = None,
    password: str = "correct horse",
) -> core.User:
    with engine.begin() as conn:
        return core.create_user(
            conn,
            username=username,
            password=password,
            role=role,
            actor="user:admin",
            enterprise_id=enterprise_id,
        )


def test_enterprise_roles_need_an_enterprise(core_engine: sa.Engine, enterprise_id: int) -> None:
    for role in (core.Role.ENTERPRISE_ADMIN, core.Role.ENTERPRISE_USER):
        with pytest.raises(core.InvalidInput, match=f"role {role.value} needs an enterprise"):
            _user(core_engine, f"u-{role.value}", role)
    user = _user(core_engine, "bob", core.Role.ENTERPRISE_USER, enterprise_id)
    assert user.enterprise_id == enterprise_id
    assert user.actor == "user:bob"


def test_platform_roles_cannot_have_an_enterprise(
    core_engine: sa.Engine, enterprise_id: int, rows: Callable[[str], int]
) -> None:
    for role in (core.Role.PLATFORM_ADMIN, core.Role.REGULATOR):
        with pytest.raises(core.InvalidInput, match=f"role {role.value} cannot have an enterprise"):
            _user(core_engine, "carol", role, enterprise_id)
    assert rows("core_users") == 0


@pytest.mark.parametrize("username", ["", "has space", "x" * 65, "semi;colon"])
def test_bad_usernames_are_refused(core_engine: sa.Engine, username: str) -> None:
    with pytest.raises(core.InvalidInput, match="username must be 1 to 64"):
        _user(core_engine, username)


def test_short_password_is_refused(core_engine: sa.Engine, rows: Callable[[str], int]) -> None:
    with pytest.raises(core.InvalidInput, match="10 to 1024 characters"):
        _user(core_engine, password="short")
    assert rows("core_users") == 0


def test_duplicate_username_is_refused(core_engine: sa.Engine, rows: Callable[[str], int]) -> None:
    _user(core_engine)
    with pytest.raises(core.Conflict, match="user 'alice' already exists"):
        _user(core_engine, " alice ")
    assert rows("core_users") == 1


def test_password_is_stored_as_a_scrypt_hash(core_engine: sa.Engine) -> None:
    _user(core_engine, password="correct horse")
    with core_engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM core_users")).scalar_one()
    assert stored.startswith("scrypt$")
    assert "correct horse" not in stored


def test_authenticate_never_says_which_part_was_wrong(core_engine: sa.Engine) -> None:
    _user(core_engine)
    with core_engine.connect() as conn:
        assert core.authenticate(conn, " alice ", "correct horse").username == "alice"
        with pytest.raises(core.AuthenticationFailed) as wrong_password:
            core.authenticate(conn, "alice", "wrong horse")
        with pytest.raises(core.AuthenticationFailed) as wrong_user:
            core.authenticate(conn, "mallory", "correct horse")
    assert wrong_password.value.message == wrong_user.value.message == "wrong username or password"
    assert wrong_password.value.status == 401


def _ms(check: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    with pytest.raises(core.AuthenticationFailed):
        check()
    return (time.perf_counter() - t0) * 1000


def test_an_unknown_user_costs_what_a_wrong_password_costs(core_engine: sa.Engine) -> None:
    """Otherwise the answer time tells which usernames exist (0.1 ms against 117 ms before).

    The two are measured in turns, so that a change in the machine's load hits both alike.
    """
    _user(core_engine)
    unknown: list[float] = []
    wrong: list[float] = []
    with core_engine.connect() as conn:
        for _ in range(9):
            unknown.append(_ms(lambda: core.authenticate(conn, "nobody", "correct horse")))
            wrong.append(_ms(lambda: core.authenticate(conn, "alice", "wrong horse")))
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.5 <= ratio <= 2.0, f"unknown user {unknown} ms, wrong password {wrong} ms"


def test_token_is_stored_only_as_its_digest(core_engine: sa.Engine) -> None:
    user = _user(core_engine)
    with core_engine.begin() as conn:
        token = core.issue_token(conn, user, name="ci")
    with core_engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT * FROM core_tokens")).mappings().one()
        assert core.user_for_token(conn, token) == user
    assert token.startswith("idn_")
    assert all(token not in str(v) for v in stored.values())
    assert stored["token_hash"] == hashlib.sha256(token.encode()).hexdigest()


def test_api_tokens_are_audited_and_session_tokens_are_not(core_engine: sa.Engine) -> None:
    user = _user(core_engine)
    with core_engine.begin() as conn:
        core.issue_token(conn, user, name="ci")
        core.issue_token(conn, user, name="browser", kind="session")
    with core_engine.connect() as conn:
        actions = [e.action for e in core.audit.entries(conn, actor="user:alice")]
    assert actions == ["token.create"]


def test_token_expires(core_engine: sa.Engine) -> None:
    user = _user(core_engine)
    with core_engine.begin() as conn:
        # long enough that a busy machine still checks it before it ends (200 ms was not:
        # CI once took longer between issuing and the first check)
        short = core.issue_token(conn, user, name="short", ttl=timedelta(seconds=1.5))
        long = core.issue_token(conn, user, name="long", ttl=timedelta(hours=1))
        issued = time.monotonic()
    with core_engine.connect() as conn:
        assert core.user_for_token(conn, short) == user
    time.sleep(max(0.0, issued + 1.6 - time.monotonic()))
    with core_engine.connect() as conn:
        with pytest.raises(core.AuthenticationFailed, match="token has expired"):
            core.user_for_token(conn, short)
        assert core.user_for_token(conn, long) == user


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-5)])
def test_token_lifetime_must_be_positive(core_engine: sa.Engine, ttl: timedelta) -> None:
    user = _user(core_engine)
    with pytest.raises(core.InvalidInput, match="lifetime"), core_engine.begin() as conn:
        core.issue_token(conn, user, name="bad", ttl=ttl)


def test_revoked_or_unknown_token_is_refused(core_engine: sa.Engine) -> None:
    user = _user(core_engine)
    with core_engine.begin() as conn:
        token = core.issue_token(conn, user, name="ci")
        core.revoke_token(conn, token)
    with core_engine.connect() as conn:
        for t in (token, "idn_never-issued"):
            with pytest.raises(core.AuthenticationFailed, match="unknown or revoked token"):
                core.user_for_token(conn, t)


def test_ensure_admin_creates_the_admin_only_once(
    core_engine: sa.Engine, rows: Callable[[str], int]
) -> None:
    with core_engine.begin() as conn:
        password = core.ensure_admin(conn)
    with core_engine.begin() as conn:
        again = core.ensure_admin(conn)
    assert password is not None and len(password) >= 16
    assert again is None
    assert rows("core_users") == 1
    with core_engine.connect() as conn:
        admin = core.authenticate(conn, "admin", password)
    assert admin.role is core.Role.PLATFORM_ADMIN
    assert admin.enterprise_id is None


def test_get_and_list_users(core_engine: sa.Engine) -> None:
    _user(core_engine, "zed")
    _user(core_engine, "amy")
    with core_engine.connect() as conn:
        assert [u.username for u in core.list_users(conn)] == ["amy", "zed"]
        assert core.get_user(conn, "zed").role is core.Role.REGULATOR
        with pytest.raises(core.NotFound, match="no user 'nobody'"):
            core.get_user(conn, "nobody")
