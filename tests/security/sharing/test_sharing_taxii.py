"""The TAXII 2.1 server exercised by an independent client (OASIS's taxii2-client) over
real HTTP: discovery, API root, collections with per-user rights, add + status, paging by
added_after/limit/next, manifest, versions, and another enterprise's collection 404."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests
from taxii2client.exceptions import AccessError
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages
from tests.conftest import USCC_B, api_token
from tests.security.sharing.served import served
from tests.security.sharing.stixdata import PRODUCER, Match, alert

from indunet import core
from indunet.core import Role
from indunet.security.sharing import export_objects
from indunet.web import AppState

TAXII = "application/taxii+json;version=2.1"


@dataclass
class World:
    url: str
    admin: str  # platform admin
    regulator: str
    a_admin: str
    a_user: str
    b_admin: str
    a_id: int
    b_id: int

    def server(self, token: str) -> Server:
        return Server(f"{self.url}/taxii2/", user="anyone", password=token)

    def collection_of(self, token: str, enterprise_title: str) -> Collection:
        root = self.server(token).api_roots[0]
        return next(c for c in root.collections if c.title == enterprise_title)


@pytest.fixture
def world(state: AppState, enterprise: core.Enterprise) -> Iterator[World]:
    with state.engine.begin() as conn:
        b = core.create_enterprise(conn, uscc=USCC_B, name="乙厂", actor="t", verified=True)
    eng = state.engine
    with served(state) as url:
        yield World(
            url,
            api_token(eng, "root", Role.PLATFORM_ADMIN),
            api_token(eng, "reg", Role.REGULATOR),
            api_token(eng, "a-admin", Role.ENTERPRISE_ADMIN, enterprise.id),
            api_token(eng, "a-user", Role.ENTERPRISE_USER, enterprise.id),
            api_token(eng, "b-admin", Role.ENTERPRISE_ADMIN, b.id),
            enterprise.id,
            b.id,
        )


def objects() -> list[dict[str, Any]]:
    return export_objects(PRODUCER, [alert(1), alert(2)], [Match()])


def test_discovery_api_root_and_collections_per_user(
    world: World, enterprise: core.Enterprise
) -> None:
    server = world.server(world.a_user)
    assert server.title == "Indunet TAXII 2.1"
    assert server.default.url == f"{world.url}/taxii2/api1/"
    (root,) = server.api_roots
    assert root.versions == [TAXII] and root.max_content_length == 16 * 1024 * 1024
    (mine,) = root.collections
    assert mine.title == enterprise.name
    assert (mine.can_read, mine.can_write) == (True, False)  # enterprise users read only
    a_admin = world.server(world.a_admin).api_roots[0].collections
    assert [(c.id, c.can_write) for c in a_admin] == [(mine.id, True)]
    # B's collection exists once B asks; A never sees it, overseers see both
    b_col = world.server(world.b_admin).api_roots[0].collections[0]
    seen = {c.id: c for c in world.server(world.regulator).api_roots[0].collections}
    assert {mine.id, b_col.id} <= set(seen)
    assert not seen[b_col.id].can_write  # regulators read only
    assert all(c.can_write for c in world.server(world.admin).api_roots[0].collections)
    url = f"{world.url}/taxii2/api1/collections/{b_col.id}/"
    for path in ("", "objects/", "manifest/"):
        with pytest.raises(requests.HTTPError) as err:
            Collection(
                url, user="x", password=world.a_admin
            ).get_objects() if path == "objects/" else Collection(
                url + path if path else url, user="x", password=world.a_admin
            ).title
        assert err.value.response.status_code == 404
        assert err.value.response.json()["http_status"] == "404"


def test_add_objects_status_and_idempotence(world: World, enterprise: core.Enterprise) -> None:
    col = world.collection_of(world.a_admin, enterprise.name)
    sent = objects()
    status = col.add_objects({"objects": sent})
    assert status.status == "complete"
    assert status.total_count == status.success_count == len(sent)
    assert status.failure_count == 0 and status.pending_count == 0
    again = col.add_objects({"objects": sent})
    assert again.success_count == len(sent)
    assert all(s["message"] == "this version was held already" for s in again.successes)
    # the status resource is read back by its id
    root = ApiRoot(f"{world.url}/taxii2/api1/", user="x", password=world.a_user)
    got = root.get_status(status.id)
    assert got.id == status.id and got.success_count == len(sent)
    # B cannot read A's status
    with pytest.raises(requests.HTTPError) as err:
        ApiRoot(f"{world.url}/taxii2/api1/", user="x", password=world.b_admin).get_status(status.id)
    assert err.value.response.status_code == 404
    # an enterprise user may read but not write: the client sees can_write false, and the
    # server answers 403 in TAXII's error shape if asked anyway
    ro = Collection(col.url, user="x", password=world.a_user)
    with pytest.raises(AccessError):
        ro.add_objects({"objects": sent})
    r = httpx.post(
        f"{col.url}objects/",
        json={"objects": sent},
        headers={"Content-Type": TAXII, "Authorization": f"Bearer {world.a_user}"},
    )
    assert r.status_code == 403 and r.headers["content-type"] == TAXII
    assert r.json()["http_status"] == "403"


def test_paging_with_added_after_limit_and_next(world: World, enterprise: core.Enterprise) -> None:
    col = world.collection_of(world.a_admin, enterprise.name)
    first = objects()
    col.add_objects({"objects": first})
    pages = list(as_pages(col.get_objects, per_request=4))
    got = [o for p in pages for o in p.get("objects", [])]
    assert sorted(o["id"] for o in got) == sorted(o["id"] for o in first)
    assert len(pages) == -(-len(first) // 4)
    assert all(p["more"] for p in pages[:-1]) and not pages[-1]["more"]
    # the date-added headers let a puller continue where it stopped
    resp = httpx.get(
        f"{col.url}objects/",
        params={"limit": 3},
        headers={"Accept": TAXII, "Authorization": f"Bearer {world.a_user}"},
    )
    assert resp.headers["content-type"] == TAXII
    last = resp.headers["X-TAXII-Date-Added-Last"]
    assert resp.headers["X-TAXII-Date-Added-First"] <= last
    # objects added later come after added_after = the last date seen
    newer = copy.deepcopy(next(o for o in first if o["type"] == "indicator"))
    newer["modified"] = "2026-02-01T00:00:00.000Z"
    col.add_objects({"objects": [newer]})
    everything = col.get_objects()
    marker = everything["objects"][-2]
    manifest = col.get_manifest()["objects"]
    after = next(m["date_added"] for m in manifest if m["id"] == marker["id"])
    tail = col.get_objects(added_after=after)
    assert [o["id"] for o in tail["objects"]] == [newer["id"]]
    assert tail["objects"][0]["modified"] == "2026-02-01T00:00:00.000Z"
    # a tampered or foreign cursor is refused, not followed
    page = col.get_objects(limit=2)
    bad = page["next"][:-4] + ("AAAA" if not page["next"].endswith("AAAA") else "BBBB")
    for token, extra in ((bad, {}), (page["next"], {"type": "indicator"})):
        with pytest.raises(requests.HTTPError) as err:
            col.get_objects(limit=2, next=token, **extra)
        assert err.value.response.status_code == 400
        assert err.value.response.json()["error_code"] == "taxii_bad_filter"


def test_match_filters_versions_and_manifest(world: World, enterprise: core.Enterprise) -> None:
    col = world.collection_of(world.a_admin, enterprise.name)
    sent = objects()
    col.add_objects({"objects": sent})
    indicator = next(o for o in sent if o["type"] == "indicator")
    v2 = copy.deepcopy(indicator) | {"modified": "2026-03-01T00:00:00.000Z"}
    col.add_objects({"objects": [v2]})
    only = col.get_objects(type="indicator")["objects"]
    assert {o["type"] for o in only} == {"indicator"}
    assert len(only) == 2  # the two alerts' indicators, the newest version each
    by_id = col.get_object(indicator["id"])["objects"]
    assert [o["modified"] for o in by_id] == ["2026-03-01T00:00:00.000Z"]
    every = col.get_object(indicator["id"], version="all")["objects"]
    assert [o["modified"] for o in every] == [indicator["modified"], v2["modified"]]
    first = col.get_object(indicator["id"], version="first")["objects"]
    assert [o["modified"] for o in first] == [indicator["modified"]]
    exact = col.get_objects(id=indicator["id"], version=indicator["modified"])["objects"]
    assert [o["modified"] for o in exact] == [indicator["modified"]]
    versions = col.object_versions(indicator["id"])
    assert versions["versions"] == ["2025-12-06T05:46:51.000000Z", "2026-03-01T00:00:00.000000Z"]
    manifest = col.get_manifest(type="vulnerability")["objects"]
    assert [m["media_type"] for m in manifest] == ["application/stix+json;version=2.1"]
    assert col.get_objects(spec_version="2.1")["objects"]
    assert col.get_objects(spec_version="2.0") == {}
    with pytest.raises(requests.HTTPError) as err:
        col.get_object("indicator--00000000-0000-4000-8000-000000000000")
    assert err.value.response.status_code == 404


def test_errors_keep_the_taxii_shape(world: World, enterprise: core.Enterprise) -> None:
    col = world.collection_of(world.a_admin, enterprise.name)
    auth = {"Authorization": f"Bearer {world.a_admin}"}
    url = f"{col.url}objects/"
    r = httpx.get(url, headers={"Accept": "text/html"} | auth)
    assert r.status_code == 406 and r.json()["http_status"] == "406"
    r = httpx.get(url, headers={"Accept": TAXII})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    r = httpx.get(url, headers={"Accept": TAXII, "Authorization": "Basic bm9wZTpub3Bl"})
    assert r.status_code == 401 and r.json()["title"]
    r = httpx.post(url, content=b"{}", headers={"Content-Type": "application/json"} | auth)
    assert r.status_code == 415
    r = httpx.post(url, content=b"{nope", headers={"Content-Type": TAXII} | auth)
    assert r.status_code == 400 and r.json()["error_code"] == "sharing_json"
    bad = objects()
    bad[3] = {k: v for k, v in bad[3].items() if k != "id"}
    r = httpx.post(url, json={"objects": bad}, headers={"Content-Type": TAXII} | auth)
    assert r.status_code == 400 and r.json()["details"]["property"] == "id"
    r = httpx.get(url, params={"limit": "x"}, headers=auth)
    assert r.status_code == 400 and r.json()["details"]["param"] == "limit"
    r = httpx.get(url, params={"added_after": "yesterday"}, headers=auth)
    assert r.status_code == 400 and r.json()["details"]["param"] == "added_after"
    r = httpx.get(url, params={"limit": "5000"}, headers=auth)
    assert r.status_code == 200  # lowered to the maximum page, not refused
    assert httpx.get(f"{col.url}objects/", headers=auth).json() == {}  # empty: {}


def test_hostile_filters_are_named(world: World, enterprise: core.Enterprise) -> None:
    col = world.collection_of(world.a_admin, enterprise.name)
    auth = {"Authorization": f"Bearer {world.a_admin}", "Accept": TAXII}
    url = f"{col.url}objects/"
    cases = {
        "match[id]": "not-an-id",
        "match[type]": "Bad_Type",
        "match[version]": "yesterday",
        "match[spec_version]": "9.9",
        "next": "x" * 3000,
    }
    for param, value in cases.items():
        r = httpx.get(url, params={param: value}, headers=auth)
        assert r.status_code == 400, (param, r.text)
        assert r.json()["details"]["param"] == param
    many = ",".join(f"indicator--00000000-0000-4000-8000-{i:012d}" for i in range(101))
    r = httpx.get(url, params={"match[id]": many}, headers=auth)
    assert r.status_code == 400 and "100" in r.json()["details"]["why"]
    r = httpx.get(f"{col.url}objects/not-an-id/", headers=auth)
    assert r.status_code == 404
    r = httpx.get(f"{world.url}/taxii2/api1/collections/{'x' * 500}/", headers=auth)
    assert r.status_code == 404
    big = b'{"objects": [' + b'"' + b"x" * (17 * 1024 * 1024) + b'"]}'
    r = httpx.post(url, content=big, headers=auth | {"Content-Type": TAXII})
    assert r.status_code == 413


def test_delete_an_object(world: World, enterprise: core.Enterprise) -> None:
    col = world.collection_of(world.a_admin, enterprise.name)
    sent = objects()
    col.add_objects({"objects": sent})
    indicator = next(o for o in sent if o["type"] == "indicator")
    v2 = copy.deepcopy(indicator) | {"modified": "2026-03-01T00:00:00.000Z"}
    col.add_objects({"objects": [v2]})
    col.delete_object(indicator["id"], version=v2["modified"])  # the newest only
    left = col.get_object(indicator["id"], version="all")["objects"]
    assert [o["modified"] for o in left] == [indicator["modified"]]
    col.delete_object(indicator["id"])  # every version
    with pytest.raises(requests.HTTPError) as err:
        col.get_object(indicator["id"])
    assert err.value.response.status_code == 404
    with pytest.raises(requests.HTTPError) as err:
        col.delete_object(indicator["id"])
    assert err.value.response.status_code == 404
    # readers may not delete; another enterprise's object is 404
    r = httpx.delete(
        f"{col.url}objects/{sent[0]['id']}/",
        headers={"Authorization": f"Bearer {world.a_user}", "Accept": TAXII},
    )
    assert r.status_code == 403
    r = httpx.delete(
        f"{col.url}objects/{sent[0]['id']}/",
        headers={"Authorization": f"Bearer {world.b_admin}", "Accept": TAXII},
    )
    assert r.status_code == 404
