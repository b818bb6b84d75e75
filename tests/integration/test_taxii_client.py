"""The TAXII puller against real TAXII 2.1 servers on loopback: Indunet's own (uvicorn) and
OASIS's reference server medallion (a subprocess): incremental pulls by added_after,
paging by next, errors recorded on the feed and retried, the destination policy's refusals."""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from taxii2client.v21 import Collection
from tests.conftest import api_token
from tests.integration.servers import free_port
from tests.security.sharing.served import served
from tests.security.sharing.stixdata import PRODUCER, Match, alert

from indunet import core
from indunet.core import Role
from indunet.security.sharing import export_objects, feeds
from indunet.security.sharing.destinations import FeedPolicy, FeedRefused
from indunet.security.sharing.feeds import FeedForm
from indunet.security.sharing.puller import Puller, PullLimits, fetch, run_feed
from indunet.security.sharingtables import objects as objects_table
from indunet.web import AppState

LOOPBACK = FeedPolicy.build("127.0.0.1/32")


def admin(state: AppState) -> core.User:
    with state.engine.begin() as conn:
        return core.create_user(
            conn, username="root", password="a-long-password", role=Role.PLATFORM_ADMIN, actor="t"
        )


def held(state: AppState, collection_id: str) -> set[str]:
    with state.engine.connect() as conn:
        return set(
            conn.execute(
                sa.select(objects_table.c.stix_id).where(
                    objects_table.c.collection_id == collection_id
                )
            ).scalars()
        )


def sample(n: int = 3) -> list[dict[str, Any]]:
    return export_objects(PRODUCER, [alert(i) for i in range(1, n + 1)], [Match()])


