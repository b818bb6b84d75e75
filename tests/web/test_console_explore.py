# ruff: noqa: F401, F811  (fixtures imported from test_console_platform are parameters here)
"""The telemetry explorer in-process: device search within the tenant, several points, ranges
in the page's zone, bounded series, exports of exactly the window, hostile input."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import httpx
import pyarrow.parquet as pq
import pytest
from tests.web.test_console_platform import (
    Fleet,
    admin_password,
    app_client,
    fleet,
    login,
)

from indunet.telemetry import Sample
from indunet.web.console.explore import MAX_POINTS, bucket_width, local_ms
from indunet.web.console.zones import zone


def config_of(html: str) -> dict[str, object]:
    m = re.search(r'<script type="application/json" id="explore-config">(.*?)</script>', html)
    assert m, "no chart config on the page"
    return json.loads(m.group(1))  # type: ignore[no-any-return]


def listed(html: str) -> list[str]:
    return re.findall(r'<li data-device="([^"]+)">', html)


def test_local_times_are_read_in_the_pages_zone() -> None:
    at = datetime(2026, 12, 6, 0, 30, tzinfo=UTC)
    assert local_ms("2026-12-06T08:30", zone("Asia/Shanghai"), "from") == at.timestamp() * 1000
    assert local_ms("2026-12-06T00:30", zone("UTC"), "from") == at.timestamp() * 1000
    for bad in ("yesterday", "2026-13-01T00:00", "1970-01-01T00:00", "2026-12-06T08:30+08:00", ""):
        with pytest.raises(Exception) as info:
            local_ms(bad, zone("UTC"), "from")
        assert getattr(info.value, "reason", None) == "explore_bad_time"


def test_buckets_keep_a_series_under_the_bound() -> None:
    for span in (3_600_000, 86_400_000, 31 * 86_400_000):
        assert span / bucket_width(span) <= MAX_POINTS
        assert bucket_width(span) % 1000 == 0


async def test_the_page_finds_devices_of_the_tenant_only(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "eu")
    page = await app_client.get("/platform/explore")
    assert page.status_code == 200
    assert listed(page.text) == ["cnc-0001", "env-0001"] and "meter-b1" not in page.text
    found = await app_client.get("/platform/explore", params={"q": "五轴"})
    assert listed(found.text) == ["cnc-0001"]
    hostile = await app_client.get("/platform/explore", params={"q": "%_\\" * 100})
    assert hostile.status_code == 200 and listed(hostile.text) == []
    other = await app_client.get("/platform/explore", params={"device": "meter-b1"})
    assert other.status_code == 404 and "active_power" not in other.text
    series = await app_client.get(
        "/platform/explore/series",
        params={"device": "meter-b1", "points": "active_power", "start": 0, "end": 1000},
    )
    assert series.status_code == 404 and "12.5" not in series.text
    export = await app_client.get(
        "/platform/explore/export",
        params={"device": "meter-b1", "points": "active_power", "start": 0, "end": 10**13},
    )
    assert export.status_code == 404 and "12.5" not in export.text


async def test_a_device_page_offers_points_and_a_window_in_the_zone(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "eu")
    app_client.cookies.set("tz", "Asia/Shanghai")
    page = await app_client.get(
        "/platform/explore",
        params={
            "device": "cnc-0001",
            "points": ["spindle_speed", "bearing_temp"],
            "from": "2026-12-06T08:00",
            "to": "2026-12-06T09:30",
        },
    )
    assert page.status_code == 200, page.text
    config = config_of(page.text)
    assert config["points"] == ["spindle_speed", "bearing_temp"]
    assert config["start"] == datetime(2026, 12, 6, 0, 0, tzinfo=UTC).timestamp() * 1000
    assert config["end"] == datetime(2026, 12, 6, 1, 30, tzinfo=UTC).timestamp() * 1000
    assert 'value="2026-12-06T08:00"' in page.text and 'value="2026-12-06T09:30"' in page.text
    assert 'name="points" value="program"' not in page.text  # strings are not charted
    preset = await app_client.get("/platform/explore", params={"device": "cnc-0001", "range": "7d"})
    c7 = config_of(preset.text)
    assert c7["end"] - c7["start"] == 7 * 86_400_000  # type: ignore[operator]
    assert c7["points"]  # points with data are chosen by default


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"from": "tomorrow"}, "不是有效的日期时间：tomorrow"),
        ({"from": "2026-12-06T10:00", "to": "2026-12-06T09:00"}, "结束时间必须晚于开始时间"),
        ({"from": "2026-01-01T00:00", "to": "2026-12-01T00:00"}, "时间范围最长 31 天"),
        ({"points": ["nope"]}, "没有数值测点 nope"),
        ({"points": ["program"]}, "没有数值测点 program"),
        ({"points": [f"p{i}" for i in range(20)]}, "最多 8 个测点"),
    ],
)
async def test_bad_ranges_and_points_are_named_in_the_readers_language(
    app_client: httpx.AsyncClient, fleet: Fleet, params: dict[str, object], reason: str
) -> None:
    await login(app_client, "eu")
    page = await app_client.get("/platform/explore", params={"device": "cnc-0001"} | params)
    assert page.status_code == 400
    assert reason in page.text
    for field in ("from", "to"):  # a refused range stays in its fields to be corrected
        if field in params:
            assert f'name="{field}" id="range-{field}" value="{params[field]}"' in page.text


async def test_series_are_raw_when_small_and_bucketed_when_not(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    base = 1_780_000_000_000
    fleet.platform.store.write_batch(
        [Sample("env-0001", "temperature", base + i * 1000, 20.0 + (i % 7)) for i in range(5000)]
        + [Sample("env-0001", "humidity", base + i * 60_000, 50.0) for i in range(10)]
    )
    await login(app_client, "eu")
    params = {"device": "env-0001", "points": "temperature,humidity"}
    answer = await app_client.get(
        "/platform/explore/series", params=params | {"start": base, "end": base + 5_000_000}
    )
    assert answer.status_code == 200, answer.text
    temp, hum = answer.json()["series"]
    assert temp["mode"] == "buckets" and len(temp["data"]) <= MAX_POINTS
    assert temp["unit"] == "°C" and hum["unit"] == "%RH"
    assert hum["mode"] == "raw" and len(hum["data"]) == 10
    narrow = await app_client.get(
        "/platform/explore/series", params=params | {"start": base, "end": base + 100_000}
    )
    assert narrow.json()["series"][0]["mode"] == "raw"
    assert len(narrow.json()["series"][0]["data"]) == 100
    for bad in ({"start": "x", "end": base}, {"start": base, "end": base}, {"start": -1}):
        refused = await app_client.get("/platform/explore/series", params=params | bad)
        assert refused.status_code == 400 and refused.json()["reason"].startswith("explore_")
        assert refused.json()["text"]  # in the reader's language
    too_long = params | {"start": base, "end": base + 40 * 86_400_000}
    assert (await app_client.get("/platform/explore/series", params=too_long)).status_code == 400


async def test_exports_hold_exactly_the_window_and_points(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    base = 1_780_000_000_000
    fleet.platform.store.write_batch(
        [Sample("env-0001", "temperature", base + i * 1000, 20.5) for i in range(100)]
        + [Sample("env-0001", "humidity", base + i * 1000, 40.0) for i in range(100)]
    )
    await login(app_client, "eu")
    window = {"device": "env-0001", "start": base + 10_000, "end": base + 20_000}
    got = await app_client.get(
        "/platform/explore/export", params=window | {"points": "temperature", "format": "csv"}
    )
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/csv")
    # The file is named by the window in the page's zone, not in milliseconds since 1970.
    named = 'attachment; filename="env-0001-20260529-042650-20260529-042700.csv"'
    assert got.headers["content-disposition"] == named
    rows = [r for r in csv.DictReader(io.StringIO(got.text)) if r["quality"] != "gap"]
    assert len(rows) == 10 and {r["point"] for r in rows} == {"temperature"}
    assert min(int(r["ts_ms"]) for r in rows) == base + 10_000
    assert max(int(r["ts_ms"]) for r in rows) == base + 19_000
    parquet = await app_client.get(
        "/platform/explore/export",
        params=window | {"points": ["temperature", "humidity"], "format": "parquet"},
    )
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.num_rows == 20 and set(table.column("point").to_pylist()) == {
        "temperature",
        "humidity",
    }
    for bad in (
        {"format": "xlsx", "points": "temperature"},
        {"format": "csv"},
        {"format": "csv", "points": "temperature", "end": base + 60 * 86_400_000},
    ):
        refused = await app_client.get("/platform/explore/export", params=window | bad)
        assert refused.status_code == 400 and "text/html" in refused.headers["content-type"]
