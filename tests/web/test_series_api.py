"""Reading telemetry over HTTP: latest, samples, downsample, export; who may read what."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.conftest import bearer

from indunet import core, ids
from indunet.core import Role
from indunet.telemetry import BAD, Sample, SqliteStore, TimeSeriesStore
from indunet.web import AppState, create_app

T0 = 1_714_550_400_000  # 2024-05-01T08:00:00Z
ISO0 = "2024-05-01T08:00:00Z"
MIN = 60_000
METER = {
    "id": "meter-1",
    "name": "1号电表",
    "model": "indunet:power-meter",
    "connection": {"host": "127.0.0.1", "port": 1502},
}


@pytest.fixture
def store(state: AppState) -> Iterator[TimeSeriesStore]:
    """The platform's own store (SQLite in the test data dir), with a few samples."""
    assert state.platform is not None
    s: TimeSeriesStore = state.platform.store
    assert isinstance(s, SqliteStore)
    s.write_batch(
        [Sample("meter-1", "power_kw", T0 + i * 10_000, float(i)) for i in range(60)]
        + [
            Sample("meter-1", "breaker_on", T0, True),
            Sample("meter-1", "status", T0, "正常"),
            Sample("meter-1", "power_kw", T0 + 600_000, -1.0, BAD),
        ]
    )
    yield s
    s.close()


@pytest.fixture
async def client(
    state: AppState, allocation: ids.Allocation, store: TimeSeriesStore
) -> AsyncIterator[httpx.AsyncClient]:
    assert state.platform is not None
    state.platform.devices.create(allocation.enterprise_id, METER, actor="test")
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def who(state: AppState, enterprise: core.Enterprise) -> dict[str, Any]:
    with state.engine.begin() as conn:
        other = core.create_enterprise(
            conn, uscc=core.make_uscc("91110108MA01ABCD"), name="B", actor="t", verified=True
        )
    return {
        "admin": bearer(state.engine, "root", Role.PLATFORM_ADMIN),
        "regulator": bearer(state.engine, "reg", Role.REGULATOR),
        "ent_user": bearer(state.engine, "eu", Role.ENTERPRISE_USER, enterprise.id),
        "other_admin": bearer(state.engine, "oa", Role.ENTERPRISE_ADMIN, other.id),
    }


async def test_latest_for_readers_of_the_device(
    client: httpx.AsyncClient, who: dict[str, Any]
) -> None:
    for role in ("admin", "regulator", "ent_user"):
        resp = await client.get("/api/v1/devices/meter-1/latest", headers=who[role])
        assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["device"] == "meter-1"
    assert body["points"] == {
        "breaker_on": {"ts": T0, "value": True, "quality": 0},
        "power_kw": {"ts": T0 + 600_000, "value": -1.0, "quality": BAD},
        "status": {"ts": T0, "value": "正常", "quality": 0},
    }
    some = await client.get(
        "/api/v1/devices/meter-1/latest?points=status,nothing", headers=who["ent_user"]
    )
    assert list(some.json()["points"]) == ["status"]


async def test_other_enterprises_and_unknown_devices_are_not_found(
    client: httpx.AsyncClient, who: dict[str, Any]
) -> None:
    paths = [
        "/api/v1/devices/{d}/latest",
        "/api/v1/devices/{d}/points/power_kw/samples",
        "/api/v1/devices/{d}/points/power_kw/downsample",
        "/api/v1/devices/{d}/export",
    ]
    for path in paths:
        hidden = await client.get(path.format(d="meter-1"), headers=who["other_admin"])
        assert hidden.status_code == 404 and "meter-1" in hidden.json()["message"]
        unknown = await client.get(path.format(d="ghost-9"), headers=who["admin"])
        assert unknown.status_code == 404 and "ghost-9" in unknown.json()["message"]
    assert (await client.get("/api/v1/devices/meter-1/latest")).status_code == 401


