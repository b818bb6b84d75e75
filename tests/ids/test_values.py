"""Typed handle values: formats, limits, permissions, and their REST JSON shape."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from indunet.ids import HandleValue, InvalidValue, ValueExists, parse_values
from indunet.ids import values as v


def _one(**raw: Any) -> HandleValue:
    return v.parse_value({"index": 1, "type": "URL", **raw}, timestamp="2026-01-01T00:00:00Z")


def _refused(raw: Any) -> str:
    with pytest.raises(InvalidValue) as err:
        parse_values(raw)
    assert err.value.rc == 202 and err.value.status == 400
    return err.value.message


def test_rest_shape_round_trips() -> None:
    value = _one(data={"format": "string", "value": "https://example.cn/x"}, ttl=60)
    assert value.to_json() == {
        "index": 1,
        "type": "URL",
        "data": {"format": "string", "value": "https://example.cn/x"},
        "ttl": 60,
        "timestamp": "2026-01-01T00:00:00Z",
    }
    stored = value.to_json(with_permissions=True)
    assert stored["permissions"] == "1110"
    assert HandleValue.from_stored(stored) == value


def test_plain_data_is_a_string_and_admin_data_an_admin_value() -> None:
    assert _one(data="https://example.cn").format == "string"
    admin = v.parse_value({"index": 100, "type": "HS_ADMIN", "data": {"handle": "0.NA/88.1"}})
    assert admin.format == "admin"
    assert admin.value == {"handle": "0.NA/88.1", "index": 0, "permissions": "011111110011"}


def test_binary_formats_are_checked() -> None:
    blob = base64.b64encode(b"\x00\x01").decode()
    assert _one(data={"format": "base64", "value": blob}).value == blob
    assert _one(data={"format": "hex", "value": "00ff"}).value == "00ff"
    assert "not valid base64" in _refused(
        [{"index": 1, "type": "X/Y", "data": {"format": "base64", "value": "***"}}]
    )
    assert "not valid hex" in _refused(
        [{"index": 1, "type": "X/Y", "data": {"format": "hex", "value": "0g"}}]
    )


def test_site_values_need_an_http_url() -> None:
    site = v.parse_value(
        {
            "index": 10,
            "type": "HS_SITE",
            "data": {"format": "site", "value": {"url": "http://n:1/x/", "primary": 1}},
        }
    )
    assert site.value == {"url": "http://n:1/x", "primary": True, "name": ""}
    assert "must start with http:// or https://" in _refused(
        [{"index": 10, "type": "HS_SITE", "data": {"format": "site", "value": {"url": "ftp://n"}}}]
    )
    assert "HS_SITE data must have format 'site'" in _refused(
        [{"index": 10, "type": "HS_SITE", "data": {"format": "string", "value": "http://n"}}]
    )
    assert "a site value needs a 'url'" in _refused(
        [{"index": 10, "type": "HS_SITE", "data": "http://n"}]
    )
    bare = v.parse_value({"index": 11, "type": "HS_SITE", "data": {"url": "https://m"}})
    assert (bare.format, bare.value["url"]) == ("site", "https://m")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (
            {"index": 1, "type": "URL", "data": {"format": "xml", "value": "<a/>"}},
            "unknown data format 'xml'; use one of string, base64, hex, key, admin, site",
        ),
        (
            {"index": 1, "type": "URL", "data": {"format": "string", "value": 5}},
            "a string value must be text",
        ),
        (
            {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {}}},
            "an admin value needs 'handle'",
        ),
        (
            {
                "index": 100,
                "type": "HS_ADMIN",
                "data": {"format": "admin", "value": {"handle": "0.NA/1", "permissions": "111"}},
            },
            "12 characters of 0 and 1",
        ),
        (
            {
                "index": 100,
                "type": "HS_ADMIN",
                "data": {"format": "admin", "value": {"handle": "0.NA/1", "index": "x"}},
            },
            "admin 'index' must be an integer",
        ),
        (
            {"index": 0, "type": "URL", "data": "x"},
            "value index 0 must be between 1 and 2147483647",
        ),
        ({"index": 2**31, "type": "URL", "data": "x"}, "must be between 1 and 2147483647"),
        ({"type": "URL", "data": "x"}, "each value needs an integer 'index'"),
        ({"index": "two", "type": "URL", "data": "x"}, "each value needs an integer 'index'"),
        ({"index": True, "type": "URL", "data": "x"}, "each value needs an integer 'index'"),
        ({"index": 1.5, "type": "URL", "data": "x"}, "each value needs an integer 'index'"),
        ({"index": 1, "type": "", "data": "x"}, "'type' must be 1-128 characters"),
        ({"index": 1, "type": "T" * 129, "data": "x"}, "'type' must be 1-128 characters"),
        (
            {"index": 1, "type": "URL", "data": "x", "ttl": -1},
            "ttl must be a whole number of seconds",
        ),
        (  # a string ttl is a time (Handle.Net's absolute TTL), and "60" is none
            {"index": 1, "type": "URL", "data": "x", "ttl": "60"},
            "ttl '60' is neither a whole number of seconds nor a time",
        ),
        ({"index": 1, "type": "URL", "data": "x", "ttl": True}, "ttl must be a whole number"),
        (
            {"index": 1, "type": "URL", "data": "x", "permissions": "11"},
            "permissions must be four characters of 0 and 1",
        ),
        (
            {"index": 1, "type": "URL", "data": "x", "permissions": "11x0"},
            "four characters of 0 and 1",
        ),
        ("not an object", "each value must be an object"),
    ],
)
def test_bad_values_name_the_problem(raw: Any, fragment: str) -> None:
    assert fragment in _refused([raw])


def test_where_names_index_and_type() -> None:
    assert _refused(
        [{"index": 7, "type": "EMAIL", "data": {"format": "string", "value": 1}}]
    ).startswith("value 7 (EMAIL):")


def test_size_limits() -> None:
    limit = v.MAX_VALUE_BYTES
    assert len(_one(data="a" * limit).value) == limit
    assert f"value is {limit + 1} bytes; the limit is {limit}" in _refused(
        [{"index": 1, "type": "DESC", "data": "a" * (limit + 1)}]
    )
    assert "value is 65536 bytes" in _refused(
        [{"index": 1, "type": "DESC", "data": "é" * (limit // 2 + 1)}]
    )
    big = base64.b64encode(b"\x00" * (limit + 1)).decode()
    assert f"value is {limit + 1} bytes" in _refused(
        [{"index": 1, "type": "X/Y", "data": {"format": "base64", "value": big}}]
    )


def test_a_record_holds_at_most_256_values() -> None:
    ok = [{"index": i, "type": "DESC", "data": "x"} for i in range(1, 257)]
    assert len(parse_values(ok)) == 256
    assert "at most 256 values; got 257" in _refused(
        [*ok, {"index": 999, "type": "DESC", "data": "x"}]
    )


def test_duplicate_index_is_refused_as_handle_net_does() -> None:
    """Handle.Net's server: an index conflict is VALUE_ALREADY_EXISTS (201), HTTP 409."""
    raw = [{"index": 2, "type": "URL", "data": "a"}, {"index": 2, "type": "DESC", "data": "b"}]
    with pytest.raises(ValueExists) as err:
        parse_values(raw)
    assert (err.value.rc, err.value.status) == (201, 409)
    assert err.value.message == "index 2 appears twice"


