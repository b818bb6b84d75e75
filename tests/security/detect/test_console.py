"""The detection pages render in both languages, search and page on the server, and show
an enterprise user only their own enterprise's baseline."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.conftest import USCC_B
from tests.web.test_console_platform import CJK, PASSWORD, add_user, text_of

from indunet import core
from indunet.core import Role
from indunet.security.detect.baseline import Item
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE

from .test_api import det_of

RAW_KEY = re.compile(r"\bsecurity\.[a-z_]+\.[a-z_.]+\b")


@pytest.fixture
async def client(state: AppState, enterprise: core.Enterprise) -> AsyncIterator[httpx.AsyncClient]:
    add_user(state, "root2", Role.PLATFORM_ADMIN)
    add_user(state, "eu", Role.ENTERPRISE_USER, enterprise.id)
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def login(client: httpx.AsyncClient, username: str, lang: str) -> None:
    client.cookies.clear()
    resp = await client.post("/login", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 303 and SESSION_COOKIE in client.cookies, resp.text
    client.cookies.set("lang", lang)


def clean(html: str, lang: str, data: frozenset[str] = frozenset()) -> str:
    """The page's text, with no raw catalogue key and, in English, no Chinese but the
    language switch and ``data`` (names people gave things)."""
    seen = text_of(html)
    assert RAW_KEY.findall(seen) == [] and "{{" not in html
    if lang == "en":
        assert set(CJK.findall(seen)) <= {"中文", *data}, set(CJK.findall(seen))
    return seen


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_rules_page(client: httpx.AsyncClient, lang: str) -> None:
    await login(client, "eu", lang)
    page = await client.get("/security/rules")
    assert page.status_code == 200
    seen = clean(page.text, lang)
    assert page.text.count("data-rule=") == 20  # the first page of 20 built-in rules
    ot = await client.get("/security/rules", params={"q": "ot."})
    assert 10 <= ot.text.count("data-rule=") < 20
    assert ("检测规则" if lang == "zh-CN" else "Detection rules") in seen
    found = await client.get("/security/rules", params={"q": "T0857"})
    assert found.text.count("data-rule=") == 1 and 'data-rule="ot.firmware.update"' in found.text
    title = "设备固件更新" if lang == "zh-CN" else "Device firmware update"
    assert title in text_of(found.text)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_attack_matrix_and_a_technique(client: httpx.AsyncClient, lang: str) -> None:
    await login(client, "eu", lang)
    page = await client.get("/security/attack", params={"technique": "T0843", "by": "coverage"})
    assert page.status_code == 200
    seen = clean(page.text, lang)
    assert page.text.count('class="tactic"') == 12
    assert 'data-technique="T0843"' in page.text and "Program Download" in seen
    assert 'id="technique"' in page.text and "M08" in seen
    assert "DET" in seen and ("日志来源" if lang == "zh-CN" else "Log source") in seen
    bad = await client.get("/security/attack", params={"technique": "<script>"})
    assert bad.status_code == 200 and 'id="technique"' not in bad.text


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_baseline_page_is_scoped(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise, lang: str
) -> None:
    det = det_of(state)
    with state.engine.begin() as conn:
        other = core.create_enterprise(conn, uscc=USCC_B, name="丙厂", actor="t", verified=True)
    det.start_learning(enterprise.id, "t")
    det.baseline_store.write(
        [
            Item(
                enterprise.id,
                "conversation",
                "10.0.0.5",
                "10.0.1.1",
                "modbus",
                502,
                first_seen=1.8e9,
            ),
            Item(
                other.id, "conversation", "10.66.0.5", "10.66.1.1", "modbus", 502, first_seen=1.8e9
            ),
        ]
    )
    await login(client, "eu", lang)
    page = await client.get("/security/baseline")
    assert page.status_code == 200
    seen = clean(page.text, lang, frozenset({enterprise.name}))
    assert "10.0.1.1" in seen and "10.66" not in seen
    assert ("学习中" if lang == "zh-CN" else "Learning") in seen
    await login(client, "root2", lang)
    page = await client.get("/security/baseline", params={"q": "10.66"})
    assert "10.66.1.1" in text_of(page.text) and "10.0.1.1" not in text_of(page.text)


async def test_platform_admins_switch_rules_in_the_console(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await login(client, "eu", "en")
    page = await client.get("/security/rules")
    assert "/enabled" not in page.text  # no switch offered
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text)
    assert token is not None
    refused = await client.post(
        "/security/rules/ot.mode.stop/enabled", data={"enabled": "0", "csrf_token": token[1]}
    )
    assert refused.status_code == 403 and 'id="rule-error"' in refused.text
    await login(client, "root2", "en")
    page = await client.get("/security/rules")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    done = await client.post(
        "/security/rules/ot.mode.stop/enabled", data={"enabled": "0", "csrf_token": token[1]}
    )
    assert done.status_code == 303
    assert det_of(state).engine.ruleset.get("ot.mode.stop").enabled is False  # type: ignore[union-attr]
    missing = await client.post(
        "/security/rules/no.such/enabled", data={"enabled": "0", "csrf_token": token[1]}
    )
    assert missing.status_code == 404 and 'id="rule-error"' in missing.text


async def test_an_enterprise_admin_learns_enforces_and_removes_in_the_console(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    add_user(state, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
    with state.engine.begin() as conn:
        other = core.create_enterprise(conn, uscc=USCC_B, name="丙厂", actor="t", verified=True)
    await login(client, "ea", "zh-CN")
    page = await client.get("/security/baseline")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None and 'id="start-learning"' in page.text
    csrf = token[1]
    go = await client.post(
        "/security/baseline",
        data={"op": "learn", "enterprise_id": str(enterprise.id), "csrf_token": csrf},
    )
    assert go.status_code == 303
    det = det_of(state)
    assert det.baseline.periods[enterprise.id].mode == "learning"
    theirs = await client.post(
        "/security/baseline",
        data={"op": "learn", "enterprise_id": str(other.id), "csrf_token": csrf},
    )
    assert theirs.status_code == 404 and other.id not in det.baseline.periods
    det.baseline_store.write(
        [Item(enterprise.id, "function", None, "10.0.1.1", "modbus", function="5")]
    )
    page = await client.get("/security/baseline")
    item_id = re.search(r'name="item_id" value="(\d+)"', page.text)
    assert item_id is not None
    gone = await client.post(
        "/security/baseline",
        data={
            "op": "remove",
            "enterprise_id": str(enterprise.id),
            "item_id": item_id[1],
            "csrf_token": csrf,
        },
    )
    assert gone.status_code == 303
    assert det.baseline_store.page(enterprise.id, "", "", 0, 20)[1] == 0
    done = await client.post(
        "/security/baseline",
        data={"op": "enforce", "enterprise_id": str(enterprise.id), "csrf_token": csrf},
    )
    assert done.status_code == 303 and det.baseline.periods[enterprise.id].mode == "enforcing"
    bad = await client.post(
        "/security/baseline", data={"op": "remove", "enterprise_id": "x", "csrf_token": csrf}
    )
    assert bad.status_code == 400


PLANT_RULES = """rules:
  - id: plant.night-write
    version: 1
    title: {zh-CN: 夜间写操作, en: Write at night}
    level: 9
    techniques: [T0855]
    match:
      kind: ot.transaction
      fields.write: true
