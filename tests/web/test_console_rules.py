# ruff: noqa: F401, F811  (fixtures imported from test_console_platform are parameters here)
"""The rule pages in-process: the list (search, filters, paging), creating and editing with the
form (pre-filled), enabling and disabling, deleting after a confirmation page, trying a
condition on recent samples, the expression help, errors in the reader's language, tenancy
and hostile input."""

from __future__ import annotations

import re
import time

import httpx
from tests.web.test_console_platform import (
    HX,
    Fleet,
    admin_password,
    app_client,
    fleet,
    login,
)

from indunet import core
from indunet.core import Role
from indunet.telemetry import RuleEngine, Sample

ADMIN = core.User(0, "x", Role.PLATFORM_ADMIN, None)
HOT = {
    "name": "主轴轴承过热",
    "target": "device",
    "device_id": "cnc-0001",
    "condition": "bearing_temp > 80",
    "clear_condition": "",
    "duration_s": "20",
    "severity": "critical",
    "message": "{device}：轴承 {bearing_temp} °C",
    "enabled": "1",
}


def engine_of(fleet: Fleet) -> RuleEngine:
    rules = fleet.platform.rules
    assert rules is not None
    return rules


def rule_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-rule="(\d+)">', html)]


async def make(client: httpx.AsyncClient, **changes: str) -> int:
    resp = await client.post("/platform/rules/new", data=HOT | changes)
    assert resp.status_code == 303, resp.text
    found = re.search(r"/platform/rules/(\d+)\?saved=1", resp.headers["location"])
    assert found
    return int(found.group(1))


