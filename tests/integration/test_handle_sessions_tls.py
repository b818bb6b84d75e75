"""Handle.Net challenge-response with an RSA key against a real ``indunet up --self-signed``
process: pyhandle (Basic, the prefix key) sets up the RSA identity, the independent client
(``tests/web/handle_pubkey_client``) authenticates with it over HTTPS and writes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.integration.prefixes import prefixed_server, pyhandle_client
from tests.integration.servers import Server
from tests.web.handle_pubkey_client import answer, login, open_session, pubkey_value

from indunet import core

pytestmark = pytest.mark.integration

PREFIX = "88.100.1"
SECRET = "sessions-tls-key-1"
IDENTITY_HANDLE = f"{PREFIX}/RSA-ADMIN"
IDENTITY = f"300:{IDENTITY_HANDLE}"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with prefixed_server(
        tmp_path_factory.mktemp("sessions-tls"),
        PREFIX,
        SECRET,
        uscc=core.make_uscc("91350100M0007000"),
        name="福州示例轴承有限公司",
        args=("--self-signed",),
        env={"INDUNET_PLAIN_HTTP_AUTH": "refuse"},
    ) as srv:
        client = pyhandle_client(srv, f"300:0.NA/{PREFIX}", SECRET)
        # the RSA identity's record, then a record naming it in its HS_ADMIN
        resp = httpx.put(
            f"{srv.url}/api/handles/{IDENTITY_HANDLE}",
            json={"values": [pubkey_value(300, KEY)]},
            auth=(f"300%3A0.NA/{PREFIX}", SECRET),
            verify=False,
            timeout=10,
        )
        assert resp.status_code == 201, resp.text
        client.register_handle(f"{PREFIX}/PYHANDLE-1", "https://example.com/ph")  # Basic works
        owned = httpx.put(
            f"{srv.url}/api/handles/{PREFIX}/OWNED",
            json={
                "values": [
                    {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://o"}},
                    {
                        "index": 100,
                        "type": "HS_ADMIN",
                        "data": {
                            "format": "admin",
                            "value": {
                                "handle": IDENTITY_HANDLE,
                                "index": 300,
                                "permissions": "011111110011",
                            },
                        },
                    },
                ]
            },
            auth=(f"300%3A0.NA/{PREFIX}", SECRET),
            verify=False,
            timeout=10,
        )
        assert owned.status_code == 201, owned.text
        yield srv


async def test_an_rsa_identity_authenticates_over_https_and_writes(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, verify=False, timeout=10) as c:
        session = await login(c, KEY, IDENTITY)
        put = await c.put(
            f"/api/handles/{PREFIX}/OWNED?index=2",
            json={"values": [{"index": 2, "type": "EMAIL", "data": "ops@x.example"}]},
            headers={"Authorization": session},
        )
        assert put.status_code == 200, put.text
        refused = await c.put(
            f"/api/handles/{PREFIX}/NOT-MINE",
            json={"values": [{"index": 1, "type": "URL", "data": "https://x"}]},
            headers={"Authorization": session},
        )
        assert refused.status_code == 403 and refused.json()["responseCode"] == 400
        wrong = await open_session(c)
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        bad = answer(other, IDENTITY, wrong["sessionId"], wrong["nonce"])
        resp = await c.put("/api/sessions/this", headers={"Authorization": bad.header})
        assert resp.status_code == 401 and "authenticated" not in resp.json()
