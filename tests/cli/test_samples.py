"""The demo's sample data: seeded once, resolvable, and its credentials kept private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from indunet import core, ids
from indunet.cli.samples import CREDENTIALS_FILE, ENTERPRISES, seed
from indunet.web import AppState


def _credentials(text: str) -> dict[str, str]:
    """``username -> secret/password`` pairs from the credentials file."""
    out: dict[str, str] = {}
    user = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "username":
            user = value.strip()
        elif key in ("secret", "password"):
            out[user] = value.strip()
    return out


async def test_seed_twice_adds_everything_once(
    state: AppState, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(state, tmp_path)
    first = (tmp_path / CREDENTIALS_FILE).read_text()
    seed(state, tmp_path)

    assert (tmp_path / CREDENTIALS_FILE).read_text() == first
    with state.engine.connect() as conn:
        assert len(core.list_enterprises(conn)) == len(ENTERPRISES)
        assert {u.username for u in core.list_users(conn)} == {"xm-admin", "sz-admin"}
    assert [a.prefix for a in ids.list_allocations(state.engine)] == ["88.100.1", "88.100.2"]
    front = state.hierarchy.front
    assert [t.ref for t in front.templates.for_prefix("88.100.1")] == ["device@1.0"]
    total, handles = front.list_handles("88.100.1", ids.OPERATOR, page_size=1000)
    assert total == 12
    assert "88.100.1/CNC-0001" in handles
    assert front.list_handles("88.100.2", ids.OPERATOR)[0] == 8
    out = capsys.readouterr().out
    assert "indunet id resolve 88.100.1/CNC-0001" in out
    assert str(tmp_path / CREDENTIALS_FILE) in out


async def test_sample_records_resolve_with_their_template_values(
    state: AppState, tmp_path: Path
) -> None:
    seed(state, tmp_path)
    answer = await state.hierarchy.front.resolve("88.100.1/cnc-0001", recurse=True)

    assert answer.rc == ids.RC.SUCCESS
    assert answer.handle == "88.100.1/CNC-0001"
    by_type = {v.type: v.value for v in answer.public_values()}
    assert by_type["TEMPLATE"] == "device@1.0"
    assert by_type["manufacturer"] == "厦门示例机床有限公司"
    assert by_type["model"] == "VMC850"
    assert by_type["URL"].startswith("https://")
    referred = await state.hierarchy.nodes["recursive"].resolve(
        "88.100.2/SPINDLE-0008", recurse=True
    )
    assert referred.rc == ids.RC.SUCCESS


def test_credentials_file_is_private_and_its_keys_work(state: AppState, tmp_path: Path) -> None:
    seed(state, tmp_path)
    path = tmp_path / CREDENTIALS_FILE

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    creds = _credentials(path.read_text())
    assert set(creds) == {"300:0.NA/88.100.1", "300:0.NA/88.100.2", "xm-admin", "sz-admin"}
    principal = state.hierarchy.front.authenticate("300:0.NA/88.100.1", creds["300:0.NA/88.100.1"])
    assert principal.identity == (300, "0.NA/88.100.1")
    with state.engine.connect() as conn:
        user = core.authenticate(conn, "xm-admin", creds["xm-admin"])
    assert user.role == core.Role.ENTERPRISE_ADMIN


def test_the_unverified_sample_enterprise_gets_no_prefix(state: AppState, tmp_path: Path) -> None:
    seed(state, tmp_path)
    pending = ENTERPRISES[-1]
    with state.engine.connect() as conn:
        ent = core.get_enterprise(conn, pending.uscc)
    assert not ent.verified
    assert ids.list_allocations(state.engine, enterprise_id=ent.id) == []
