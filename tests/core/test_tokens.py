"""Tokens expire (90 days unless asked, 365 at most); admins list and revoke any, users their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from indunet import core
from indunet.core.db import CORE_MIGRATIONS
from indunet.core.users import DEFAULT_TOKEN_TTL, MAX_TOKEN_TTL


def user(engine: sa.Engine, name: str, role: core.Role = core.Role.REGULATOR) -> core.User:
    with engine.begin() as conn:
        return core.create_user(
            conn, username=name, password="a-long-password", role=role, actor="test"
        )


def expires_of(engine: sa.Engine, token_id: int) -> datetime:
    with engine.connect() as conn:
        at = conn.execute(
            sa.text("SELECT expires_at FROM core_tokens WHERE id = :i"), {"i": token_id}
        ).scalar_one()
    parsed = datetime.fromisoformat(str(at))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def test_an_api_token_expires_after_90_days_unless_asked_and_365_at_most(
    core_engine: sa.Engine,
) -> None:
    alice = user(core_engine, "alice")
    with core_engine.begin() as conn:
        core.issue_token(conn, alice, name="default")
        core.issue_token(conn, alice, name="week", ttl=timedelta(days=7))
        with pytest.raises(core.InvalidInput, match="at most 365 days"):
            core.issue_token(conn, alice, name="forever", ttl=MAX_TOKEN_TTL + timedelta(days=1))
        listed = {t.name: t for t in core.list_tokens(conn, alice)}
    now = datetime.now(UTC)
    assert listed.keys() == {"default", "week"}
    left = listed["default"].expires_at
    assert left is not None and abs(left - (now + DEFAULT_TOKEN_TTL)) < timedelta(minutes=1)
    week = listed["week"].expires_at
    assert week is not None and abs(week - (now + timedelta(days=7))) < timedelta(minutes=1)


def test_users_list_their_own_tokens_and_admins_everyones(core_engine: sa.Engine) -> None:
    alice, bob = user(core_engine, "alice"), user(core_engine, "bob")
    admin = user(core_engine, "root", core.Role.PLATFORM_ADMIN)
    with core_engine.begin() as conn:
        core.issue_token(conn, alice, name="a1")
        core.issue_token(conn, bob, name="b1")
        core.issue_token(conn, bob, name="b-console", kind="session", ttl=timedelta(hours=1))
        mine = core.list_tokens(conn, alice)
        everyone = core.list_tokens(conn, admin)
        bobs = core.list_tokens(conn, admin, username="bob")
    assert [(t.username, t.name) for t in mine] == [("alice", "a1")]
    assert {t.name for t in everyone} == {"a1", "b1", "b-console"}
    assert {(t.name, t.kind) for t in bobs} == {("b1", "api"), ("b-console", "session")}
    assert set(mine[0].to_json()) == {
        "id",
        "username",
        "name",
        "kind",
        "created_at",
        "expires_at",
        "last_used_at",
        "source",
    }


def test_another_users_token_is_not_found_but_an_admin_revokes_it(core_engine: sa.Engine) -> None:
    alice, bob = user(core_engine, "alice"), user(core_engine, "bob")
    admin = user(core_engine, "root", core.Role.PLATFORM_ADMIN)
    with core_engine.begin() as conn:
        token = core.issue_token(conn, bob, name="b1")
        (info,) = core.list_tokens(conn, bob)
    with core_engine.begin() as conn, pytest.raises(core.NotFound):
        core.revoke_token_by_id(conn, info.id, alice)
    with core_engine.begin() as conn:
        assert core.user_for_token(conn, token) == bob
        core.revoke_token_by_id(conn, info.id, admin)
    with core_engine.connect() as conn:
        with pytest.raises(core.AuthenticationFailed):
            core.user_for_token(conn, token)
        entry = core.audit.entries(conn, limit=1)[0]
    assert (entry.actor, entry.action, entry.target) == ("user:root", "token.revoke", "user:bob")
    with core_engine.begin() as conn, pytest.raises(core.NotFound):
        core.revoke_token_by_id(conn, info.id, admin)


def test_users_revoke_their_own_tokens(core_engine: sa.Engine) -> None:
    alice = user(core_engine, "alice")
    with core_engine.begin() as conn:
        token = core.issue_token(conn, alice, name="a1")
        (info,) = core.list_tokens(conn, alice)
        core.revoke_token_by_id(conn, info.id, alice)
        with pytest.raises(core.AuthenticationFailed):
            core.user_for_token(conn, token)


def test_expired_tokens_are_not_listed_and_are_deleted_later(core_engine: sa.Engine) -> None:
    alice = user(core_engine, "alice")
    with core_engine.begin() as conn:
        core.issue_token(conn, alice, name="brief", ttl=timedelta(milliseconds=1))
    with core_engine.begin() as conn:
        assert core.list_tokens(conn, alice) == []
        core.issue_token(conn, alice, name="next")
        names = conn.execute(sa.text("SELECT name FROM core_tokens")).scalars().all()
    assert names == ["next"]


def test_migration_gives_tokens_that_never_expired_an_expiry(tmp_path: Path) -> None:
    engine = core.make_engine(core.Settings(data_dir=tmp_path / "old"))
    cfg = Config()
    cfg.set_main_option("script_location", str(CORE_MIGRATIONS))
    cfg.set_main_option("version_locations", str(CORE_MIGRATIONS / "versions"))
    cfg.set_main_option("path_separator", "space")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "c0001")  # as an older version left the database
        conn.execute(
            sa.text(
                "INSERT INTO core_users (id, username, password_hash, role, created_at) "
                "VALUES (1, 'old', 'x', 'regulator', '2025-01-01 00:00:00')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO core_tokens (id, user_id, token_hash, name, kind, created_at) "
                "VALUES (7, 1, 'h', 'ci', 'api', '2025-01-01 00:00:00')"
            )
        )
    core.migrate(engine, [])
    left = expires_of(engine, 7) - datetime.now(UTC)
    assert DEFAULT_TOKEN_TTL - timedelta(minutes=1) < left <= DEFAULT_TOKEN_TTL
    engine.dispose()
