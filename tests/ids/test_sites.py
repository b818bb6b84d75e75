"""Server-side requests stay inside the destination policy: who may delegate, where sites may
point, how much and how long a site may cost, and what an anonymous caller learns. Every site
here is a real HTTP server (or a real closed port) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from indunet import core, ids
from indunet.core import Settings
from indunet.ids import (
    OPERATOR,
    HttpTransport,
    Node,
    NodeRole,
    NotAuthorized,
    Principal,
    Resolver,
    Site,
    SiteLimits,
    SitePolicy,
    SiteRefused,
    SiteUnavailable,
    TemplateRegistry,
)
from indunet.ids.transport import SiteError
from indunet.web import AppState, build_state, create_app

LOOPBACK = SitePolicy.build(allow="127.0.0.0/8")
SECRET = "s3cret-key-for-tests"
AUTH = ("300%3A0.NA/88.100.1", SECRET)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class LocalSite:
    """A real TCP server on 127.0.0.1 that counts its connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> LocalSite:
        async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(r, w)
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                w.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def silent(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await r.readuntil(b"\r\n\r\n")
    await asyncio.sleep(30)


async def not_handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await r.readuntil(b"\r\n\r\n")
    w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
    await w.drain()


async def huge(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    """Announces 300 MiB of JSON and sends it as fast as the reader takes it."""
    await r.readuntil(b"\r\n\r\n")
    size = 300 * 1024 * 1024
    w.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {size}\r\nConnection: close\r\n\r\n".encode()
    )
    chunk = b'{"responseCode": 1, "handle": "' + b"x" * 65_000
    sent = 0
    while sent < size:
        w.write(chunk)
        await w.drain()
        sent += len(chunk)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the policy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://ids.example.com/", "scheme must be http or https"),
        ("file:///etc/passwd", "scheme must be http or https"),
        ("http://user:pw@ids.example.com/", "user name or password"),
        ("http://ids.example.com:22/", "port 22 is refused"),
        ("http://ids.example.com:99999/", "not a valid URL"),
        ("http://127.0.0.1:8000/", "address 127.0.0.1 is loopback"),
        ("http://[::1]:8000/", "address ::1 is loopback"),
        ("http://[::ffff:127.0.0.1]/", "is loopback"),
        ("http://169.254.169.254/latest/meta-data", "is link-local"),
        ("http://10.1.2.3/", "is private"),
        ("http://192.168.1.1/", "is private"),
        ("http://[fd00::1]/", "is private"),
        ("http://100.64.0.1/", r"shared \(CGNAT\)"),
        ("http://0.0.0.0/", "is unspecified"),
        ("http://224.0.0.1/", "is multicast"),
        ("http:///nohost", "has no host"),
    ],
)
def test_the_policy_refuses_urls_by_scheme_port_and_address(url: str, words: str) -> None:
    with pytest.raises(SiteRefused, match=words) as err:
        SitePolicy().check_url(url)
    assert err.value.status == 400


def test_the_policy_lets_public_sites_allowed_ranges_and_trusted_origins_pass() -> None:
    for url in ("https://ids.example.com/nodes/x", "http://93.184.216.34:8080", "http://ids:80"):
        SitePolicy().check_url(url)
    SitePolicy.build(allow="10.0.0.0/8, 127.0.0.1").check_url("http://10.9.9.9:8000/")
    SitePolicy.build(trusted=["http://127.0.0.1:8000"]).check_url("http://127.0.0.1:8000/nodes")
    with pytest.raises(SiteRefused, match="loopback"):  # another port of a trusted host is not
        SitePolicy.build(trusted=["http://127.0.0.1:8000"]).check_url("http://127.0.0.1:8001/")
    with pytest.raises(SiteRefused, match="site allow-list"):
        SitePolicy.build(allow="not-a-network")


async def test_a_name_that_resolves_to_loopback_is_refused_when_connecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name passes the write-time check; the connect-time check stops it when it resolves
    to loopback (DNS rebinding). ``rebind.example`` is made to resolve to 127.0.0.1 here."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        return await real("127.0.0.1" if host == "rebind.example" else host, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", rebinding)
    async with LocalSite(not_handle) as site:
        url = f"http://rebind.example:{site.port}"
        SitePolicy().check_url(url)
        transport = HttpTransport(1.0, SitePolicy())
        try:
            with pytest.raises(SiteError, match="is loopback"):
                await transport.query(url, "88.100.7/X")
        finally:
            await transport.close()
        assert site.connections == 0
        allowed = HttpTransport(1.0, LOOPBACK)  # the same site, allowed by the operator
        try:
            with pytest.raises(SiteError, match=r"not a handle response|without a JSON body"):
                await allowed.query(url, "88.100.7/X")
        finally:
            await allowed.close()
        assert site.connections == 1


def self_signed(tmp_path: Any, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for ``name``, and a client context trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cafile=str(cert_file))


