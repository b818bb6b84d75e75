"""Active identifiers on PostgreSQL: the same signed request sent many times at once is
written once (the nonce is recorded in the write's transaction), distinct ones all are."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest

from indunet import ids
from indunet.core import Conflict, Settings
from indunet.ids import active
from indunet.web import AppState
from indunet_device import DeviceKey, generate, sign_request

pytestmark = pytest.mark.integration
HANDLE = "88.100.1/ai-pg-1"
PATH = "/api/v1/active/announce"


@pytest.fixture
def settings(tmp_path: Path, pg_schema_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", port=8000, database_url=pg_schema_url)


def request(key: DeviceKey, body: dict[str, object], nonce: str | None = None) -> active.Request:
    raw = orjson.dumps(body)
    headers = sign_request(key, "POST", PATH, HANDLE, raw, nonce=nonce)
    return active.Request("POST", PATH, {k.lower(): v for k, v in headers.items()}, raw)


def test_concurrent_replays_write_once(state: AppState, allocation: ids.Allocation) -> None:
    assert state.engine.dialect.name == "postgresql"
    node = state.hierarchy.front
    key = generate("sm2")
    active.enrol(node, ids.OPERATOR, HANDLE, key.hs_pubkey())
    same = request(key, {"handle": HANDLE, "status": "running"}, nonce="same-nonce-0123456789")

    def send(req: active.Request) -> str:
        try:
            active.announce(node, req)
        except Conflict as exc:
            return str(exc.reason)
        return "ok"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, [same] * 16))
    assert results.count("ok") == 1 and results.count("active_replay") == 15, results
    fresh = [request(key, {"handle": HANDLE, "firmware": f"v{i}"}) for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(send, fresh)) == ["ok"] * 16
    total, _ = node.history(HANDLE)
    assert total == 1 + 1 + 16  # enrolment, one of the replays, the distinct ones
    with state.engine.connect() as conn:
        kept = conn.exec_driver_sql("SELECT count(*) FROM ids_active_nonces").scalar_one()
    assert kept == 17
