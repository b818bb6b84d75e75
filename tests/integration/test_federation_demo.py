"""``indunet demo --federation``: the demo is a national instance, and two enterprise
instances, each its own process, enrol under it and report within a minute; they end with
the demo."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from tests.integration.servers import free_port, group

pytestmark = pytest.mark.integration


def test_the_demo_starts_a_national_instance_with_two_enterprises(tmp_path: Path) -> None:
    with group(tmp_path) as g:
        demo = g.prepare(
            "demo", "demo", "--federation", env={"INDUNET_MQTT_PORT": str(free_port())}
        )
        demo.start(timeout=90)
        password = demo.admin_password
        assert password, demo.output
        api = httpx.Client(base_url=demo.url, timeout=10.0)
        login = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
        api.headers["Authorization"] = f"Bearer {login.json()['token']}"
        deadline = time.monotonic() + 90
        while True:
            view = api.get("/api/v1/federation").json()
            if len(view["peers"]) == 2 and all(p["version"] for p in view["peers"]):
                break
            assert time.monotonic() < deadline, (view, demo.output)
            time.sleep(0.5)
        assert view["identity"]["level"] == "national"
        assert {(p["name"], p["role"], p["level"]) for p in view["peers"]} == {
            ("xm-machine", "child", "enterprise"),
            ("qz-textile", "child", "enterprise"),
        }
        # both are under the nation's supervision; one has submitted its self-assessment
        while True:
            seen = api.get("/api/v1/regulation").json()
            queue = api.get("/api/v1/regulation/gradings?grading_state=submitted").json()
            if seen["enterprises"] == 2 and queue["total"] == 1:
                break
            assert time.monotonic() < deadline + 30, (seen, queue, demo.output)
            time.sleep(0.5)
        assert queue["items"][0]["instance"] == "xm-machine"
        urls = re.findall(r"enrolled|at (http://127\.0\.0\.1:\d+)/", demo.output)
        children = [u for u in urls if u and u != "enrolled"]
        assert len(children) == 2, demo.output
        for url in children:
            assert httpx.get(url + "/api/v1/nodes", timeout=5).status_code == 200
        demo.stop()
        time.sleep(3)
        for url in children:  # the enterprise instances ended with the demo
            with pytest.raises(httpx.HTTPError):
                httpx.get(url + "/api/v1/nodes", timeout=2)