async def test_https_sites_are_pinned_to_the_checked_address_and_verified_by_name(
    tmp_path: Any,
) -> None:
    """The request goes to the checked address, but TLS checks the site's own name."""
    body = b'{"responseCode": 1, "handle": "88.100.7/X", "values": []}'
    hosts: list[bytes] = []

    async def answer(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readuntil(b"\r\n\r\n")
        hosts.extend(line for line in head.split(b"\r\n") if line.lower().startswith(b"host:"))
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        await w.drain()

    good_server, good_client = self_signed(tmp_path, "localhost")
    other_server, other_client = self_signed(tmp_path, "other.example")
    good = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=good_server)
    other = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=other_server)
    port, other_port = (s.sockets[0].getsockname()[1] for s in (good, other))
    trusting = HttpTransport(2.0, LOOPBACK, tls=good_client)
    misnamed = HttpTransport(2.0, LOOPBACK, tls=other_client)
    try:
        found = await trusting.query(f"https://localhost:{port}", "88.100.7/X")
        assert found.rc == ids.RC.SUCCESS
        assert hosts == [f"Host: localhost:{port}".encode()]
        with pytest.raises(SiteError, match="Hostname mismatch"):
            await misnamed.query(f"https://localhost:{other_port}", "88.100.7/X")
        # Another name for the same address does not ride the connection checked for localhost.
        with pytest.raises(SiteError, match=r"IP address mismatch|Hostname mismatch"):
            await trusting.query(f"https://127.0.0.1:{port}", "88.100.7/X")
    finally:
        await trusting.close()
        await misnamed.close()
        good.close()
        other.close()


# -- limits ------------------------------------------------------------------------------


async def test_a_huge_answer_is_cut_off_at_the_cap() -> None:
    async with LocalSite(huge) as site:
        limits = SiteLimits(max_answer_bytes=256 * 1024)
        transport = HttpTransport(5.0, SitePolicy(LOOPBACK.allow, limits=limits))
        t0 = time.perf_counter()
        try:
            with pytest.raises(SiteError, match=r"answer larger than 262144 bytes"):
                await transport.query(site.url, "88.100.7/X")
        finally:
            await transport.close()
        assert time.perf_counter() - t0 < 3  # it stopped reading; 300 MiB were not taken


async def test_one_resolution_has_a_deadline_across_all_hops() -> None:
    async with LocalSite(silent) as a, LocalSite(silent) as b:
        transport = HttpTransport(10.0, LOOPBACK)  # each site alone could take 10 s
        resolver = Resolver([Site(a.url, True), Site(b.url)], transport, deadline=0.5)
        t0 = time.perf_counter()
        try:
            with pytest.raises(SiteUnavailable) as err:
                await resolver.resolve("88.100.7/X")
        finally:
            await transport.close()
        assert time.perf_counter() - t0 < 2
        assert err.value.message == "site unavailable: resolving 88.100.7/X took longer than 0.5 s"
        assert (err.value.status, err.value.code) == (502, "site_unavailable")


# -- through the Handle API --------------------------------------------------------------


@pytest.fixture
def loopback_state(tmp_path: Any) -> AppState:
    s = Settings(data_dir=tmp_path / "data", port=8000, site_allow="127.0.0.0/8", site_timeout=0.5)
    return build_state(s, platform=False)


