"""The audit log is written in the writer's transaction and read newest first."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from indunet import core

USCC = "91350100M000100Y43"


def test_entries_are_newest_first_and_filterable(core_engine: sa.Engine) -> None:
    with core_engine.begin() as conn:
        core.audit.record(conn, "user:a", "thing.create", "thing:1", {"n": 1})
        core.audit.record(conn, "user:b", "thing.create", "thing:2")
        core.audit.record(conn, "user:a", "thing.delete", "thing:1")
    with core_engine.connect() as conn:
        all_entries = core.audit.entries(conn)
        assert [e.action for e in all_entries] == ["thing.delete", "thing.create", "thing.create"]
        assert [e.target for e in core.audit.entries(conn, actor="user:a")] == ["thing:1"] * 2
        assert [e.actor for e in core.audit.entries(conn, target="thing:2")] == ["user:b"]
        assert len(core.audit.entries(conn, limit=1)) == 1
    assert all_entries[-1].detail == {"n": 1}
    assert all_entries[0].detail == {}


def test_a_failing_write_rolls_back_its_audit_entry(
    core_engine: sa.Engine, rows: Callable[[str], int]
) -> None:
    with pytest.raises(core.Conflict), core_engine.begin() as conn:
        core.create_enterprise(conn, uscc=USCC, name="Acme", actor="user:op")
        # The first create wrote its row and its audit entry; the duplicate fails.
        core.create_enterprise(conn, uscc=USCC, name="Acme again", actor="user:op")
    assert rows("core_enterprises") == 0
    assert rows("core_audit_log") == 0


def test_an_error_after_the_audit_entry_rolls_back_both(
    core_engine: sa.Engine, rows: Callable[[str], int]
) -> None:
    with pytest.raises(sa.exc.IntegrityError), core_engine.begin() as conn:
        core.audit.record(conn, "user:op", "thing.create", "thing:1")
        conn.execute(sa.text("INSERT INTO core_users (username) VALUES ('x')"))  # NOT NULL fails
    assert rows("core_audit_log") == 0


def test_texts_longer_than_their_column_are_cut_and_kept_in_detail(core_engine: sa.Engine) -> None:
    # A valid handle can have 384 characters (128 prefix + '/' + 255 suffix); the target column
    # holds 300, and PostgreSQL refuses longer text, which would fail the whole write.
    long_handle = "88.100." + "A" * 121 + "/" + "x" * 255
    with core_engine.begin() as conn:
        core.audit.record(
            conn, "300:0.NA/" + "B" * 300, "handle.create", long_handle, {"node": "n"}
        )
    with core_engine.connect() as conn:
        entry = core.audit.entries(conn)[0]
    assert len(entry.target) == 300 and entry.target.endswith("…")
    assert long_handle.startswith(entry.target[:-1])
    assert len(entry.actor) == 200
    assert entry.detail == {"node": "n", "target": long_handle}