async def test_samples_in_a_window_with_paging(
    client: httpx.AsyncClient, who: dict[str, Any]
) -> None:
    url = "/api/v1/devices/meter-1/points/power_kw/samples"
    resp = await client.get(
        url, params={"start": ISO0, "end": str(T0 + 30_000), "limit": 2}, headers=who["ent_user"]
    )
    body = resp.json()
    assert resp.status_code == 200, resp.text
    assert body["start"] == T0 and body["end"] == T0 + 30_000
    assert body["samples"] == [
        {"ts": T0, "value": 0.0, "quality": 0},
        {"ts": T0 + 10_000, "value": 1.0, "quality": 0},
    ]
    rest = await client.get(
        url, params={"start": body["next"], "end": T0 + 30_000}, headers=who["ent_user"]
    )
    assert [s["value"] for s in rest.json()["samples"]] == [2.0]
    assert rest.json()["next"] is None
    naive = await client.get(
        url, params={"start": "2024-05-01T08:09:50", "end": "2024-05-01T16:10:00.001+08:00"},
        headers=who["admin"],
    )  # fmt: skip
    assert [s["ts"] for s in naive.json()["samples"]] == [T0 + 590_000, T0 + 600_000]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"start": ISO0, "end": "2024-05-01T07:00:00Z"}, "end"),
        ({"start": "yesterday"}, "start"),
        ({"start": ISO0, "end": "1st of May"}, "end"),
        ({"limit": 0}, "limit"),
    ],
)
async def test_bad_sample_windows_are_400_naming_the_parameter(
    client: httpx.AsyncClient, who: dict[str, Any], params: dict[str, Any], parameter: str
) -> None:
    resp = await client.get(
        "/api/v1/devices/meter-1/points/power_kw/samples", params=params, headers=who["admin"]
    )
    assert resp.status_code == 400
    assert resp.json()["detail"] == {"parameter": parameter}
    assert parameter in resp.json()["message"]


async def test_downsample_buckets(client: httpx.AsyncClient, who: dict[str, Any]) -> None:
    url = "/api/v1/devices/meter-1/points/power_kw/downsample"
    window = {"start": ISO0, "end": T0 + 20 * MIN}
    minutes = (
        await client.get(url, params={**window, "bucket": "1m"}, headers=who["admin"])
    ).json()
    assert minutes["bucket_ms"] == MIN
    assert minutes["buckets"][0] == {
        "start": T0, "min": 0.0, "max": 5.0, "avg": 2.5, "count": 6, "first": 0.0, "last": 5.0,
    }  # fmt: skip
    assert len(minutes["buckets"]) == 10  # the BAD sample at minute 10 is left out
    for bucket, width in (("5m", 5 * MIN), ("1h", 3_600_000), ("90000", 90_000)):
        resp = await client.get(url, params={**window, "bucket": bucket}, headers=who["ent_user"])
        assert resp.json()["bucket_ms"] == width
        assert sum(b["count"] for b in resp.json()["buckets"]) == 60
    bad = await client.get(url, params={**window, "bucket": "fortnight"}, headers=who["admin"])
    assert bad.status_code == 400 and bad.json()["detail"] == {"parameter": "bucket"}
    text = await client.get(
        "/api/v1/devices/meter-1/points/status/downsample", params=window, headers=who["admin"]
    )
    assert text.status_code == 400 and "'status'" in text.json()["message"]


async def test_export_csv_and_parquet(client: httpx.AsyncClient, who: dict[str, Any]) -> None:
    url = "/api/v1/devices/meter-1/export"
    window = {"start": T0, "end": T0 + 20 * MIN}
    resp = await client.get(url, params={**window, "format": "csv"}, headers=who["ent_user"])
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    assert 'filename="meter-1-' in resp.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(resp.text)))
    assert rows[0] == ["device", "point", "ts_iso", "ts_ms", "value", "quality"]
    assert rows[1] == ["meter-1", "breaker_on", "2024-05-01T08:00:00.000Z", str(T0), "true", "0"]
    assert len(rows) == 1 + 1 + 61 + 1 and rows[-1][2:] == [
        "2024-05-01T08:00:00.000Z", str(T0), "正常", "0",
    ]  # fmt: skip
    some = await client.get(
        url, params={**window, "format": "parquet", "points": "power_kw,status"},
        headers=who["regulator"],
    )  # fmt: skip
    assert some.status_code == 200
    table = pq.read_table(io.BytesIO(some.content))
    assert table.schema.field("ts").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("value").type == pa.float64()
    assert table.num_rows == 62
    assert table.column("value_text").to_pylist()[-1] == "正常"
    bad = await client.get(url, params={"format": "xlsx"}, headers=who["admin"])
    assert bad.status_code == 400 and bad.json()["detail"] == {"parameter": "format"}