@pytest.fixture
async def api(loopback_state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    with loopback_state.engine.begin() as conn:
        ent = core.create_enterprise(
            conn, uscc="91350100M000100Y43", name="示例", actor="test", verified=True
        )
    ids.allocate(loopback_state.hierarchy.front, "88.100.1", ent, actor="test", secret=SECRET)
    transport = httpx.ASGITransport(app=create_app(loopback_state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
    await loopback_state.hierarchy.close()
    loopback_state.engine.dispose()


def site_value(url: str, index: int = 11) -> dict[str, Any]:
    return {"index": index, "type": "HS_SITE", "data": {"format": "site", "value": {"url": url}}}


async def test_an_enterprise_key_cannot_create_a_derived_prefix(
    api: httpx.AsyncClient, loopback_state: AppState
) -> None:
    """The reported attack: ``0.NA/88.100.1.7`` with its own key and a site anywhere."""
    values = [
        site_value("http://169.254.169.254"),
        {"index": 300, "type": "HS_SECKEY", "data": {"format": "string", "value": "k" * 16}},
    ]
    resp = await api.put("/api/handles/0.NA/88.100.1.7", json={"values": values}, auth=AUTH)
    assert resp.status_code == 403 and resp.json()["responseCode"] == 400
    assert "only prefix administrators" in resp.json()["message"]
    assert loopback_state.hierarchy.front.store.get("0.NA/88.100.1.7") is None


async def test_only_prefix_administrators_change_hs_site(
    api: httpx.AsyncClient, loopback_state: AppState
) -> None:
    node = loopback_state.hierarchy.front
    # An ordinary record of the enterprise: no HS_SITE values from its key or its users.
    resp = await api.put(
        "/api/handles/88.100.1/X", json={"values": [site_value("https://e.example")]}, auth=AUTH
    )
    assert resp.status_code == 403 and "only prefix administrators" in resp.json()["message"]
    member = Principal(actor="user:li", prefixes=frozenset({"88.100.1"}))
    with pytest.raises(NotAuthorized, match="only prefix administrators"):
        node.put("88.100.1/Y", [site_value("https://e.example")], member)
    # The prefix's own key announcing its node, and a platform admin, may.
    own = await api.put(
        "/api/handles/0.NA/88.100.1?index=11&overwrite=false",
        json={"values": [site_value("https://ent.example.com")]},
        auth=AUTH,
    )
    assert own.status_code == 200, own.text
    node.put(
        "0.NA/88.100.1", [site_value("https://mirror.example.com", 12)], OPERATOR, indices=[12]
    )


async def test_a_site_url_outside_the_policy_is_refused_on_write(
    api: httpx.AsyncClient, loopback_state: AppState
) -> None:
    before = loopback_state.hierarchy.front.store.get("0.NA/88.100.1")
    resp = await api.put(
        "/api/handles/0.NA/88.100.1?index=11",
        json={"values": [site_value("http://169.254.169.254")]},
        auth=AUTH,
    )
    assert resp.status_code == 400 and "is link-local" in resp.json()["message"]
    assert loopback_state.hierarchy.front.store.get("0.NA/88.100.1") == before


async def test_anonymous_callers_cannot_tell_closed_silent_and_http_ports_apart(
    api: httpx.AsyncClient, loopback_state: AppState
) -> None:
    front = loopback_state.hierarchy.front
    async with LocalSite(silent) as quiet, LocalSite(not_handle) as web:
        sites = {
            "closed": f"http://127.0.0.1:{closed_port()}",
            "silent": quiet.url,
            "http": web.url,
        }
        answers = {}
        for i, (kind, url) in enumerate(sites.items(), start=2):
            ids.delegate(front, f"88.100.{i}", [url])
            resp = await api.get(f"/api/handles/88.100.{i}/X")
            assert resp.status_code == 502, (kind, resp.text)
            body = resp.json()
            answers[kind] = body["message"].replace(url, "<site>").replace(f"88.100.{i}", "<p>")
        assert set(answers.values()) == {
            "site unavailable: no site of prefix <p> answered (<site>)"
        }, answers
        detail = await api.get("/api/v1/resolve/88.100.4/X")  # the path view says no more
        assert "hello" not in detail.text and "JSON" not in detail.text


async def test_node_mounts_redirect_only_to_sites_that_pass_the_policy(
    api: httpx.AsyncClient, loopback_state: AppState
) -> None:
    front = loopback_state.hierarchy.front
    # A delegation stored before this policy existed (written here by a lenient node).
    lenient = Node(
        front.name,
        NodeRole.SECONDARY,
        front.prefix,
        front.engine,
        TemplateRegistry(front.engine),
        policy=SitePolicy.build(allow="0.0.0.0/0"),
    )
    ids.delegate(lenient, "88.100.8", ["http://10.0.0.5:8080", "https://ent.example.com"])
    ids.delegate(lenient, "88.100.9", ["http://192.168.7.7"])
    front.load_delegations()
    mixed = await api.get("/nodes/88.100/api/handles/88.100.8/X")
    assert mixed.status_code == 302
    assert mixed.headers["location"] == "https://ent.example.com/api/handles/88.100.8/X"
    bad = await api.get("/nodes/88.100/api/handles/88.100.9/X")
    assert bad.status_code == 502 and "location" not in bad.headers
    assert bad.json()["message"] == "site unavailable: no usable site for prefix 88.100.9"


@pytest.mark.parametrize(
    ("address", "verdict"),
    [
        ("64:ff9b::808:808", None),  # NAT64 of a public address: reachable on IPv6-only hosts
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
        ("fec0::1", "site-local"),
        ("2001:4860::8888", None),
    ],
)
def test_ipv6_forms_are_judged_by_the_address_they_carry(address: str, verdict: str | None) -> None:
    from indunet.ids.sites import _forbidden

    assert _forbidden(ipaddress.ip_address(address)) == verdict


@pytest.mark.parametrize(
    "url",
    [
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://127.0.0.1./",
        "http://localhost/",
        "http://" + "a" * 64 + ".example.com/",  # not a valid name: getaddrinfo's UnicodeError
        "http://a..b.example.com/",
    ],
)
def test_legacy_address_forms_and_invalid_names_are_refused_on_write(url: str) -> None:
    with pytest.raises(ids.SiteRefused):
        ids.SitePolicy.build().check_url(url)
