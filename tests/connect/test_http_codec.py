"""The HTTP ingest body codec: rows, columns, times, compression and every shape error."""

from __future__ import annotations

import gzip
import zlib

import orjson
import pytest

from indunet.connect import (
    PayloadInvalid,
    PayloadTooLarge,
    decode_telemetry,
    inflate_body,
)
from indunet.telemetry import Sample

T = 1_700_000_000_000
NOW = 1_700_000_500_000


def body(doc: object) -> bytes:
    return orjson.dumps(doc)


def test_rows_decode_with_defaults_and_iso_times() -> None:
    batch = decode_telemetry(
        body(
            {
                "samples": [
                    {"device": "d1", "point": "temp", "ts": T, "value": 21.5},
                    {"device": "d1", "point": "ok", "ts": "2023-11-14T22:13:20Z", "value": True},
                    {
                        "device": "d2",
                        "point": "mode",
                        "ts": "2023-11-14T22:13:20.5",
                        "value": "a",
                        "quality": 1,
                    },
                    {"device": "d2", "point": "n", "value": 3},
                ]
            }
        ),
        now_ms=NOW,
    )
    assert batch.samples == [
        Sample("d1", "temp", T, 21.5),
        Sample("d1", "ok", T, True),
        Sample("d2", "mode", T + 500, "a", 1),
        Sample("d2", "n", NOW, 3),
    ]
    assert batch.devices == {"d1", "d2"}
    assert all(type(s) is Sample for s in batch.samples)


def test_rows_keep_what_the_pipeline_judges() -> None:
    """Odd values and unreadable times are passed on, so only that sample is dead-lettered."""
    batch = decode_telemetry(
        body({"samples": [{"device": "d", "point": "p", "ts": "yesterday", "value": {"x": 1}}]})
    )
    assert batch.samples == [Sample("d", "p", "yesterday", {"x": 1})]  # type: ignore[arg-type]


def test_columns_decode_one_block_skipping_nulls() -> None:
    batch = decode_telemetry(
        body(
            {
                "device": "gw-1",
                "ts": [T, T + 1000, "2023-11-14T22:13:22+00:00"],
                "points": {"temp": [20.0, None, 20.2], "run": [True, True, False]},
                "quality": {"temp": [0, 0, 2]},
            }
        )
    )
    assert batch.samples == [
        Sample("gw-1", "temp", T, 20.0),
        Sample("gw-1", "temp", T + 2000, 20.2, 2),
        Sample("gw-1", "run", T, True),
        Sample("gw-1", "run", T + 1000, True),
        Sample("gw-1", "run", T + 2000, False),
    ]
    assert batch.devices == {"gw-1"}


def test_an_array_of_blocks_carries_several_devices() -> None:
    batch = decode_telemetry(
        body(
            [
                {"device": "a", "ts": [T], "points": {"x": [1]}},
                {"device": "b", "ts": [T, T + 1], "points": {"y": [2, 3]}},
            ]
        )
    )
    assert [(s.device, s.point, s.value) for s in batch.samples] == [
        ("a", "x", 1),
        ("b", "y", 2),
        ("b", "y", 3),
    ]
    assert batch.devices == {"a", "b"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not JSON"),
        (b"", "not JSON"),
        (body(42), "expected"),
        (body({"values": []}), "expected"),
        (body({"samples": {}}), "samples must be an array"),
        (body({"samples": [7]}), "samples[0] must be an object"),
        (body({"samples": [{"point": "p", "value": 1}]}), "samples[0].device must be a string"),
        (
            body({"samples": [{"device": "d", "point": 3, "value": 1}]}),
            "samples[0].point must be a string",
        ),
        (
            body(
                {
                    "samples": [
                        {"device": "d", "point": "p", "value": 1},
                        {"device": "d", "point": "p"},
                    ]
                }
            ),
            "samples[1] has no value",
        ),
        (body({"device": 5, "ts": [], "points": {}}), "device must be a string"),
        (body({"device": "d", "ts": 5, "points": {}}), "ts must be an array"),
        (body({"device": "d", "ts": [T], "points": []}), "points must be an object"),
        (
            body({"device": "d", "ts": [T, T + 1], "points": {"x": [1]}}),
            "points.x must be an array of 2 values",
        ),
        (
            body({"device": "d", "ts": [T], "points": {"x": 1}}),
            "points.x must be an array of 1 values",
        ),
        (
            body({"device": "d", "ts": [T], "points": {"x": [1]}, "quality": {"x": [0, 0]}}),
            "quality.x",
        ),
        (
            body({"device": "d", "ts": [T], "points": {"x": [1]}, "quality": [0]}),
            "quality must be an object",
        ),
        (body([{"device": "d", "ts": [T], "points": {}}, 3]), "[1] must be an object"),
        (body([{"device": "d", "ts": [T], "points": {"x": []}}]), "[0].points.x"),
    ],
)
def test_bad_shapes_name_the_problem(raw: bytes, message: str) -> None:
    with pytest.raises(PayloadInvalid) as err:
        decode_telemetry(raw)
    assert message in err.value.message
    assert err.value.status == 400


def test_gzip_and_deflate_bodies_inflate_within_the_limit() -> None:
    raw = body({"device": "d", "ts": [T], "points": {"x": [1]}})
    assert inflate_body(gzip.compress(raw), "gzip", 1000) == raw
    assert inflate_body(zlib.compress(raw), "deflate", 1000) == raw
    assert inflate_body(raw, "", 1000) == raw
    with pytest.raises(PayloadTooLarge):
        inflate_body(gzip.compress(b" " * 10_000), "gzip", 1000)
    with pytest.raises(PayloadInvalid, match="corrupt"):
        inflate_body(b"not gzip at all", "gzip", 1000)
    with pytest.raises(PayloadInvalid, match="not supported"):
        inflate_body(raw, "br", 1000)
