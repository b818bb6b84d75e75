"""What Handle.Net's HTTP interface has around the REST API, in-process: all-or-nothing DELETE,
OPTIONS and CORS, gzip, ``pretty`` and ``callback``, resolution by POST, and restricted values
read with credentials (``publicOnly=false``)."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from tests.web.test_handles_api import (
    API,
    AUTH,
    OTHER_AUTH,
    create,
    other_tenant,
    snapshot,
    text_value,
    url_value,
)

from indunet import ids
from indunet.web import AppState, create_app
from indunet.web.api.handle_http import GZIP_MINIMUM, scrub_callback

ORIGIN = "https://app.example.org"
JSONT = "application/json"
__all__ = ["other_tenant"]  # a fixture of the API tests, used here too


@pytest.fixture
async def client(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def restricted(index: int, vtype: str, value: str, permissions: str = "1100") -> dict[str, Any]:
    return text_value(index, vtype, value) | {"permissions": permissions}


# -- DELETE ------------------------------------------------------------------------------


async def test_delete_of_several_indexes_with_one_missing_removes_nothing(
    client: httpx.AsyncClient, state: AppState
) -> None:
    h = "88.100.1/DEL-ALL"
    await create(client, h, [url_value("https://x.example"), text_value(2, "EMAIL", "a@x.example")])
    before = snapshot(state)
    resp = await client.delete(f"{API}/{h}?index=2&index=7", auth=AUTH)
    assert resp.status_code == 400
    body = resp.json()
    assert body["responseCode"] == 200 and "[7]" in body["message"]
    assert "nothing was removed" in body["message"]
    assert snapshot(state) == before  # index 2 is still there, no audit entry
    ok = await client.delete(f"{API}/{h}?index=1,2", auth=AUTH)
    assert ok.status_code == 200
    assert [v["index"] for v in (await client.get(f"{API}/{h}")).json()["values"]] == [100]


# -- OPTIONS, CORS, gzip ------------------------------------------------------------------


async def test_options_lists_the_methods_and_a_preflight_is_allowed_as_handle_net_allows_it(
    client: httpx.AsyncClient,
) -> None:
    plain = await client.options(f"{API}/88.100.1/x")
    assert plain.status_code == 200
    assert plain.headers["allow"] == "GET, HEAD, POST, PUT, DELETE, OPTIONS"
    assert "access-control-allow-origin" not in plain.headers

    asked = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "Authorization, Content-Type",
    }
    pre = await client.options(f"{API}/88.100.1/x", headers=asked)
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == ORIGIN
    assert "PUT" in pre.headers["access-control-allow-methods"].split(",")
    assert pre.headers["access-control-max-age"] == "86400"
    assert "access-control-allow-credentials" not in pre.headers

    for other in (
        asked | {"Access-Control-Request-Method": "PATCH"},
        asked | {"Access-Control-Request-Headers": "Authorization, X-Evil"},
    ):
        refused = await client.options(f"{API}/88.100.1/x", headers=other)
        assert refused.status_code == 200 and "access-control-allow-origin" not in refused.headers

    # Only the Handle API's paths: the console answers OPTIONS as it always did.
    assert (
        "access-control-allow-origin" not in (await client.options("/login", headers=asked)).headers
    )


async def test_answers_to_another_origin_name_it_and_never_allow_credentials(
    client: httpx.AsyncClient,
) -> None:
    h = "88.100.1/CORS-1"
    await create(client, h, [url_value("https://x.example")])
    for _ in range(2):  # the second from the answer cache, before the routes
        resp = await client.get(f"{API}/{h}", headers={"Origin": ORIGIN})
        assert resp.status_code == 200
        assert resp.headers["access-control-allow-origin"] == ORIGIN
        assert "Location" in resp.headers["access-control-expose-headers"]
        assert "access-control-allow-credentials" not in resp.headers
    missing = await client.get(f"{API}/88.100.1/NONE", headers={"Origin": ORIGIN})
    assert missing.status_code == 404 and missing.headers["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-origin" not in (await client.get(f"{API}/{h}")).headers


async def test_large_answers_are_gzipped_for_clients_that_accept_it(
    client: httpx.AsyncClient,
) -> None:
    big = "https://x.example/" + "a" * (GZIP_MINIMUM * 2)
    await create(client, "88.100.1/GZ-BIG", [url_value(big)])
    await create(client, "88.100.1/GZ-SMALL", [url_value("https://x.example")])
    resp = await client.get(f"{API}/88.100.1/GZ-BIG", headers={"Accept-Encoding": "gzip"})
    assert resp.headers["content-encoding"] == "gzip"
    assert int(resp.headers["content-length"]) < len(big)
    assert resp.json()["values"][0]["data"]["value"] == big  # httpx inflated it
    small = await client.get(f"{API}/88.100.1/GZ-SMALL", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
    plain = await client.get(f"{API}/88.100.1/GZ-BIG", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert gzip.compress(plain.content)  # the identity body is the JSON itself
    assert plain.json() == resp.json()


# -- pretty and callback ------------------------------------------------------------------


async def test_pretty_indents_and_callback_wraps_the_same_answer(client: httpx.AsyncClient) -> None:
    h = "88.100.1/SHAPE-1"
    await create(client, h, [url_value("https://x.example")])
    plain = await client.get(f"{API}/{h}")
    pretty = await client.get(f"{API}/{h}?pretty=true")
    assert b"\n  " in pretty.content and b"\n" not in plain.content
    assert pretty.json() == plain.json()
    assert (await client.get(f"{API}/{h}?pretty")).content == pretty.content  # present, empty

    jsonp = await client.get(f"{API}/{h}?callback=show")
    assert jsonp.headers["content-type"].startswith("application/javascript")
    assert jsonp.content.startswith(b"show(") and jsonp.content.endswith(b");")
    assert orjson.loads(jsonp.content[5:-2]) == plain.json()

    missing = await client.get(f"{API}/88.100.1/NONE?callback=cb&pretty=yes")
    assert missing.status_code == 404 and missing.content.startswith(b"cb({\n")


@pytest.mark.parametrize(
    ("asked", "kept"),
    [
        ("show", "show"),
        ("a.b", "a_b"),
        ("1x", "_x"),
        ("x1$_", "x1$_"),
        ("</script>", "__script_"),
        ("名字", "名字"),
    ],
)
def test_callback_names_keep_only_what_handle_net_keeps(asked: str, kept: str) -> None:
    assert scrub_callback(asked) == kept


# -- POST ----------------------------------------------------------------------------------


async def test_post_resolves_with_its_parameters_in_a_json_or_form_body(
    client: httpx.AsyncClient,
) -> None:
    h = "88.100.1/POST-1"
    await create(
        client,
        h,
        [
            url_value("https://x.example"),
            text_value(2, "EMAIL", "a@x.example"),
            text_value(3, "DESC", "pump"),
        ],
    )
    by_json = await client.post(f"{API}/{h}", json={"type": ["URL"], "index": 3})
    assert by_json.status_code == 200
    assert [v["index"] for v in by_json.json()["values"]] == [1, 3]
    by_form = await client.post(f"{API}/{h}", data={"type": "EMAIL"})
    assert [v["index"] for v in by_form.json()["values"]] == [2]
    mixed = await client.post(f"{API}/{h}?index=1", json={"index": [2], "pretty": True})
    assert [v["index"] for v in mixed.json()["values"]] == [1, 2] and b"\n  " in mixed.content
    empty = await client.post(f"{API}/{h}")
    assert [v["index"] for v in empty.json()["values"]] == [1, 2, 3, 100]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[1, 2]", "post_not_object"),
        (b"{not json", "post_unreadable"),
        (b'{"type": {"a": 1}}', "post_param_kind"),
        (orjson.dumps({"index": list(range(1, 1200))}), "post_too_many"),
    ],
)
async def test_post_bodies_that_are_not_parameters_are_400_protocol_errors(
    client: httpx.AsyncClient, body: bytes, reason: str
) -> None:
    resp = await client.post(
        f"{API}/88.100.1/POST-X", content=body, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["responseCode"] == 4


async def test_post_bodies_are_bounded_and_pass_the_csrf_guard_as_reads(
    client: httpx.AsyncClient,
) -> None:
    h = "88.100.1/POST-2"
    await create(client, h, [url_value("https://x.example")])
    huge = await client.post(
        f"{API}/{h}", content=b"{" + b" " * 70_000 + b"}", headers={"Content-Type": JSONT}
    )
    assert huge.status_code == 413
    foreign = await client.post(f"{API}/{h}", json={}, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 200 and foreign.json()["values"][0]["index"] == 1
    # PUT from another origin without credentials is still refused by the CSRF guard
    put = await client.put(
        f"{API}/{h}", json={"values": []}, headers={"Origin": "https://evil.example"}
    )
    assert put.status_code == 403


# -- publicOnly=false ----------------------------------------------------------------------


async def test_restricted_values_are_read_with_credentials_and_the_read_right(
    client: httpx.AsyncClient, state: AppState, other_tenant: ids.Allocation
) -> None:
    h = "88.100.1/PRIV-1"
    await create(
        client,
        h,
        [url_value("https://x.example"), restricted(2, "EMAIL", "ops@x.example")],
    )
    anonymous = await client.get(f"{API}/{h}")
    assert [v["index"] for v in anonymous.json()["values"]] == [1, 100]

    owner = await client.get(f"{API}/{h}", auth=AUTH)  # credentials: publicOnly defaults false
    values = {v["index"]: v for v in owner.json()["values"]}
    assert sorted(values) == [1, 2, 100]  # HS_ADMIN too; the prefix's HS_SECKEY is elsewhere
    assert values[2]["permissions"] == "1100"  # unusual permissions are shown
    assert "permissions" not in values[1]
    assert all(v["type"] != "HS_SECKEY" for v in owner.json()["values"])

    public = await client.get(f"{API}/{h}?publicOnly=true", auth=AUTH)
    assert [v["index"] for v in public.json()["values"]] == [1, 100]
    filtered = await client.get(f"{API}/{h}?type=EMAIL", auth=AUTH)
    assert [v["index"] for v in filtered.json()["values"]] == [2]
    posted = await client.post(f"{API}/{h}", json={"publicOnly": False}, auth=AUTH)
    assert 2 in {v["index"] for v in posted.json()["values"]}

    stranger = await client.get(f"{API}/{h}", auth=OTHER_AUTH)
    assert stranger.status_code == 403 and stranger.json()["responseCode"] == 400
    assert "ops@x.example" not in stranger.text

    nobody = await client.get(f"{API}/{h}?publicOnly=false")
    assert nobody.status_code == 401 and nobody.json()["responseCode"] == 402
    wrong = await client.get(f"{API}/{h}", auth=(AUTH[0], "not-the-key"))
    assert wrong.status_code == 401 and "ops@x.example" not in wrong.text

    # A node that does not hold the record answers with credentials as without (a referral).
    via_root = await client.get(f"/nodes/root{API}/{h}", auth=AUTH, follow_redirects=False)
    anonymous_root = await client.get(f"/nodes/root{API}/{h}", follow_redirects=False)
    assert via_root.status_code == anonymous_root.status_code == 302
    assert via_root.json() == anonymous_root.json()

    jsonp = await client.get(f"{API}/{h}?callback=cb&publicOnly=false", auth=AUTH)
    assert b"ops@x.example" not in jsonp.content  # JSONP is never authenticated


async def test_a_value_nobody_may_read_refuses_the_read_unless_filtered_out(
    client: httpx.AsyncClient, state: AppState
) -> None:
    h = "88.100.1/PRIV-2"
    await create(
        client,
        h,
        [url_value("https://x.example"), restricted(2, "EMAIL", "x@x.example", "0100")],
    )
    shut = await client.get(f"{API}/{h}", auth=AUTH)
    assert shut.status_code == 403 and "[2]" in shut.json()["message"]
    assert "x@x.example" not in shut.text
    only_url = await client.get(f"{API}/{h}?type=URL", auth=AUTH)
    assert [v["index"] for v in only_url.json()["values"]] == [1]


# -- credentials over plain HTTP -----------------------------------------------------------


def _client(state: AppState, base: str, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(state), client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=base)


@pytest.mark.parametrize(
    ("rule", "base", "address", "refused"),
    [
        ("refuse", "http://testserver", "127.0.0.1", True),
        ("refuse", "https://testserver", "203.0.113.9", False),
        ("loopback", "http://testserver", "127.0.0.1", False),
        ("loopback", "http://testserver", "::1", False),
        ("loopback", "http://testserver", "203.0.113.9", True),
        ("loopback", "https://testserver", "203.0.113.9", False),
    ],
)
async def test_credentials_over_plain_http_are_refused_unless_allowed_for_loopback(
    state: AppState,
    allocation: ids.Allocation,
    rule: str,
    base: str,
    address: str,
    refused: bool,
) -> None:
    state.settings.plain_http_auth = rule  # type: ignore[assignment]
    before = snapshot(state)
    async with _client(state, base, address) as c:
        put = await c.put(
            f"{API}/88.100.1/TLS-1", json={"values": [url_value("https://x")]}, auth=AUTH
        )
        if refused:
            assert put.status_code == 403, put.text
            assert put.json()["reason"] == "plain_http_auth" and "https" in put.json()["message"]
            assert snapshot(state) == before  # nothing written, nothing audited
            read = await c.get(f"{API}/88.100.1/TLS-1", auth=AUTH)
            assert read.status_code == 403  # a read with credentials too: they were sent
            assert (await c.get(f"{API}/88.100.1/TLS-1")).status_code == 404  # none: fine
            cookie = await c.delete(f"{API}/88.100.1/TLS-1", cookies={"indunet_session": "x"})
            assert cookie.status_code == 403
        else:
            assert put.status_code == 201, put.text


# -- /api/site and /api/prefixes -------------------------------------------------------------


async def test_site_answers_the_node_in_handle_net_shape(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/site")
    assert resp.status_code == 200
    site = resp.json()["site"]
    assert resp.json()["responseCode"] == 1 and site["primarySite"] is True
    assert site["protocolVersion"] == "2.11" and site["version"] == 1
    (server,) = site["servers"]
    assert server["interfaces"] == [
        {"query": True, "admin": True, "protocol": "HTTP", "port": 8000}
    ]
    attrs = {a["name"]: a["value"] for a in site["attributes"]}
    assert attrs == {"domain": "127.0.0.1", "path": ""}
    node = (await client.get("/nodes/88/api/site")).json()["site"]
    assert {a["name"]: a["value"] for a in node["attributes"]}["path"] == "/nodes/88"
    assert (await client.get("/nodes/nowhere/api/site")).json()["responseCode"] == 301


async def test_prefixes_lists_what_the_caller_may_see_and_homing_is_refused(
    client: httpx.AsyncClient, state: AppState, other_tenant: ids.Allocation
) -> None:
    assert (await client.get("/api/prefixes")).status_code == 401
    mine = await client.get("/api/prefixes", auth=AUTH)
    assert mine.status_code == 200
    assert mine.json()["handles"] == ["0.NA/88.100.1"] and mine.json()["totalCount"] == "1"
    theirs = await client.get("/api/prefixes", auth=OTHER_AUTH)
    assert theirs.json()["handles"] == ["0.NA/88.100.2"]
    paged = await client.get("/api/prefixes?page=1&pageSize=1", auth=AUTH)
    assert paged.json()["handles"] == [] and paged.json()["page"] == 1
    assert (await client.get("/api/prefixes?pageSize=-1", auth=AUTH)).status_code == 400
    for method in ("POST", "DELETE"):
        homing = await client.request(method, "/api/prefixes/88.100.9", auth=AUTH)
        assert homing.status_code == 501 and homing.json()["responseCode"] == 5


async def test_a_cached_public_answer_does_not_stand_in_for_a_credentialed_read(
    client: httpx.AsyncClient,
) -> None:
    h = "88.100.1/PRIV-CACHE"
    await create(client, h, [url_value("https://x.example"), restricted(2, "EMAIL", "c@x.example")])
    for _ in range(2):  # the second anonymous read comes from the answer cache
        anonymous = await client.get(f"{API}/{h}")
        assert "c@x.example" not in anonymous.text
    owner = await client.get(f"{API}/{h}", auth=AUTH)
    assert "c@x.example" in owner.text
