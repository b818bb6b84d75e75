"""Identifier operations in the console: enterprise review, prefix revoke and key rotation,
bulk registration by upload (progress, error report), statistics per day, tenancy."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import httpx
import pytest
from tests.conftest import USCC_B, until
from tests.web.test_console import log_in

from indunet import core, ids
from indunet.ids import daily
from indunet.web import AppState, create_app
from indunet.web.console import idsbulk

SECRET = "s3cret-key-for-tests"
PASSWORD = "a-long-enough-password-1"


def url_value(url: str, index: int = 1) -> dict[str, Any]:
    return {"index": index, "type": "URL", "data": {"format": "string", "value": url}}


@pytest.fixture
async def client(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def other(state: AppState) -> core.Enterprise:
    """A second enterprise that registered itself: not yet reviewed."""
    with state.engine.begin() as conn:
        return core.create_enterprise(conn, uscc=USCC_B, name="北京示例科技有限公司", actor="self")


def make_user(state: AppState, name: str, role: core.Role, enterprise_id: int | None) -> None:
    with state.engine.begin() as conn:
        core.create_user(
            conn,
            username=name,
            password=PASSWORD,
            role=role,
            actor="test",
            enterprise_id=enterprise_id,
        )


@pytest.fixture
async def admin(client: httpx.AsyncClient, state: AppState) -> httpx.AsyncClient:
    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
    assert password is not None
    assert (await log_in(client, "admin", password)).status_code == 303
    return client


@asynccontextmanager
async def as_user(
    state: AppState, name: str, role: core.Role, enterprise_id: int | None
) -> AsyncIterator[httpx.AsyncClient]:
    make_user(state, name, role, enterprise_id)
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        assert (await log_in(c, name, PASSWORD)).status_code == 303
        yield c


# -- enterprises and real-name review -------------------------------------------------------


async def test_review_rejects_with_a_reason_then_approves(
    admin: httpx.AsyncClient, state: AppState, other: core.Enterprise
) -> None:
    listed = await admin.get("/ids/enterprises", params={"state": "pending"})
    assert listed.status_code == 200
    assert other.name in listed.text and "厦门示例机床有限公司" not in listed.text
    page = await admin.get(f"/ids/enterprises/{other.id}")
    assert page.status_code == 200 and "待审核" in page.text
    no_reason = await admin.post(
        f"/ids/enterprises/{other.id}/review", data={"decision": "reject", "reason": "  "}
    )
    assert no_reason.status_code == 400
    assert "驳回须填写企业可据以改正的理由" in no_reason.text
    too_long = await admin.post(
        f"/ids/enterprises/{other.id}/review", data={"decision": "reject", "reason": "x" * 501}
    )
    assert too_long.status_code == 400
    odd = await admin.post(f"/ids/enterprises/{other.id}/review", data={"decision": "maybe"})
    assert odd.status_code == 400
    rejected = await admin.post(
        f"/ids/enterprises/{other.id}/review",
        data={"decision": "reject", "reason": "营业执照照片不清晰"},
    )
    assert rejected.status_code == 303
    page = await admin.get(rejected.headers["location"])
    assert "已驳回" in page.text and "营业执照照片不清晰" in page.text
    with state.engine.connect() as conn:
        ent = core.get_enterprise_by_id(conn, other.id)
        assert (ent.review_state, ent.verified, ent.reviewed_by) == (
            "rejected",
            False,
            "user:admin",
        )
        audit = conn.exec_driver_sql(
            "select action, detail from core_audit_log where action like 'enterprise.%'"
        ).all()
    assert any(
        a == "enterprise.reject" and "营业执照照片不清晰" in json.loads(d)["reason"]
        for a, d in audit
    )
    # a rejected enterprise gets no prefix
    refused = await admin.post("/ids/prefixes", data={"prefix": "88.100.2", "uscc": USCC_B})
    assert refused.status_code == 403
    approved = await admin.post(
        f"/ids/enterprises/{other.id}/review", data={"decision": "approve", "reason": ""}
    )
    assert approved.status_code == 303
    with state.engine.connect() as conn:
        assert core.get_enterprise_by_id(conn, other.id).verified
    made = await admin.post("/ids/prefixes", data={"prefix": "88.100.2", "uscc": USCC_B})
    assert made.status_code == 200 and "new-secret" in made.text


async def test_enterprise_list_searches_and_pages(
    admin: httpx.AsyncClient, state: AppState
) -> None:
    with state.engine.begin() as conn:
        for i in range(25):
            core.create_enterprise(
                conn, uscc=core.make_uscc(f"91110108MA{i:06d}"), name=f"测试企业{i:02d}", actor="t"
            )
    first = await admin.get("/ids/enterprises", params={"q": "测试企业", "size": 20})
    assert "第 1–20 条，共 25 条" in first.text
    second = await admin.get("/ids/enterprises", params={"q": "测试企业", "page": 2})
    assert "测试企业24" in second.text and "测试企业00" not in second.text
    hostile = await admin.get(
        "/ids/enterprises", params={"q": "%_\\", "sort": "x;drop", "page": "-9"}
    )
    assert hostile.status_code == 200 and "没有符合条件的记录" in hostile.text


async def test_enterprise_detail_counts_prefixes_users_and_devices(
    admin: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    make_user(state, "ent-admin", core.Role.ENTERPRISE_ADMIN, enterprise.id)
    page = await admin.get(f"/ids/enterprises/{enterprise.id}")
    assert page.status_code == 200
    assert 'id="count-prefixes">1<' in page.text and 'id="count-users">1<' in page.text
    assert "88.100.1" in page.text


async def test_an_approved_enterprise_leads_on_to_allocation_users_and_devices(
    admin: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise, other: core.Enterprise
) -> None:
    pending = (await admin.get(f"/ids/enterprises/{other.id}")).text
    assert 'id="allocate-link"' not in pending  # not before the review
    done = await admin.post(
        f"/ids/enterprises/{other.id}/review", data={"decision": "approve"}, follow_redirects=True
    )
    assert "可以为该企业分配前缀" in done.text
    allocate = f'href="/ids/prefixes?enterprise={other.id}#allocate"'
    assert allocate in done.text and "为该企业分配前缀" in done.text
    assert f'href="/admin/users?enterprise_id={other.id}"' in done.text
    assert f'href="/platform/devices?enterprise={other.id}"' in done.text
    form = (await admin.get("/ids/prefixes", params={"enterprise": str(other.id)})).text
    assert 'id="allocate"' in form
    assert f'<option value="{USCC_B}" selected>' in form  # pre-selected to allocate
    make_user(state, "b-user", core.Role.ENTERPRISE_USER, other.id)
    make_user(state, "a-user", core.Role.ENTERPRISE_USER, enterprise.id)
    users = (await admin.get("/admin/users", params={"enterprise_id": str(other.id)})).text
    assert "b-user" in users and "a-user" not in users
    state.platform.devices.create(
        enterprise.id,
        {"id": "a-dev", "name": "甲", "model": "indunet:air-compressor",
         "connection": {"host": "127.0.0.1", "port": 1502}},
        actor="test",
    )  # fmt: skip
    devices = (await admin.get("/platform/devices", params={"enterprise": str(other.id)})).text
    assert 'id="enterprise-filter"' in devices and "北京示例科技有限公司" in devices
    assert "a-dev" not in devices
    everyone = (await admin.get("/platform/devices")).text
    assert "a-dev" in everyone


async def test_enterprise_pages_keep_tenants_apart(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise, other: core.Enterprise
) -> None:
    async with as_user(state, "b-admin", core.Role.ENTERPRISE_ADMIN, other.id) as mine:
        listed = await mine.get("/ids/enterprises")
        assert other.name in listed.text and enterprise.name not in listed.text
        assert (await mine.get(f"/ids/enterprises/{enterprise.id}")).status_code == 404
        assert (await mine.get(f"/ids/enterprises/{other.id}")).status_code == 200
        for bad in ("0", "abc", "99999999999999999999999", "-1"):
            assert (await mine.get(f"/ids/enterprises/{bad}")).status_code == 404
        # another tenant's review: 404 first; their own: 403 (platform admins only)
        foreign = await mine.post(
            f"/ids/enterprises/{enterprise.id}/review", data={"decision": "reject", "reason": "x"}
        )
        assert foreign.status_code == 404
        own = await mine.post(f"/ids/enterprises/{other.id}/review", data={"decision": "approve"})
        assert own.status_code == 403
    with state.engine.connect() as conn:
        assert core.get_enterprise_by_id(conn, other.id).review_state == "pending"


# -- prefixes: detail, revoke, key rotation ------------------------------------------------


async def test_prefix_detail_reads_hs_admin_plainly(admin: httpx.AsyncClient) -> None:
    page = await admin.get("/ids/prefixes/88.100.1")
    assert page.status_code == 200
    assert "300:0.NA/88.100.1" in page.text and "全部权限" in page.text
    assert '管理员 <small class="mono muted">HS_ADMIN</small>' in page.text
    assert '服务站点 <small class="mono muted">HS_SITE</small>' in page.text
    assert "<h2>HS_ADMIN</h2>" not in page.text
    assert 'id="handle-count">0<' in page.text
    listed = await admin.get("/ids/prefixes", params={"q": "88.100", "state": "active"})
    assert '<a href="/ids/prefixes/88.100.1">' in listed.text
    assert (await admin.get("/ids/prefixes/88.100.77")).status_code == 404
    assert (await admin.get("/ids/prefixes/" + "9" * 300)).status_code == 404


async def test_key_rotation_refuses_the_old_key_and_takes_the_new(
    admin: httpx.AsyncClient,
) -> None:
    handle = "/api/handles/88.100.1/ROT-1"
    old = ("300%3A0.NA/88.100.1", SECRET)
    assert (
        await admin.put(handle, json={"values": [url_value("https://a.example")]}, auth=old)
    ).status_code == 201
    rotated = await admin.post("/ids/prefixes/88.100.1/rotate")
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    new_secret = rotated.text.split('id="new-secret">', 1)[1].split("<", 1)[0]
    assert len(new_secret) >= 24
    refused = await admin.put(handle, json={"values": [url_value("https://b.example")]}, auth=old)
    assert refused.status_code == 401
    new = ("300%3A0.NA/88.100.1", new_secret)
    taken = await admin.put(handle, json={"values": [url_value("https://c.example")]}, auth=new)
    assert taken.status_code == 200
    assert new_secret not in (await admin.get("/ids/prefixes/88.100.1")).text  # shown once


async def test_revoking_a_prefix_needs_reason_and_confirmation_and_stops_resolution(
    admin: httpx.AsyncClient, state: AppState
) -> None:
    auth = ("300%3A0.NA/88.100.1", SECRET)
    await admin.put(
        "/api/handles/88.100.1/REV-1", json={"values": [url_value("https://a.example")]}, auth=auth
    )
    assert (await admin.get("/api/handles/88.100.1/REV-1")).status_code == 200
    no_reason = await admin.post("/ids/prefixes/88.100.1/revoke", data={"confirm": "88.100.1"})
    assert no_reason.status_code == 400 and "撤销须填写" in no_reason.text
    wrong = await admin.post(
        "/ids/prefixes/88.100.1/revoke", data={"reason": "欠费", "confirm": "88.100.9"}
    )
    assert wrong.status_code == 400 and "再次输入前缀 88.100.1" in wrong.text
    assert (await admin.get("/api/handles/88.100.1/REV-1")).status_code == 200  # nothing changed
    done = await admin.post(
        "/ids/prefixes/88.100.1/revoke",
        data={"reason": "企业注销，停止服务", "confirm": "88.100.1"},
    )
    assert done.status_code == 303
    page = await admin.get(done.headers["location"])
    assert "已撤销" in page.text and "企业注销，停止服务" in page.text
    gone = await admin.get("/api/handles/88.100.1/REV-1")
    assert gone.status_code == 404 and "revoked" in gone.text
    assert gone.json()["reason"] == "prefix_revoked"  # what a console says in its own words
    said = await admin.get("/ids/resolve", params={"handle": "88.100.1/REV-1"})
    assert "前缀 88.100.1 已撤销" in said.text and "is revoked" not in said.text
    refused = await admin.put(
        "/api/handles/88.100.1/REV-2", json={"values": [url_value("https://b.example")]}, auth=auth
    )
    assert refused.status_code == 401  # the key went with the prefix handle
    again = await admin.post(
        "/ids/prefixes/88.100.1/revoke", data={"reason": "again", "confirm": "88.100.1"}
    )
    assert again.status_code == 409
    with state.engine.connect() as conn:
        actions = conn.exec_driver_sql(
            "select action from core_audit_log where action = 'prefix.revoke'"
        ).all()
    assert len(actions) == 1
    assert ids.enterprise_prefixes(state.engine, 1) == frozenset()
    # another process learns it from the database
    fresh = state.hierarchy.front
    fresh.revoked = frozenset()
    ids.prefixes.load_revoked(state.engine, [fresh])
    assert fresh.revoked == {"88.100.1"}


async def test_prefix_actions_keep_tenants_and_roles_apart(
    client: httpx.AsyncClient, state: AppState, other: core.Enterprise
) -> None:
    async with as_user(state, "b-admin", core.Role.ENTERPRISE_ADMIN, other.id) as b:
        assert (await b.get("/ids/prefixes/88.100.1")).status_code == 404
        assert (await b.post("/ids/prefixes/88.100.1/rotate")).status_code == 404
        revoke = await b.post(
            "/ids/prefixes/88.100.1/revoke", data={"reason": "x", "confirm": "88.100.1"}
        )
        assert revoke.status_code == 404
        assert 'href="/ids/prefixes/88.100.1"' not in (await b.get("/ids/prefixes")).text
    async with as_user(state, "a-admin", core.Role.ENTERPRISE_ADMIN, 1) as a:
        assert (await a.get("/ids/prefixes/88.100.1")).status_code == 200
        revoke = await a.post(
            "/ids/prefixes/88.100.1/revoke", data={"reason": "x", "confirm": "88.100.1"}
        )
        assert revoke.status_code == 403  # platform admins only
        assert (await a.post("/ids/prefixes/88.100.1/rotate")).status_code == 200  # own key
    async with as_user(state, "watcher", core.Role.REGULATOR, None) as r:
        assert (await r.get("/ids/prefixes/88.100.1")).status_code == 200
        assert (await r.post("/ids/prefixes/88.100.1/rotate")).status_code == 403


# -- bulk registration by upload ------------------------------------------------------------


async def wait_done(c: httpx.AsyncClient, location: str) -> str:
    for _ in range(200):
        page = await c.get(location)
        if "导入完成" in page.text or 'id="job-failures"' in page.text:
            return page.text
        await asyncio.sleep(0.05)
    raise AssertionError("the job did not finish")


async def test_bulk_upload_runs_with_progress_and_reports_errors(
    admin: httpx.AsyncClient, state: AppState
) -> None:
    good = "".join(f"88.100.1/BULK-{i},https://example.com/{i}\n" for i in range(450))
    text = "handle,URL:1\n" + good + "=cmd|x,https://x.example\n88.100.1/BULK-1,https://y\n"
    events: list[Any] = []

    async def seen(event: Any) -> None:
        events.append(event)

    state.bus.subscribe("bulk.finished", seen)
    resp = await admin.post("/ids/bulk", files={"file": ("ids.csv", text.encode(), "text/csv")})
    assert resp.status_code == 303
    location = resp.headers["location"]
    job_id = int(location.rsplit("/", 1)[1])
    first = await admin.get(location)
    assert 'id="job-bar"' in first.text
    page = await wait_done(admin, location)
    assert "450" in page and 'id="error-report"' in page
    progress = await admin.get(f"{location}/progress", headers={"HX-Request": "true"})
    assert progress.status_code == 200 and "<html" not in progress.text
    assert 'hx-trigger="every 1s"' not in progress.text  # done: no more polling
    report = await admin.get(f"{location}/errors.csv")
    assert report.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows[0] == ["行号", "标识", "原因"]
    assert len(rows) == 3 and [r[0] for r in rows[1:]] == ["452", "453"]
    assert rows[1][1] == "'=cmd|x"  # a spreadsheet shows it, does not run it
    assert rows[2][2] == "标识 88.100.1/BULK-1 已存在且值不同（勾选覆盖以替换）"
    assert all(not cell.startswith("=") for row in rows for cell in row)  # no formulas
    admin.cookies.set("lang", "en")
    english = await admin.get(f"{location}/errors.csv")
    admin.cookies.set("lang", "zh-CN")
    assert "already exists with other values" in english.content.decode("utf-8-sig")
    assert (await admin.get("/api/handles/88.100.1/BULK-449")).status_code == 200
    listed = await admin.get("/ids/bulk", params={"q": "ids.csv"})
    assert f'href="/ids/bulk/{job_id}"' in listed.text
    for _ in range(50):
        if events:
            break
        await asyncio.sleep(0.02)
    assert events and events[0].data["registered"] == 450 and events[0].data["failed"] == 2
    tally = sum(
        r.registrations
        for r in daily.counts(state.engine, since_day=date.today(), prefix="88.100.1")
    )
    assert tally == 0  # not flushed yet: counted in memory
    ids.daily.flush(state.engine, [n.stats.daily for n in state.hierarchy.nodes.values()])
    today = daily.counts(state.engine, since_day=date.today(), prefix="88.100.1")
    assert today[-1].registrations == 450


async def test_hostile_uploads_are_refused_and_write_nothing(
    admin: httpx.AsyncClient, state: AppState
) -> None:
    cases = [
        ({"file": ("x.exe", b"MZ...", "application/octet-stream")}, 400, "扩展名"),
        ({"file": ("empty.csv", b"", "text/csv")}, 400, "文件是空的"),
        ({"file": ("..", b"handle\n", "text/csv")}, 400, ""),
        ({"file": ("bad.csv", b"\xff\xfe\x00garbage", "text/csv")}, 400, ""),
        ({"file": ("bad.csv", b"nohandle,URL:1\nx,y\n", "text/csv")}, 400, ""),
        ({"other": ("x.csv", b"handle\n", "text/csv")}, 400, "请选择"),
    ]
    for files, status, words in cases:
        resp = await admin.post("/ids/bulk", files=files)
        assert resp.status_code == status, (files, resp.text[:300])
        assert words in resp.text
    too_big = await admin.post(
        "/ids/bulk",
        files={
            "file": ("big.csv", b"handle\n" + b"x" * (idsbulk.MAX_UPLOAD_BYTES + 10), "text/csv")
        },
    )
    assert too_big.status_code == 400 and "文件超过 32 MiB" in too_big.text
    assert (
        list(idsbulk.upload_dir(state).glob("*")) == []
        if idsbulk.upload_dir(state).exists()
        else True
    )
    with state.engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from ids_bulk_jobs").scalar_one() == 0


async def test_another_tenants_bulk_job_is_not_found(
    admin: httpx.AsyncClient, state: AppState, other: core.Enterprise
) -> None:
    resp = await admin.post(
        "/ids/bulk",
        files={"file": ("a.csv", b"handle,URL:1\n88.100.1/T-1,https://a\n", "text/csv")},
    )
    location = resp.headers["location"]
    await wait_done(admin, location)
    async with as_user(state, "b-user", core.Role.ENTERPRISE_USER, other.id) as b:
        assert (await b.get(location)).status_code == 404
        assert (await b.get(f"{location}/errors.csv")).status_code == 404
        assert (await b.get(f"{location}/progress")).status_code == 404
        assert (await b.post(f"{location}/resume")).status_code == 404
        assert (await b.get("/api/v1" + location.replace("/ids", ""))).status_code == 404
        assert "a.csv" not in (await b.get("/ids/bulk")).text
        assert (await b.get("/ids/bulk/abc")).status_code == 404
    async with as_user(state, "watcher", core.Role.REGULATOR, None) as r:
        assert (await r.get(location)).status_code == 200
        refused = await r.post(
            "/ids/bulk",
            files={"file": ("r.csv", b"handle,URL:1\n88.100.1/R,https://r\n", "text/csv")},
        )
        assert refused.status_code == 403


# -- statistics per day ---------------------------------------------------------------------


async def test_statistics_count_registrations_and_resolutions(
    admin: httpx.AsyncClient, state: AppState, other: core.Enterprise
) -> None:
    auth = ("300%3A0.NA/88.100.1", SECRET)
    for i in range(3):
        await admin.put(
            f"/api/handles/88.100.1/S-{i}", json={"values": [url_value("https://s")]}, auth=auth
        )
    for _ in range(4):
        assert (
            await admin.get("/api/handles/88.100.1/S-0", params={"auth": "true"})
        ).status_code == 200
    ids.daily.flush(state.engine, [n.stats.daily for n in state.hierarchy.nodes.values()])
    page = await admin.get("/ids/stats", params={"days": "7"})
    assert page.status_code == 200
    assert 'id="total-registrations">3<' in page.text
    assert 'id="total-resolutions">4<' in page.text
    assert '"88.100.1", 3, 4' in page.text.replace("[", "").replace("]", "")
    assert "厦门示例机床有限公司" in page.text
    one = await admin.get("/ids/stats", params={"prefix": "88.100.1", "days": "30"})
    assert 'id="total-resolutions">4<' in one.text
    hostile = await admin.get("/ids/stats", params={"days": "99999", "enterprise": "x"})
    assert hostile.status_code == 200
    assert (await admin.get("/ids/stats", params={"prefix": "88.100.77"})).status_code == 404
    html = {"Accept": "text/html"}  # a browser: the error page says which prefix, in Chinese
    missing = await admin.get("/ids/stats", params={"prefix": "88.100.77"}, headers=html)
    assert missing.status_code == 404 and "前缀 88.100.77" in missing.text
    assert "找不到地址" not in missing.text and "no prefix" not in missing.text
    async with as_user(state, "b-admin", core.Role.ENTERPRISE_ADMIN, other.id) as b:
        theirs = await b.get("/ids/stats")
        assert theirs.status_code == 200 and 'id="total-resolutions">0<' in theirs.text
        assert "厦门示例机床有限公司" not in theirs.text
        assert (await b.get("/ids/stats", params={"prefix": "88.100.1"})).status_code == 404
        assert (await b.get("/ids/stats", params={"enterprise": "1"})).status_code == 404


async def test_an_interrupted_job_resumes_and_a_running_one_is_polled(
    admin: httpx.AsyncClient, state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A job whose process stopped after start: its row says running, nothing runs it here.
    idsbulk.upload_dir(state).mkdir(parents=True, exist_ok=True)
    text = "handle,URL:1\n" + "".join(f"88.100.1/RES-{i},https://r/{i}\n" for i in range(30))
    staged = idsbulk.upload_dir(state) / "x.csv"
    staged.write_text(text, encoding="utf-8")
    principal = ids.Principal(actor="user:admin", prefixes=None)
    job = ids.bulk.begin(state.hierarchy.front, staged, principal, source="r.csv")
    staged.rename(idsbulk.upload_dir(state) / f"job-{job.id}.csv")
    fresh = await admin.get(f"/ids/bulk/{job.id}")
    assert "已中断" not in fresh.text  # it moved a moment ago: perhaps an API import running
    monkeypatch.setattr(idsbulk, "STALE_S", 0.0)
    page = await admin.get(f"/ids/bulk/{job.id}")
    assert "已中断" in page.text and "从第 1 行继续" in page.text
    assert 'hx-trigger="every 1s"' not in page.text  # nothing to poll
    # while it runs here, the progress part asks to be fetched again
    idsbulk._running[job.id] = asyncio.get_running_loop().create_future()  # type: ignore[assignment]
    try:
        part = await admin.get(f"/ids/bulk/{job.id}/progress", headers={"HX-Request": "true"})
        assert 'hx-trigger="every 1s"' in part.text and "进行中" in part.text
    finally:
        idsbulk._running.pop(job.id)
    resumed = await admin.post(f"/ids/bulk/{job.id}/resume")
    assert resumed.status_code == 303 and resumed.headers["location"] == f"/ids/bulk/{job.id}"
    done = await wait_done(admin, resumed.headers["location"])
    assert "注册 30" in done
    staged_file = idsbulk.upload_dir(state) / f"job-{job.id}.csv"  # dropped once the job ends
    await until(lambda: not staged_file.exists(), 5, "the job's file removed")
    again = await admin.post(f"/ids/bulk/{job.id}/resume")
    assert again.status_code == 409
