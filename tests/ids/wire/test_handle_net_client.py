"""Handle.Net's own client library (hdllib's ``HandleResolver``, compiled from Handle.Net's
sources by ``interop/build.sh``) resolves over Indunet's Handle protocol port: UDP (one
packet and several), TCP, request digests (which hdllib verifies), errors and referrals
(HS_SITE decoded by hdllib's ``Encoder.decodeSiteInfoRecord``).

It needs a JVM and the compiled classes: set ``INDUNET_HDLLIB_CLASSPATH`` (see
``interop/build.sh``); without it the test is skipped. The client written from the RFC
(``test_wire_server.py``) runs everywhere.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from indunet import ids
from indunet.ids import OPERATOR
from indunet.ids.wire.server import WireServer, WireService
from indunet.web.state import AppState

CLASSPATH = os.environ.get("INDUNET_HDLLIB_CLASSPATH", "")
pytestmark = pytest.mark.skipif(
    not CLASSPATH or shutil.which("java") is None,
    reason="set INDUNET_HDLLIB_CLASSPATH (tests/ids/wire/interop/build.sh) and install a JVM",
)
LONG = "说明" * 400  # 2,400 bytes: several UDP packets


@pytest.fixture
async def servers(state: AppState) -> AsyncIterator[tuple[int, int]]:
    front, root = state.hierarchy.front, state.hierarchy.nodes["root"]
    values = [
        {"index": 1, "type": "URL", "data": "https://a.example.cn/p"},
        {"index": 2, "type": "DESC", "data": LONG},
    ]
    await asyncio.to_thread(front.put, "88.100.1/PUMP-1", values, OPERATOR)
    top = [{"index": 1, "type": "URL", "data": "https://t.example.cn/"}]
    await asyncio.to_thread(state.hierarchy.nodes["88"].put, "88/TOP-1", top, OPERATOR)
    a = WireServer(WireService(front), "127.0.0.1", 0)
    b = WireServer(WireService(root), "127.0.0.1", 0)
    await a.start()
    await b.start()
    yield a.port, b.port
    await a.stop()
    await b.stop()


async def probe(*args: object) -> list[str]:
    cmd = ["java", "-cp", CLASSPATH, "HdlProbe", *map(str, args)]
    done = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()


async def test_handle_net_resolves_over_udp_and_tcp(servers: tuple[int, int]) -> None:
    port, _ = servers
    for transport in ("udp", "tcp"):
        out = await probe(transport, port, "88.100.1/pump-1", "digest")
        assert out[:3] == ["rc 1", "version 2.11", "handle 88.100.1/pump-1"]
        url = b"https://a.example.cn/p".hex().upper()
        assert any(line.startswith("value 1 URL 86400 ") and line.endswith(url) for line in out)
        assert any(line.endswith(LONG.encode().hex().upper()) for line in out)


async def test_handle_net_reads_errors_recursion_and_referrals(servers: tuple[int, int]) -> None:
    port, root_port = servers
    missing = await probe("udp", port, "88.100.1/NOPE")
    assert missing[0] == "rc 100" and "not registered" in missing[2]
    for _ in range(3):  # through the hierarchy, then from the cache, then remembered
        recursive = await probe("udp", port, "88/TOP-1", "rec", "digest")
        assert recursive[:3] == ["rc 1", "version 2.11", "handle 88/TOP-1"]
    referral = await probe("udp", root_port, "88.100.1/PUMP-1")
    assert referral[0] == "rc 302"
    assert referral[2] == "site HS_SITE primary=true path=/nodes/88"
    assert referral[3] == "interface 2 2 8000"  # query, HTTP, the site URL's port


async def test_handle_net_adds_a_value_answering_the_challenge(
    state: AppState, allocation: ids.Allocation, tmp_path: Path
) -> None:
    """hdllib's ``PublicKeyAuthenticationInfo`` signs the challenge (after checking its digest
    of the request) and the answer, sent on a new connection, is accepted (``HdlAdmin``)."""
    from tests.ids.wire.test_wire_admin import ADMIN_ID, KEY, OTHER_KEY, _pubkey_json

    node = state.hierarchy.front
    own = {  # the identity administers its own record
        "index": 100,
        "type": "HS_ADMIN",
        "data": {"format": "admin", "value": {"handle": ADMIN_ID, "index": 300}},
    }
    await asyncio.to_thread(node.put, ADMIN_ID, [_pubkey_json(KEY), own], OPERATOR)
    der = serialization.PrivateFormat.PKCS8
    for name, key in (("key.der", KEY), ("other.der", OTHER_KEY)):
        raw = key.private_bytes(serialization.Encoding.DER, der, serialization.NoEncryption())
        (tmp_path / name).write_bytes(raw)
    srv = WireServer(WireService(node), "127.0.0.1", 0)
    await srv.start()
    try:
        ok = await _java("HdlAdmin", srv.port, tmp_path / "key.der", ADMIN_ID, 300, ADMIN_ID)
        assert ok == ["rc 402", "rc 1"], ok
        got = await asyncio.to_thread(node.record, ADMIN_ID)
        assert got is not None and any(v.index == 7 and v.value == "hdllib" for v in got.values)
        bad = await _java("HdlAdmin", srv.port, tmp_path / "other.der", ADMIN_ID, 300, ADMIN_ID)
        assert bad[:2] == ["rc 402", "rc 403"], bad
    finally:
        await srv.stop()


async def _java(main: str, *args: object) -> list[str]:
    cmd = ["java", "-cp", CLASSPATH, main, *map(str, args), "7", "DESC", "hdllib"]
    done = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()