def test_an_absolute_ttl_round_trips_through_storage_in_utc() -> None:
    value = _one(data="x", ttl="2030-01-01T08:00:00+08:00")
    assert value.ttl_absolute and value.to_json()["ttl"] == "2030-01-01T00:00:00Z"
    stored = HandleValue.from_stored(value.to_json(with_permissions=True))
    assert stored == value


def test_values_must_be_a_list() -> None:
    assert _refused({"index": 1}) == "'values' must be a list"


def test_one_write_shares_one_timestamp() -> None:
    parsed = parse_values(
        [{"index": 1, "type": "URL", "data": "a"}, {"index": 2, "type": "DESC", "data": "b"}]
    )
    assert parsed[0].timestamp == parsed[1].timestamp
    assert parsed[0].timestamp.endswith("Z")


def test_secret_keys_are_never_public() -> None:
    key = v.parse_value(
        {"index": 300, "type": "HS_SECKEY", "data": "secret", "permissions": "1111"}
    )
    assert key.permissions == "1100"
    assert not key.public_read
    default = v.parse_value({"index": 300, "type": "HS_SECKEY", "data": "secret"})
    assert default.permissions == "1100"
    assert _one(data="x").public_read


def test_a_key_value_is_base64_bytes_as_handle_net_answers_an_hs_pubkey() -> None:
    raw = {"index": 300, "type": "HS_PUBKEY", "data": {"format": "key", "value": "AAAAC0RT"}}
    parsed = v.parse_value(raw)
    assert parsed.format == "key"
    assert parsed.to_json()["data"] == {"format": "key", "value": "AAAAC0RT"}
    with pytest.raises(InvalidValue) as err:
        v.parse_value({**raw, "data": {"format": "key", "value": "not base64!"}})
    assert err.value.reason == "value_bad_encoding"
