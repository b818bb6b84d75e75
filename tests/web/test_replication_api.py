"""The replication API (``/api/v1/ids/changes``, ``/ids/snapshot``) and a DR copy reading it:
who may read, hostile parameters, 410 after pruning, and the copy's resync, resume and refusal
of writes (the primary's app in this process; tests/integration/test_dr_processes.py runs
real processes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import bearer
from tests.web.test_console_handles import put

from indunet import core, ids
from indunet.core import Settings
from indunet.ids import changelog
from indunet.web import AppState, create_app, open_database

SEED = ids.Principal(actor="seed", prefixes=None)


@pytest.fixture
async def web(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_only_a_platform_admin_reads_the_log(
    web: httpx.AsyncClient, state: AppState, allocation: ids.Allocation
) -> None:
    put(state, "88.100.1/CNC-1", URL="https://a.example.cn/1")
    assert (await web.get("/api/v1/ids/changes")).status_code == 401
    for role, ent in (
        (core.Role.REGULATOR, None),
        (core.Role.ENTERPRISE_ADMIN, allocation.enterprise_id),
    ):
        who = bearer(state.engine, f"u-{role.value}", role, ent)
        for path in ("/api/v1/ids/changes", "/api/v1/ids/snapshot"):
            assert (await web.get(path, headers=who)).status_code == 403, (role, path)
    admin = bearer(state.engine, "op", core.Role.PLATFORM_ADMIN)
    r = await web.get("/api/v1/ids/changes", params={"after": 0}, headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    keys = [c["key"] for c in body["changes"]]
    assert keys == ["0.NA/88.100.1", "88.100.1/CNC-1"]
    assert body["next"] == body["head"] == 2 and body["more"] is False
    url = [v for v in body["changes"][1]["values"] if v["type"] == "URL"]
    assert url[0]["data"]["value"] == "https://a.example.cn/1"


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/ids/changes", {"after": -1}, 422),
        ("/api/v1/ids/changes", {"after": "x"}, 422),
        ("/api/v1/ids/changes", {"after": 2**63}, 422),
        ("/api/v1/ids/changes", {"limit": 0}, 422),
        ("/api/v1/ids/changes", {"limit": changelog.MAX_PAGE + 1}, 422),
        ("/api/v1/ids/changes", {"node": "x" * 129}, 422),
        ("/api/v1/ids/changes", {"node": "no-such-node"}, 404),
        ("/api/v1/ids/changes", {"after": 99}, 410),
        ("/api/v1/ids/snapshot", {"after": "k" * 401}, 422),
        ("/api/v1/ids/snapshot", {"limit": -5}, 422),
    ],
)
async def test_bad_parameters_are_named(
    web: httpx.AsyncClient, state: AppState, path: str, params: dict[str, object], status: int
) -> None:
    admin = bearer(state.engine, "op", core.Role.PLATFORM_ADMIN)
    r = await web.get(path, params=params, headers=admin)
    assert r.status_code == status, r.text
    assert "message" in r.json() or "detail" in r.json()


async def test_pruned_changes_answer_410_naming_the_resync(
    web: httpx.AsyncClient, state: AppState
) -> None:
    for i in range(3):
        put(state, f"88.100.1/CNC-{i}", URL=f"https://a.example.cn/{i}")
    changelog.prune(state.engine, -1)
    admin = bearer(state.engine, "op", core.Role.PLATFORM_ADMIN)
    r = await web.get("/api/v1/ids/changes", params={"after": 1}, headers=admin)
    assert r.status_code == 410
    assert r.json()["code"] == "changes_expired" and "/api/v1/ids/snapshot" in r.json()["message"]
    ok = await web.get("/api/v1/ids/changes", params={"after": 4}, headers=admin)
    assert ok.status_code == 200 and ok.json()["changes"] == []


def _copy(tmp_path: Path, primary: AppState) -> tuple[sa.Engine, ids.Node]:
    engine = open_database(Settings(data_dir=tmp_path / "dr"))
    front = primary.hierarchy.front
    node = ids.Node(
        front.name,
        ids.NodeRole.DR,
        front.prefix,
        engine,
        ids.TemplateRegistry(engine),
        copy_of="http://testserver",
    )
    return engine, node


async def test_a_copy_resyncs_follows_resumes_and_refuses_writes(
    state: AppState, allocation: ids.Allocation, tmp_path: Path
) -> None:
    token = bearer(state.engine, "op", core.Role.PLATFORM_ADMIN)["Authorization"][7:]
    for i in range(5):
        put(state, f"88.100.1/CNC-{i}", URL=f"https://a.example.cn/{i}")
    engine, node = _copy(tmp_path, state)
    app = create_app(state)

    def replica() -> ids.Replica:
        return ids.Replica(
            node, "http://testserver", token, page=2, transport=httpx.ASGITransport(app=app)
        )

    try:
        # a record the primary never had is removed by the first full copy
        with engine.begin() as conn:
            ids.Replica(node, "http://x", token).store.insert(
                conn, "88.100.1/STALE", "88.100.1/STALE", "88.100.1", []
            )
        r = replica()
        await r.open()
        assert await r.sync_once()  # no state yet: a full copy, page by page
        assert r.status.resyncs == 1 and r.status.applied == 6
        assert node.record("88.100.1/stale") is None
        assert node.record("88.100.1/cnc-4") is not None
        assert (await node.resolve("0.NA/88.100.1")).rc == ids.RC.SUCCESS
        put(state, "88.100.1/CNC-1", URL="https://a.example.cn/changed")
        state.hierarchy.front.delete("88.100.1/CNC-2", SEED)
        while await r.sync_once():
            pass
        assert r.status.applied == 8
        rec = node.record("88.100.1/cnc-1")
        assert rec is not None and rec.values[0].value == "https://a.example.cn/changed"
        assert node.record("88.100.1/cnc-2") is None
        await r.stop()

        put(state, "88.100.1/CNC-9", URL="https://a.example.cn/9")
        again = replica()  # a restart resumes after what was applied
        await again.open()
        assert again.status.applied == 8
        assert not await again.sync_once()
        assert again.status.resyncs == 0 and node.record("88.100.1/cnc-9") is not None
        await again.stop()

        with pytest.raises(ids.ReadOnlyCopy) as refused:
            node.put("88.100.1/CNC-1", [{"index": 1, "type": "URL", "data": "x"}], SEED)
        assert refused.value.rc == ids.RC.SERVER_BACKUP and refused.value.status == 403
        with pytest.raises(ids.ReadOnlyCopy):
            node.delete("88.100.1/CNC-1", SEED)
        assert node.record("88.100.1/cnc-1") is not None
    finally:
        engine.dispose()