async def test_create_edit_prefilled_enable_disable_and_delete(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    form = await app_client.get("/platform/rules/new", params={"device": "cnc-0001"})
    assert form.status_code == 200 and 'value="cnc-0001"' in form.text
    assert 'data-point="bearing_temp"' in form.text and "°C" in form.text  # help at hand
    rule_id = await make(app_client)
    rule = engine_of(fleet).get(ADMIN, rule_id)
    assert (rule.name, rule.condition, rule.duration_s, rule.severity) == (
        "主轴轴承过热",
        "bearing_temp > 80",
        20.0,
        "critical",
    )
    page = await app_client.get(f"/platform/rules/{rule_id}", params={"saved": "1"})
    assert 'id="rule-saved"' in page.text
    for shown in ('value="主轴轴承过热"', 'value="bearing_temp &gt; 80"', 'value="20"'):
        assert shown in page.text, shown
    assert '<option value="critical" selected>' in page.text
    changed = await app_client.post(
        f"/platform/rules/{rule_id}", data=HOT | {"condition": "bearing_temp > 85"}
    )
    assert changed.status_code == 303
    assert engine_of(fleet).get(ADMIN, rule_id).condition == "bearing_temp > 85"

    off = await app_client.post(f"/platform/rules/{rule_id}/enabled", data={"enabled": "0"})
    assert off.status_code == 303 and not engine_of(fleet).get(ADMIN, rule_id).enabled
    listing = await app_client.get("/platform/rules", params={"enabled": "0"})
    assert rule_ids(listing.text) == [rule_id] and "已停用" in listing.text
    assert rule_ids((await app_client.get("/platform/rules", params={"enabled": "1"})).text) == []
    await app_client.post(f"/platform/rules/{rule_id}/enabled", data={"enabled": "1"})
    assert engine_of(fleet).get(ADMIN, rule_id).enabled

    confirm = await app_client.get(f"/platform/rules/{rule_id}/delete")
    assert confirm.status_code == 200 and "确定删除规则“主轴轴承过热”吗？" in confirm.text
    assert engine_of(fleet).get(ADMIN, rule_id)  # asking deletes nothing
    unconfirmed = await app_client.post(f"/platform/rules/{rule_id}/delete")
    assert unconfirmed.status_code == 400 and "请在确认页面上确认删除" in unconfirmed.text
    assert engine_of(fleet).get(ADMIN, rule_id)
    gone = await app_client.post(f"/platform/rules/{rule_id}/delete", data={"confirm": "yes"})
    assert gone.status_code == 303 and gone.headers["location"] == "/platform/rules?deleted=1"
    assert (await app_client.get(f"/platform/rules/{rule_id}")).status_code == 404


async def test_list_searches_filters_and_pages(app_client: httpx.AsyncClient, fleet: Fleet) -> None:
    await login(app_client, "ea")
    made = []
    for i in range(25):
        severity = "minor" if i % 5 == 0 else "major"
        device = "env-0001" if i % 2 else "cnc-0001"
        condition = "temperature > 30" if device == "env-0001" else "bearing_temp > 80"
        made.append(
            await make(
                app_client,
                name=f"规则-{i:02d}",
                device_id=device,
                condition=condition,
                severity=severity,
                message="",
            )
        )
    first = await app_client.get("/platform/rules")
    assert len(rule_ids(first.text)) == 20 and "共 25 条" in first.text
    second = await app_client.get("/platform/rules", params={"page": 2})
    assert len(rule_ids(second.text)) == 5
    assert set(rule_ids(first.text)) | set(rule_ids(second.text)) == set(made)
    found = await app_client.get("/platform/rules", params={"q": "规则-07"})
    assert rule_ids(found.text) == [made[7]]
    by_condition = await app_client.get("/platform/rules", params={"q": "TEMPERATURE"})
    assert "共 12 条" in by_condition.text
    minor = await app_client.get("/platform/rules", params={"severity": "minor"})
    assert set(rule_ids(minor.text)) == {made[i] for i in (0, 5, 10, 15, 20)}
    env = await app_client.get("/platform/rules", params={"device": "env-0001", "size": 50})
    assert len(rule_ids(env.text)) == 12
    hostile = await app_client.get(
        "/platform/rules",
        params={"severity": "<x>", "enabled": "maybe", "page": "-1", "q": "%" * 500},
    )
    assert hostile.status_code == 200 and 'id="no-rules"' in hostile.text


async def test_errors_read_in_the_readers_language_and_keep_what_was_typed(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    cases = {
        "bearing_temp >": "表达式语法错误",
        "__import__('os')": "不允许调用 __import__",
        "_secret > 1": "不允许以下划线开头的名称",
        "bearing_temp & 1": "不允许的运算符",
        "open('x')": "不允许调用 open",
        "nozzle_temp > 3": "没有测点 nozzle_temp",
    }
    for condition, text in cases.items():
        resp = await app_client.post("/platform/rules/new", data=HOT | {"condition": condition})
        assert resp.status_code == 400, condition
        assert text in resp.text, (condition, resp.text[-2000:])
        assert 'value="主轴轴承过热"' in resp.text  # the form keeps what was typed
    bad_duration = await app_client.post("/platform/rules/new", data=HOT | {"duration_s": "soon"})
    assert bad_duration.status_code == 400 and "持续时长应为秒数" in bad_duration.text
    too_long = await app_client.post("/platform/rules/new", data=HOT | {"duration_s": "99999999"})
    assert too_long.status_code == 400 and "持续时长应为 0 到 604800 秒" in too_long.text
    no_target = await app_client.post("/platform/rules/new", data=HOT | {"device_id": ""})
    assert no_target.status_code == 400 and "请填写设备编号" in no_target.text
    await make(app_client)
    twice = await app_client.post("/platform/rules/new", data=HOT)
    assert twice.status_code == 409 and "已有名为“主轴轴承过热”的规则" in twice.text
    app_client.cookies.set("lang", "en")
    english = await app_client.post("/platform/rules/new", data=HOT | {"condition": "x ** y"})
    assert english.status_code == 400 and "The exponent of ** must be a number literal" in (
        english.text
    )
    assert len(engine_of(fleet).find(ADMIN)) == 1  # nothing else was written


async def test_trying_a_condition_on_recent_samples(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "eu")  # reading users may try conditions too
    now = int(time.time() * 1000)
    # a sample every 10 s, ending 10 s ago; the fleet's own 61.25 °C, 5 s ago, clears the last
    temps = [70, 85, 86, 87, 70, 90, 91, 92, 93]
    start = now - 10_000 * len(temps)
    fleet.platform.store.write_batch(
        [
            Sample("cnc-0001", "bearing_temp", start + i * 10_000, float(t))
            for i, t in enumerate(temps)
        ]
    )
    params = {"device_id": "cnc-0001", "condition": "bearing_temp > 80", "duration_s": "15"}
    resp = await app_client.get("/platform/rules/test", params=params, headers=HX)
    assert resp.status_code == 200 and "<html" not in resp.text
    assert "会产生 2 次告警" in resp.text
    rows = re.findall(r'<tr><td class="nowrap">([^<]+)</td><td class="nowrap">', resp.text)
    assert len(rows) == 2 and "至今仍活动" not in resp.text
    longer = await app_client.get(
        "/platform/rules/test", params=params | {"duration_s": "25"}, headers=HX
    )
    assert "会产生 1 次告警" in longer.text  # the first spell held 20 s only
    bad = await app_client.get(
        "/platform/rules/test", params=params | {"condition": "bearing_temp >"}, headers=HX
    )
    assert bad.status_code == 200 and "表达式语法错误" in bad.text
    window = await app_client.get(
        "/platform/rules/test", params=params | {"window": "forever"}, headers=HX
    )
    assert "无法识别的时间范围" in window.text
    plain = await app_client.get("/platform/rules/test", params=params | {"window": "x"})
    assert plain.status_code == 400
    assert engine_of(fleet).find(ADMIN) == []
    assert [a.id for a in fleet.platform.alarms.find(ADMIN)] == [fleet.alarm_b, fleet.alarm_a]


async def test_tenancy_and_roles(app_client: httpx.AsyncClient, fleet: Fleet) -> None:
    await login(app_client, "ea")
    rule_id = await make(app_client)
    await login(app_client, "eb")  # another enterprise: A's rule and device are not found
    assert (await app_client.get(f"/platform/rules/{rule_id}")).status_code == 404
    assert (await app_client.get(f"/platform/rules/{rule_id}/delete")).status_code == 404
    for path, data in (
        (f"/platform/rules/{rule_id}", HOT),
        (f"/platform/rules/{rule_id}/enabled", {"enabled": "0"}),
        (f"/platform/rules/{rule_id}/delete", {"confirm": "yes"}),
    ):
        assert (await app_client.post(path, data=data)).status_code == 404, path
    for params in ({"device": "cnc-0001"}, {"device": "nothing-here"}):
        assert (await app_client.get("/platform/rules", params=params)).status_code == 404
    trial = {"device_id": "cnc-0001", "condition": "bearing_temp > 1"}
    assert (await app_client.get("/platform/rules/test", params=trial)).status_code == 404
    help_ = {"device_id": "cnc-0001"}
    assert (await app_client.get("/platform/rules/help", params=help_)).status_code == 404
    assert rule_ids((await app_client.get("/platform/rules")).text) == []
    made = await app_client.post("/platform/rules/new", data=HOT)  # A's device from B
    assert made.status_code == 404
    await login(app_client, "eu")  # A's reading user: sees, may not change
    page = await app_client.get(f"/platform/rules/{rule_id}")
    assert page.status_code == 200 and 'id="save-rule"' not in page.text
    refused = await app_client.post(f"/platform/rules/{rule_id}/enabled", data={"enabled": "0"})
    assert refused.status_code == 403
    deleting = await app_client.post(f"/platform/rules/{rule_id}/delete", data={"confirm": "yes"})
    assert deleting.status_code == 403
    assert engine_of(fleet).get(ADMIN, rule_id).enabled


async def test_every_rule_page_in_english(
    app_client: httpx.AsyncClient, fleet: Fleet, admin_password: str
) -> None:
    await login(app_client, "admin", admin_password)
    app_client.cookies.set("lang", "en")
    rule_id = await make(app_client)
    for path in (
        "/platform/rules",
        "/platform/rules/new",
        f"/platform/rules/{rule_id}",
        f"/platform/rules/{rule_id}/delete",
    ):
        resp = await app_client.get(path)
        assert resp.status_code == 200, path
        assert re.search(r"\brules\.[a-z_.]+", re.sub(r"<[^>]+>", " ", resp.text)) is None, path
    help_ = await app_client.get(
        "/platform/rules/help", params={"target": "model", "model_id": "indunet:env-sensor"}
    )
    assert 'data-point="temperature"' in help_.text and "Expression help" in help_.text


def test_every_expression_refusal_reads_from_both_catalogues() -> None:
    from indunet.telemetry import Expression, InvalidExpression
    from indunet.web.console.i18n import catalogue

    refused = [
        "",
        "x" * 501,
        "a >",
        "-" * 40 + "a",
        " + ".join(["a"] * 150),
        "a.b",
        "1 / 0 > a",
        "b'x' == a",
        "_a > 1",
        "abs > 1",
        "~a",
        "a & 1",
        "'x' + a",
        "a ** b",
        "a ** 100",
        "a is None",
        "a in b",
        "(1, 2)",
        "[a]",
        "open(a)",
        "round(a, ndigits=2)",
        "abs(a, b)",
    ]
    reasons = set()
    for text in refused:
        try:
            Expression.parse(text)
        except InvalidExpression as exc:
            assert exc.reason and exc.reason.startswith("expr_"), text
            reasons.add(exc.reason)
            for locale in ("zh-CN", "en"):
                said = catalogue(locale)[f"error.{exc.reason}"].format(**exc.params)
                assert "{" not in said, (text, said)
        else:
            raise AssertionError(f"{text!r} was accepted")
    assert len(reasons) >= 18, sorted(reasons)