"""


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_platform_admins_upload_and_remove_rule_files_in_the_console(
    client: httpx.AsyncClient, state: AppState, lang: str
) -> None:
    await login(client, "eu", lang)
    page = await client.get("/security/rules")
    assert 'id="rule-upload"' not in page.text  # offered to platform admins only
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text)
    assert token is not None
    refused = await client.post(
        "/security/rules/files",
        data={"csrf_token": token[1]},
        files={"file": ("plant.yml", PLANT_RULES.encode(), "text/yaml")},
    )
    assert refused.status_code == 403 and 'id="rule-error"' in refused.text
    await login(client, "root2", lang)
    page = await client.get("/security/rules")
    assert 'id="rule-upload"' in page.text and 'data-file="ot-commands.yml"' in page.text
    clean(page.text, lang)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    csrf = token[1]
    # a file with an error changes nothing; the page names the line, in the reader's language
    broken = PLANT_RULES.replace("level: 9", "level: 99")
    bad = await client.post(
        "/security/rules/files",
        data={"csrf_token": csrf},
        files={"file": ("plant.yml", broken.encode(), "text/yaml")},
    )
    assert bad.status_code == 400 and 'id="rule-error"' in bad.text
    assert 'hx-get="/security/rules"' in bad.text  # the list again, not the POST path
    assert ("plant.yml 第 5 行" if lang == "zh-CN" else "plant.yml, line 5") in text_of(bad.text)
    assert det_of(state).engine.ruleset.get("plant.night-write") is None
    latin1 = await client.post(
        "/security/rules/files",
        data={"csrf_token": csrf},
        files={"file": ("plant.yml", "# caf\xe9\n".encode("latin-1"), "text/yaml")},
    )
    assert latin1.status_code == 400 and "UTF-8" in latin1.text
    big = await client.post(
        "/security/rules/files",
        data={"csrf_token": csrf},
        files={"file": ("plant.yml", b"#" * (256 * 1024 + 1), "text/yaml")},
    )
    assert big.status_code == 413 and 'id="rule-error"' in big.text
    ok = await client.post(
        "/security/rules/files",
        data={"csrf_token": csrf, "name": "plant.yml"},
        files={"file": ("whatever.yaml", PLANT_RULES.encode(), "text/yaml")},
    )
    assert ok.status_code == 303, ok.text
    assert det_of(state).engine.ruleset.get("plant.night-write") is not None
    shown = await client.get(ok.headers["location"])
    assert 'id="rule-uploaded"' in shown.text and 'data-file="plant.yml"' in shown.text
    gone = await client.post("/security/rules/files/plant.yml/delete", data={"csrf_token": csrf})
    assert gone.status_code == 303
    assert det_of(state).engine.ruleset.get("plant.night-write") is None
    again = await client.post("/security/rules/files/plant.yml/delete", data={"csrf_token": csrf})
    assert again.status_code == 404 and 'id="rule-error"' in again.text
