"""pyhandle 1.5.0 writes over HTTPS to ``indunet up --self-signed``, whose default refuses
credentials over plain HTTP (here no development allowance is given)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from tests.integration.prefixes import prefixed_server, pyhandle_client
from tests.integration.servers import Server

from indunet import core

PREFIX = "88.100.1"
USERNAME = f"300:0.NA/{PREFIX}"
SECRET = "pyhandle-tls-key-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("pyhandle-tls")
    uscc = core.make_uscc("91350100M0005000")
    with prefixed_server(
        base,
        PREFIX,
        SECRET,
        uscc=uscc,
        name="福州示例密封件有限公司",
        args=("--self-signed",),
        env={"INDUNET_PLAIN_HTTP_AUTH": "refuse"},
    ) as srv:
        yield srv


def test_the_node_serves_its_self_signed_certificate(server: Server) -> None:
    assert server.url.startswith("https://")
    url = urlsplit(server.url)
    pem = ssl.get_server_certificate((url.hostname or "", url.port or 0))
    assert pem == (server.data_dir / "tls" / "cert.pem").read_text()
    assert "TLS:" in server.output


def test_pyhandle_registers_and_reads_over_https(server: Server) -> None:
    client = pyhandle_client(server, USERNAME, SECRET)
    client.register_handle(f"{PREFIX}/TLS-1", "https://example.com/tls-1")
    assert client.get_value_from_handle(f"{PREFIX}/TLS-1", "URL") == "https://example.com/tls-1"
    answer = httpx.get(f"{server.url}/api/handles/{PREFIX}/TLS-1", verify=False, timeout=5)
    urls = [v["data"]["value"] for v in answer.json()["values"] if v["type"] == "URL"]
    assert urls == ["https://example.com/tls-1"]