async def test_pull_from_our_own_server_incrementally(
    state: AppState, enterprise: core.Enterprise
) -> None:
    root = admin(state)
    token = api_token(state.engine, "a-admin", Role.ENTERPRISE_ADMIN, enterprise.id)
    with served(state) as url:
        col_url = None
        async with httpx.AsyncClient() as client:
            r = await client.get(
                f"{url}/taxii2/api1/collections/", headers={"Authorization": f"Bearer {token}"}
            )
            remote = r.json()["collections"][0]["id"]
            col_url = f"{url}/taxii2/api1/collections/{remote}/"
        first = sample()
        await asyncio.to_thread(
            Collection(col_url, user="x", password=token).add_objects, {"objects": first}
        )
        form = FeedForm("own", f"{url}/taxii2/api1/", remote, "anyone", token, 60)
        feed = feeds.create_feed(state.engine, root, form, LOOPBACK)
        limits = PullLimits(page_size=4)
        got = await fetch(feed, token, LOOPBACK, limits)
        assert got.pages == -(-len(first) // 4) and len(got.objects) == len(first)
        await run_feed(state.engine, feed, LOOPBACK, limits)
        feed = feeds.get_feed(state.engine, root, feed.id)
        assert feed.last_error is None and feed.objects_total == len(first)
        assert feed.added_last is not None
        assert held(state, feed.collection_id) == {o["id"] for o in first}
        # the next run asks only for what was added since
        indicator = copy.deepcopy(next(o for o in first if o["type"] == "indicator"))
        indicator["modified"] = "2026-05-01T00:00:00.000Z"
        await asyncio.to_thread(
            Collection(col_url, user="x", password=token).add_objects, {"objects": [indicator]}
        )
        again = await fetch(feed, token, LOOPBACK, limits)
        assert [o["id"] for o in again.objects] == [indicator["id"]]
        await run_feed(state.engine, feed, LOOPBACK, limits)
        feed = feeds.get_feed(state.engine, root, feed.id)
        assert feed.objects_total == len(first) + 1
        # a wrong password is recorded on the feed, and retried later
        feeds.update_feed(
            state.engine,
            root,
            feed.id,
            FeedForm("own", form.api_root, remote, "x", "wrong", 60),
            LOOPBACK,
        )
        feed = feeds.get_feed(state.engine, root, feed.id)
        await run_feed(state.engine, feed, LOOPBACK, limits)
        feed = feeds.get_feed(state.engine, root, feed.id)
        assert feed.last_error is not None and feed.last_error.startswith("HTTP 401")
        assert feed.failures == 1 and feed.next_run > time.time()


async def test_the_puller_loop_survives_failing_feeds(state: AppState) -> None:
    root = admin(state)
    port = free_port()  # nothing listens there
    form = FeedForm("down", f"http://127.0.0.1:{port}/api1/", "c1", "u", "p", 60)
    feed = feeds.create_feed(state.engine, root, form, LOOPBACK)
    puller = Puller(state.engine, LOOPBACK, PullLimits(tick=0.05, deadline=5))
    await puller.start()
    try:
        for _ in range(200):
            if puller.runs:
                break
            await asyncio.sleep(0.05)
    finally:
        await puller.stop()
    feed = feeds.get_feed(state.engine, root, feed.id)
    assert puller.runs == 1 and feed.failures == 1
    assert feed.last_error and "ConnectError" in feed.last_error


async def test_destination_policy_refusals(state: AppState) -> None:
    root = admin(state)
    strict = FeedPolicy.build("")
    for url, why in (
        ("http://8.8.8.8:8080/api1/", "plain http"),
        ("http://127.0.0.1:8080/api1/", "loopback"),
        ("https://127.0.0.1/api1/", "loopback"),
        ("https://10.1.2.3/api1/", "private"),
        ("https://user:pw@example.com/api1/", "user name"),
        ("ftp://example.com/api1/", "scheme"),
        ("https://example.com:22/api1/", "port 22"),
    ):
        with pytest.raises(FeedRefused) as err:
            feeds.create_feed(state.engine, root, FeedForm("x", url, "c1"), strict)
        assert why in err.value.params["why"], err.value.params
    # a feed saved under a looser policy is still refused when pulled under the strict one
    feed = feeds.create_feed(
        state.engine, root, FeedForm("x", "http://127.0.0.1:9999/api1/", "c1"), LOOPBACK
    )
    await run_feed(state.engine, feed, strict, PullLimits())
    feed = feeds.get_feed(state.engine, root, feed.id)
    assert feed.last_error and "loopback" in feed.last_error
    # only platform admins change feeds; enterprise users do not see them at all
    with state.engine.begin() as conn:
        reg = core.create_user(
            conn, username="reg", password="a-long-password", role=Role.REGULATOR, actor="t"
        )
    assert [f.id for f in feeds.list_feeds(state.engine, reg)] == [feed.id]
    with pytest.raises(core.PermissionDenied):
        feeds.delete_feed(state.engine, reg, feed.id)


# -- medallion, OASIS's reference TAXII 2.1 server -----------------------------------------

MEDALLION_COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"


@pytest.fixture
def medallion(tmp_path: Path) -> Iterator[str]:
    pytest.importorskip("medallion")
    data = {
        "/discovery": {"title": "medallion", "default": "", "api_roots": []},
        "api1": {
            "information": {
                "title": "api1",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 10_000_000,
            },
            "status": [],
            "collections": [
                {
                    "id": MEDALLION_COLLECTION,
                    "title": "feed",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }
    (tmp_path / "data.json").write_text(json.dumps(data))
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(tmp_path / "data.json"),
        },
        "users": {"feeder": "feeder-password"},
        "taxii": {"max_page_size": 5},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "medallion.scripts.run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            str(tmp_path / "config.json"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "medallion.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/taxii2/", auth=("feeder", "feeder-password"), timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("medallion did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


async def test_pull_from_medallion(state: AppState, medallion: str) -> None:
    root = admin(state)
    col = Collection(
        f"{medallion}/api1/collections/{MEDALLION_COLLECTION}/",
        user="feeder",
        password="feeder-password",
    )
    sent = sample(4)
    status = await asyncio.to_thread(col.add_objects, {"objects": sent})
    assert status.success_count == len(sent)
    form = FeedForm(
        "medallion", f"{medallion}/api1/", MEDALLION_COLLECTION, "feeder", "feeder-password", 60
    )
    feed = feeds.create_feed(state.engine, root, form, LOOPBACK)
    got = await fetch(feed, "feeder-password", LOOPBACK, PullLimits())
    assert got.pages >= len(sent) // 5  # medallion pages by 5: next was followed
    assert len({o["id"] for o in got.objects}) == len(sent)
    await run_feed(state.engine, feed, LOOPBACK, PullLimits())
    feed = feeds.get_feed(state.engine, root, feed.id)
    assert feed.last_error is None, feed.last_error
    assert held(state, feed.collection_id) == {o["id"] for o in sent}
    assert feed.added_last
