"""An active identifier kept by a device from another process: a real ``indunet up``, and
the device-side command ``python -m indunet_device`` (urllib, no platform code) announcing,
linking and rotating its key over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.integration.servers import Server, group

from indunet import core

pytestmark = pytest.mark.integration
USCC = core.make_uscc("91350200MA3K7LL0")
HANDLE = "88.100.7/ai-gw-1"


@pytest.fixture
def up(tmp_path: Path) -> Iterator[tuple[Server, httpx.Client]]:
    with group(tmp_path) as g:
        server = g.start("platform", "up")
        password = server.admin_password
        assert password, server.output
        api = httpx.Client(base_url=server.url, timeout=10.0)
        token = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
        api.headers["Authorization"] = f"Bearer {token.json()['token']}"
        ent = api.post("/api/v1/enterprises", json={"uscc": USCC, "name": "主动标识测试工厂"})
        assert ent.status_code < 300, ent.text
        prefix = api.post("/api/v1/prefixes", json={"prefix": "88.100.7", "enterprise_uscc": USCC})
        assert prefix.status_code < 300, prefix.text
        spec = {"id": "gw-1", "name": "网关", "model": "indunet:env-sensor", "protocol": "http"}
        made = api.post("/api/v1/devices", json={**spec, "enterprise_id": ent.json()["id"]})
        assert made.status_code == 201, made.text
        try:
            yield server, api
        finally:
            api.close()


def device(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "indunet_device", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("alg", ["sm2", "ed25519"])
def test_a_device_process_announces_links_and_rotates(
    up: tuple[Server, httpx.Client], tmp_path: Path, alg: str
) -> None:
    server, api = up
    key, new = tmp_path / "device.key", tmp_path / "next.key"
    made = device("keygen", "--algorithm", alg, "--out", str(key))
    assert made.returncode == 0, made.stderr
    enrol = api.post("/api/v1/active/enrol", json={"handle": HANDLE, "key": made.stdout.strip()})
    assert enrol.status_code == 201, enrol.text

    node = ["--node", server.url, "--handle", HANDLE, "--key"]
    said = device(
        "announce", *node, str(key), "--status", "running", "--firmware", "2.4.1",
        "--location", "24.48,118.09", "--link", "88.100.7/line-3", "--device", "gw-1",
    )  # fmt: skip
    assert said.returncode == 0, said.stderr
    assert json.loads(said.stdout)["link"]["identifier"] == "88.100.7/dev-gw-1"
    values = {
        v["index"]: v["data"]["value"] for v in api.get(f"/api/handles/{HANDLE}").json()["values"]
    }
    assert values[2101] == "running" and values[2103] == "24.48,118.09"
    assert values[2105] == "88.100.7/dev-gw-1"
    dev = api.get("/api/handles/88.100.7/dev-gw-1").json()["values"]
    assert {v["index"]: v["data"]["value"] for v in dev}[2110] == HANDLE

    assert device("keygen", "--algorithm", alg, "--out", str(new)).returncode == 0
    rotated = device("rotate", *node, str(key), "--new-key", str(new))
    assert rotated.returncode == 0, rotated.stderr
    stale = device("announce", *node, str(key), "--status", "idle")
    assert stale.returncode == 1 and "active_signature_bad" in stale.stderr
    fresh = device("announce", *node, str(new), "--status", "idle")
    assert fresh.returncode == 0, fresh.stderr
    bad = device("announce", *node, str(new), "--status", "on fire")
    assert bad.returncode == 1 and "HTTP 400 active_status" in bad.stderr
