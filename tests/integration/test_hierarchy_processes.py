"""One identifier hierarchy spread over OS processes: root, top-level 88, two sites of secondary
88.100 (a primary and a mirror sharing one database) and a recursive resolver, all on 127.0.0.1.

The tests run in order on one set of processes; the last one kills the secondary sites.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from tests.integration.servers import Server, ServerGroup, group

from indunet import ids
from indunet.cli.serve import announce
from indunet.core import Settings
from indunet.web import open_database

ROOT_KEY = "key-of-prefix-88-at-root"
TOP_KEY = "key-of-88.100-at-top-level"
ENTERPRISE_KEY = "key-of-enterprise-88.100.1"
ENTERPRISE_AUTH = ("300%3A0.NA/88.100.1", ENTERPRISE_KEY)
# Every node here listens on 127.0.0.1, which the destination policy refuses unless the
# operator allows it: the setting a private deployment uses.
ALLOW_LOOPBACK = {"INDUNET_SITE_ALLOW": "127.0.0.0/8"}
NODE_ROLES = {"": ids.NodeRole.ROOT, "88": ids.NodeRole.TOP_LEVEL, "88.100": ids.NodeRole.SECONDARY}


@dataclass
class Hierarchy:
    root: Server
    top: Server
    primary: Server
    mirror: Server
    recursive: Server


def allocate_in(data_dir: Path, node_prefix: str, prefix: str, secret: str) -> None:
    """Create prefix ``prefix`` with key ``secret`` in the store of the node that will run there."""
    engine = open_database(Settings(data_dir=data_dir))
    try:
        name = node_prefix or "root"
        node = ids.Node(
            name, NODE_ROLES[node_prefix], node_prefix, engine, ids.TemplateRegistry(engine)
        )
        ids.allocate(node, prefix, None, actor="test", secret=secret)
    finally:
        engine.dispose()


def start_hierarchy(g: ServerGroup) -> Hierarchy:
    root = g.prepare("root", "node", "--role", "root", env=ALLOW_LOOPBACK)
    top = g.prepare("top", "node", "--role", "top-level", "--prefix", "88", env=ALLOW_LOOPBACK)
    allocate_in(root.data_dir, "", "88", ROOT_KEY)
    allocate_in(top.data_dir, "88", "88.100", TOP_KEY)
    (g.base / "k1").write_text(ROOT_KEY + "\n")
    (g.base / "k2").write_text(TOP_KEY + "\n")

    root.start()
    top.args += ["--parent", root.url, "--parent-key-file", str(g.base / "k1")]
    top.start()
    secondary = [
        "node", "--role", "secondary", "--prefix", "88.100",
        "--parent", top.url, "--parent-key-file", str(g.base / "k2"),
    ]  # fmt: skip
    primary = g.prepare("secondary-a", *secondary, env=ALLOW_LOOPBACK)
    allocate_in(primary.data_dir, "88.100", "88.100.1", ENTERPRISE_KEY)
    primary.start()
    mirror = g.start("secondary-b", *secondary, data_dir=primary.data_dir, env=ALLOW_LOOPBACK)
    recursive = g.start(
        "recursive", "node", "--role", "recursive", "--parent", root.url, env=ALLOW_LOOPBACK
    )
    return Hierarchy(root, top, primary, mirror, recursive)


@pytest.fixture(scope="module")
def hierarchy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hierarchy]:
    with group(tmp_path_factory.mktemp("hierarchy")) as g:
        yield start_hierarchy(g)


def register(site: Server, handle: str, url: str) -> None:
    resp = httpx.put(
        f"{site.url}/api/handles/{handle}",
        json={"values": [{"index": 1, "type": "URL", "data": url}]},
        auth=ENTERPRISE_AUTH,
        timeout=5,
    )
    assert resp.status_code == 201, resp.text


def resolve(h: Hierarchy, handle: str) -> httpx.Response:
    return httpx.get(f"{h.recursive.url}/api/v1/resolve/{handle}", timeout=15)


def sites_of(server: Server, prefix: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{server.url}/api/handles/0.NA/{prefix}?type=HS_SITE", timeout=5)
    assert resp.status_code == 200, resp.text
    return sorted(
        ({"index": v["index"], **v["data"]["value"]} for v in resp.json()["values"]),
        key=lambda s: s["index"],
    )


def test_each_site_is_announced_at_its_own_index(hierarchy: Hierarchy) -> None:
    assert [(s["index"], s["url"]) for s in sites_of(hierarchy.root, "88")] == [
        (11, hierarchy.top.url)
    ]
    announced = sites_of(hierarchy.top, "88.100")
    assert [(s["index"], s["url"], s["primary"]) for s in announced] == [
        (11, hierarchy.primary.url, True),
        (12, hierarchy.mirror.url, False),
    ]
    # announcing a site again (a restart) changes nothing
    announce(hierarchy.top.url, "88.100", TOP_KEY, [hierarchy.mirror.url])
    assert sites_of(hierarchy.top, "88.100") == announced


def test_announcing_with_a_wrong_key_is_refused(hierarchy: Hierarchy) -> None:
    before = sites_of(hierarchy.top, "88.100")
    with pytest.raises(typer.Exit):
        announce(hierarchy.top.url, "88.100", "not-the-key-at-all", ["http://127.0.0.1:9/x"])
    assert sites_of(hierarchy.top, "88.100") == before


def test_each_node_answers_for_its_own_level(hierarchy: Hierarchy) -> None:
    register(hierarchy.primary, "88.100.1/LEVEL-1", "https://level.example")
    handle_path = "/api/handles/88.100.1/LEVEL-1"
    at_root = httpx.get(hierarchy.root.url + handle_path, timeout=5)
    assert at_root.status_code == 302
    assert at_root.headers["location"] == hierarchy.top.url + handle_path
    at_top = httpx.get(hierarchy.top.url + handle_path, timeout=5)
    assert at_top.status_code == 302
    assert at_top.headers["location"] == hierarchy.primary.url + handle_path
    assert httpx.get(hierarchy.mirror.url + handle_path, timeout=5).status_code == 200


def test_resolution_through_the_recursive_node(hierarchy: Hierarchy) -> None:
    register(hierarchy.primary, "88.100.1/PUMP-1", "https://pump.example/1")
    resp = resolve(hierarchy, "88.100.1/PUMP-1")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["responseCode"] == 1 and body["handle"] == "88.100.1/PUMP-1"
    urls = [v["data"]["value"] for v in body["values"] if v["type"] == "URL"]
    assert urls == ["https://pump.example/1"]
    assert [(hop["site"], hop["responseCode"]) for hop in body["path"]] == [
        (hierarchy.root.url, 302),
        (hierarchy.top.url, 302),
        (hierarchy.primary.url, 1),
    ]
    assert [hop.get("prefix", "") for hop in body["path"]] == ["", "88", "88.100"]

    plain = httpx.get(f"{hierarchy.recursive.url}/api/handles/88.100.1/PUMP-1", timeout=5)
    assert plain.status_code == 200 and plain.json()["values"] == body["values"]
    missing = resolve(hierarchy, "88.100.1/NO-SUCH-PUMP").json()
    assert missing["responseCode"] == 100


def test_mirror_answers_when_the_primary_dies_then_failure_names_every_site(
    hierarchy: Hierarchy,
) -> None:
    register(hierarchy.primary, "88.100.1/PUMP-2", "https://pump.example/2")
    register(hierarchy.primary, "88.100.1/PUMP-3", "https://pump.example/3")
    assert resolve(hierarchy, "88.100.1/PUMP-1").status_code == 200  # warms the referral cache

    hierarchy.primary.kill()
    resp = resolve(hierarchy, "88.100.1/PUMP-2")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["responseCode"] == 1
    assert [v["data"]["value"] for v in body["values"] if v["type"] == "URL"] == [
        "https://pump.example/2"
    ]
    last = body["path"][-1]
    assert last["site"] == hierarchy.mirror.url
    assert [f["site"] for f in last["failed"]] == [hierarchy.primary.url]

    hierarchy.mirror.kill()
    down = resolve(hierarchy, "88.100.1/PUMP-3")
    assert down.status_code == 502
    message = down.json()["message"]
    assert "88.100" in message
    assert hierarchy.primary.url in message and hierarchy.mirror.url in message
    assert down.json()["code"] == "site_unavailable"
    assert set(down.json()["detail"]["sites"]) == {hierarchy.primary.url, hierarchy.mirror.url}

    via_handle_api = httpx.get(f"{hierarchy.recursive.url}/api/handles/88.100.1/PUMP-3", timeout=15)
    assert via_handle_api.status_code == 502 and via_handle_api.json()["responseCode"] == 2

    cached = resolve(hierarchy, "88.100.1/PUMP-1")  # answered before the outage, still cached
    assert cached.status_code == 200 and cached.json()["path"][0]["cached"] is True
