"""The GS1 Digital Link resolver through the app: records registered with the Handle REST API as
``<prefix>/GS1:<element string>`` answer ``/01/<gtin>…`` URIs with 307 redirects by link type
and language, RFC 9264 linksets, the less specific record when a qualified one is missing, and
400/404 with stable reasons for malformed or unknown identifiers."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from indunet import ids
from indunet.core.settings import Settings
from indunet.ids.events import RESOLUTIONS
from indunet.ids.syntax import gs1
from indunet.web import AppState, build_state, create_app

SECRET = "s3cret-key-for-tests"
AUTH = ("300%3A0.NA/88.100.1", SECRET)
BASE = "http://127.0.0.1:8000"
GTIN = "09506000134352"
SSCC = "106141411234567897"
LINKSET = "application/linkset+json"
VOC = "https://gs1.org/voc/"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", port=8000, gs1_prefixes="9506000=88.100.1, 0614141=88.100.1"
    )


def value(index: int, vtype: str, data: str, permissions: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"index": index, "type": vtype, "data": data}
    if permissions is not None:
        out["permissions"] = permissions
    return out


PRODUCT = [
    value(1, "URL", "https://brand.example/product"),
    value(2, "DESC", "有机番茄 Organic tomatoes"),
    value(3, "URL.gs1:pip.en", "https://brand.example/en/pip"),
    value(4, "URL.gs1:pip.zh-CN", "https://brand.example/zh/pip"),
    value(5, "URL.gs1:certificationInfo", "https://brand.example/cert"),
    value(6, "URL.gs1:recallStatus", "https://brand.example/recall", permissions="1100"),
    value(7, "URL.gs1:smpc", "javascript:alert(1)"),
]


IRI_GTIN = gs1.format("0950600013438")
IRI_VALUES = [
    value(1, "URL", "https://a.example/x\r\nSet-Cookie: taken=1"),
    value(2, "URL", "https://a.example/with space"),
    value(3, "URL.gs1:pip", "https://例子.example/路径?q=番茄"),
]


@pytest.fixture
async def client(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        for suffix, values in (
            (f"GS1:01/{GTIN}", PRODUCT),
            (
                f"GS1:01/{GTIN}/21/SN-1",
                [value(1, "URL.gs1:defaultLink", "https://brand.example/item/SN-1")],
            ),
            (f"GS1:01/{gs1.format('0950600013437')}", [value(2, "DESC", "no links here")]),
            (
                f"GS1:00/{SSCC}",
                [
                    value(1, "URL", "https://carrier.example/track"),
                    value(2, "URL.gs1:traceability", "https://carrier.example/epcis"),
                ],
            ),
            (f"GS1:01/{IRI_GTIN}", IRI_VALUES),
        ):
            put = await c.put(f"/api/handles/88.100.1/{suffix}", json={"values": values}, auth=AUTH)
            assert put.status_code == 201, put.text
        yield c


async def test_a_plain_request_redirects_to_the_default_link(client: httpx.AsyncClient) -> None:
    for path in (f"/01/{GTIN}", "/01/9506000134352"):  # a GTIN-13 is padded
        got = await client.get(path)
        assert got.status_code == 307, got.text
        assert got.headers["location"] == "https://brand.example/product"
        assert got.headers["link"] == (
            f'<{BASE}/01/{GTIN}?linkType=all>; rel="linkset"; type="{LINKSET}"'
        )
        assert got.headers["vary"] == "Accept, Accept-Language"


@pytest.mark.parametrize(
    ("link_type", "language", "location"),
    [
        ("gs1:pip", "zh-CN,zh;q=0.9,en;q=0.8", "https://brand.example/zh/pip"),
        ("gs1:pip", "en-GB,en;q=0.9", "https://brand.example/en/pip"),
        ("gs1:pip", "fr;q=0.9, zh;q=0.5", "https://brand.example/zh/pip"),
        (f"{VOC}pip", "", "https://brand.example/en/pip"),
        ("https://ref.gs1.org/voc/certificationInfo", "", "https://brand.example/cert"),
        ("gs1:CERTIFICATIONINFO", "", "https://brand.example/cert"),
        # absent, restricted (not public) or not a web URL: the default link
        ("gs1:epil", "", "https://brand.example/product"),
        ("gs1:recallStatus", "", "https://brand.example/product"),
        ("gs1:smpc", "", "https://brand.example/product"),
    ],
)
async def test_a_link_type_redirects_to_its_link_in_the_wanted_language(
    client: httpx.AsyncClient, link_type: str, language: str, location: str
) -> None:
    got = await client.get(
        f"/01/{GTIN}", params={"linkType": link_type}, headers={"Accept-Language": language}
    )
    assert got.status_code == 307, got.text
    assert got.headers["location"] == location


EXPECTED_LINKSET = {
    "linkset": [
        {
            "anchor": f"{BASE}/01/{GTIN}",
            f"{VOC}pip": [
                {
                    "href": "https://brand.example/en/pip",
                    "title": "有机番茄 Organic tomatoes",
                    "hreflang": ["en"],
                },
                {
                    "href": "https://brand.example/zh/pip",
                    "title": "有机番茄 Organic tomatoes",
                    "hreflang": ["zh-CN"],
                },
            ],
            f"{VOC}certificationInfo": [
                {"href": "https://brand.example/cert", "title": "有机番茄 Organic tomatoes"}
            ],
            f"{VOC}defaultLink": [
                {"href": "https://brand.example/product", "title": "有机番茄 Organic tomatoes"}
            ],
        }
    ]
}


async def test_link_type_all_or_the_linkset_media_type_answers_the_linkset(
    client: httpx.AsyncClient,
) -> None:
    for params, headers in (
        ({"linkType": "all"}, {}),
        ({}, {"Accept": f"{LINKSET}"}),
        ({}, {"Accept": "text/html;q=0.5, application/json"}),
    ):
        got = await client.get(f"/01/{GTIN}", params=params, headers=headers)
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == LINKSET
        assert got.json() == EXPECTED_LINKSET
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    got = await client.get(f"/01/{GTIN}", headers={"Accept": browser})
    assert got.status_code == 307


async def test_a_qualified_identifier_uses_its_own_record_or_the_less_specific_one(
    client: httpx.AsyncClient,
) -> None:
    own = await client.get(f"/01/{GTIN}/21/SN-1")
    assert own.headers["location"] == "https://brand.example/item/SN-1"
    ls = await client.get(f"/01/{GTIN}/21/SN-1", params={"linkType": "all"})
    assert ls.json()["linkset"][0] == {
        "anchor": f"{BASE}/01/{GTIN}/21/SN-1",
        f"{VOC}defaultLink": [
            {"href": "https://brand.example/item/SN-1", "title": "gs1:defaultLink"}
        ],
    }
    up = await client.get(f"/01/{GTIN}/22/2A/10/LOT%3C7%3E/21/SN-9", params={"linkType": "all"})
    assert up.status_code == 200
    # the anchor is the identifier asked for, its CSET 82 characters percent-encoded
    assert up.json()["linkset"][0]["anchor"] == f"{BASE}/01/{GTIN}/22/2A/10/LOT%3C7%3E/21/SN-9"
    assert up.json()["linkset"][0][f"{VOC}pip"] == EXPECTED_LINKSET["linkset"][0][f"{VOC}pip"]


async def test_other_primary_keys_resolve(client: httpx.AsyncClient) -> None:
    got = await client.get(f"/00/{SSCC}")
    assert got.status_code == 307 and got.headers["location"] == "https://carrier.example/track"
    ls = await client.get(f"/00/{SSCC}", params={"linkType": "all"})
    assert ls.json() == {  # no DESC: each title is its link type
        "linkset": [
            {
                "anchor": f"{BASE}/00/{SSCC}",
                f"{VOC}traceability": [
                    {"href": "https://carrier.example/epcis", "title": "gs1:traceability"}
                ],
                f"{VOC}defaultLink": [
                    {"href": "https://carrier.example/track", "title": "gs1:defaultLink"}
                ],
            }
        ]
    }


BAD = [
    (f"/01/{GTIN[:-1]}3", 400, "gs1_check_digit"),
    (f"/01/{GTIN}/21/%E6%89%B9", 400, "gs1_charset"),
    (f"/01/{GTIN}/21/%FF", 400, "gs1_charset"),
    (f"/01/{GTIN}/21/A%2FB", 400, "gs1_path"),
    (f"/01/{GTIN}/21/", 400, "gs1_path"),
    (f"/01/{GTIN}/21/S/10/L", 400, "gs1_ai_order"),
    (f"/01/{GTIN}/7003/2512310000", 400, "gs1_ai_unknown"),
    (f"/01/{GTIN}/21/" + "x" * 21, 400, "gs1_length"),
    ("/01/09506000134", 400, "gs1_length"),
    (f"/01/{GTIN}" + "/21/S" * 4, 400, "gs1_dl_too_long"),
    (f"/01/{GTIN}/21/" + "%41" * 200, 400, "gs1_dl_too_long"),
    (f"/01/{GTIN}?linkType=pip", 400, "gs1_dl_link_type"),
    (f"/01/{GTIN}?linkType=gs1:p%20ip", 400, "gs1_dl_link_type"),
    (f"/01/{GTIN}?linkType=" + "gs1:a" * 100, 400, "gs1_dl_link_type"),
    ("/01/04006381333931", 404, "gs1_dl_unmapped"),
    (f"/01/{gs1.format('0950600013436')}", 404, "gs1_dl_not_found"),
    (f"/01/{gs1.format('0950600013437')}/21/X", 404, "gs1_dl_no_links"),
    ("/414/9506000134352", 404, "gs1_dl_not_found"),
]


@pytest.mark.parametrize(("path", "status", "reason"), BAD)
async def test_malformed_or_unknown_identifiers_are_refused_with_a_reason(
    client: httpx.AsyncClient, path: str, status: int, reason: str
) -> None:
    got = await client.get(path)
    assert got.status_code == status, got.text
    assert got.json()["reason"] == reason


async def test_the_resolver_describes_itself(client: httpx.AsyncClient) -> None:
    got = await client.get("/.well-known/gs1resolver")
    assert got.status_code == 200
    body = got.json()
    assert body["resolverRoot"] == BASE
    assert body["supportedPrimaryKeys"] == ["00", "01", "414", "8003", "8004", "8018"]
    assert body["supportedLinkType"] == [{"namespace": VOC, "prefix": "gs1:"}]


async def test_link_targets_are_safe_in_a_location_header(client: httpx.AsyncClient) -> None:
    """Values with line breaks or spaces are no links; an IRI is sent as its URI."""
    got = await client.get(f"/01/{IRI_GTIN}")
    assert got.status_code == 307
    assert "set-cookie" not in got.headers
    encoded = "https://%E4%BE%8B%E5%AD%90.example/%E8%B7%AF%E5%BE%84?q=%E7%95%AA%E8%8C%84"
    assert got.headers["location"] == encoded
    ls = await client.get(f"/01/{IRI_GTIN}", params={"linkType": "all"})
    assert ls.json()["linkset"][0][f"{VOC}pip"] == [{"href": encoded, "title": "gs1:pip"}]


async def test_head_answers_like_get(client: httpx.AsyncClient) -> None:
    got = await client.head(f"/01/{GTIN}", params={"linkType": "gs1:certificationInfo"})
    assert got.status_code == 307 and got.headers["location"] == "https://brand.example/cert"


async def test_a_record_whose_node_is_down_is_502_not_500(tmp_path: Path) -> None:
    """The company prefix maps to a prefix delegated to a site that refuses connections."""
    s = Settings(
        data_dir=tmp_path / "dead",
        port=8000,
        site_allow="127.0.0.0/8",
        site_timeout=0.5,
        gs1_prefixes="9506000=88.100.9",
    )
    state = build_state(s, platform=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ids.delegate(state.hierarchy.front, "88.100.9", [f"http://127.0.0.1:{port}"])
    transport = httpx.ASGITransport(app=create_app(state))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            got = await c.get(f"/01/{GTIN}")
        assert got.status_code == 502, got.text
        assert got.json()["reason"] == "site_unavailable"
    finally:
        await state.hierarchy.close()


async def test_cors_and_options_as_the_resolver_standard_asks(client: httpx.AsyncClient) -> None:
    got = await client.get(f"/01/{GTIN}", headers={"Origin": "https://shop.example"})
    assert got.headers["access-control-allow-origin"] == "*"
    assert got.headers["access-control-expose-headers"] == "Link, Location"
    refused = await client.get(f"/01/{GTIN[:-1]}3")
    assert refused.status_code == 400 and refused.headers["access-control-allow-origin"] == "*"
    pre = await client.options(
        f"/01/{GTIN}",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"},
    )
    assert pre.status_code == 204
    assert pre.headers["allow"] == "GET, HEAD, OPTIONS"
    assert pre.headers["access-control-allow-headers"] == "Accept, Accept-Language"


async def test_each_digital_link_answer_is_noted_as_a_resolution(
    client: httpx.AsyncClient, state: AppState
) -> None:
    signal = state.signals.of(RESOLUTIONS)
    signal.take()  # what registering the records noted
    assert (await client.get(f"/01/{GTIN}")).status_code == 307
    missing = f"/01/{gs1.format('0950600013436')}"
    assert (await client.get(missing)).status_code == 404
    no_links = f"/01/{gs1.format('0950600013437')}/21/X"
    assert (await client.get(no_links)).status_code == 404
    event = signal.take()
    assert event is not None
    got = [(r["src"], r["handle"], r["outcome"], r["via"]) for r in event.data["records"]]
    assert got == [
        ("127.0.0.1", f"/01/{GTIN}", "success", "gs1"),
        ("127.0.0.1", missing, "failure", "gs1"),
        ("127.0.0.1", no_links, "success", "gs1"),  # registered: it exists, without links
    ]
