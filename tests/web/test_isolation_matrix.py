"""Tenant isolation over every route: another enterprise's things are not found, anywhere.

The operations come from the OpenAPI document and the console's routes (tests/web/isolation.py),
so a route added later is walked without anyone listing it, or the first test fails naming
what it needs. Enterprise B has one of everything; A's admin and user try each of B's ids on
every operation that takes one and must get 404: not 200 with B's data, not 403 (which says
the thing exists), not a 5xx. B's own admin gets something other than 404 for the same
request (a regulator too, for reads), which proves the ids were real. Queries and
bodies that name B's things, and every list A may read, are checked the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.web.isolation import (
    B_HANDLE,
    BODY_FIELDS,
    BODY_TENANT_FIELDS,
    MISSING,
    OVERSEERS_ONLY,
    PUBLIC,
    PUBLIC_QUERY,
    TENANT_PARAMS,
    THING,
    Operation,
    Tenants,
    build,
    leaks,
    operations,
)

from indunet.ids import complaints
from indunet.web import AppState, create_app

STRANGERS = ("a_admin", "a_user")  # A's users, who must not find B's things
WRITE_ORDER = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}


@pytest.fixture
async def tenants(state: AppState) -> AsyncIterator[Tenants]:
    assert state.platform is not None
    app = create_app(state)
    await state.platform.pipeline.start()
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield await build(state, client)
    finally:
        await state.platform.pipeline.stop()


def walked(state: AppState) -> list[Operation]:
    ops, bad = operations(create_app(state))
    assert bad.problems == [], "routes the isolation matrix cannot walk:\n" + "\n".join(
        bad.problems
    )
    return [op for op in ops if op.key not in PUBLIC and op.key not in OVERSEERS_ONLY]


def owner_order(op: Operation) -> tuple[int, int, bool, bool]:
    """Reads first, then changes, then deletes (deepest path first, so parents go last; a
    device last of all, since deleting it purges its rules, alarms and commands; a console
    form's delete, which the matrix sends unconfirmed, before the API's DELETE of the same
    thing)."""
    owns_others = op.path.endswith("/devices/{device_id}")
    deletes = op.method == "POST" and op.path.endswith("/delete")  # a console form's delete
    rank = WRITE_ORDER["DELETE"] if deletes else WRITE_ORDER.get(op.method, 1)
    return (rank, -op.path.count("/"), owns_others, op.method == "DELETE")


def _said(resp: httpx.Response, missing: httpx.Response | None = None) -> str:
    leaked = sorted(set(leaks(resp.text)))
    shows = f", shows B's {leaked}" if leaked else ""
    if missing is None:
        compared = ""
    elif missing.status_code == resp.status_code:
        compared = " (a missing thing gets the same status)"
    else:
        compared = f" (a missing thing gets {missing.status_code}: B's thing is told apart)"
    return f"{resp.status_code}{shows}{compared}: {resp.text[:160]!r}"


def test_every_route_is_walked_or_listed_as_public(state: AppState) -> None:
    ops = walked(state)
    console = [op for op in ops if op.console]
    api = [op for op in ops if not op.console]
    assert any(op.path == "/platform/devices/{device_id}" for op in console)
    assert any(op.path == "/api/v1/devices/{device_id}" for op in api)
    assert len(ops) > 60, [str(op) for op in ops]


async def test_another_tenants_ids_are_not_found_on_every_route(
    state: AppState, tenants: Tenants
) -> None:
    ops = [op for op in walked(state) if op.path_params]
    failures: list[str] = []
    requests = 0
    for op in ops:
        path, query = tenants.path_values(op), tenants.plain_query(op)
        for who in STRANGERS:
            resp = await tenants.call(who, op, path, query)
            requests += 1
            if resp.status_code != 404:
                missing = await tenants.call(who, op, tenants.missing_path_values(op), query)
                failures.append(f"{op} as {who}: {_said(resp, missing)}")
    for op in sorted(ops, key=owner_order):
        path, query = tenants.path_values(op), tenants.plain_query(op)
        owners = ("b_admin", "regulator") if op.method == "GET" else ("b_admin",)
        for who in owners:
            resp = await tenants.call(who, op, path, query)
            requests += 1
            if resp.status_code == 404 or resp.status_code >= 500:
                failures.append(f"{op} as {who} (should find B's thing): {_said(resp)}")
    print(f"\nisolation matrix: {len(ops)} operations with ids, {requests} requests")
    assert failures == [], f"{len(failures)} cross-tenant answers are wrong:\n" + "\n".join(
        failures
    )


async def test_naming_another_tenant_in_a_query_is_not_found(
    state: AppState, tenants: Tenants
) -> None:
    tried: list[tuple[Operation, str]] = [
        (op, name)
        for op in walked(state)
        if not op.path_params
        for name in op.query_params
        if name in TENANT_PARAMS and (op.method, op.path, name) not in PUBLIC_QUERY
    ]
    assert len(tried) >= 10, tried  # devices, rules, alarms, dead letters, models...
    failures: list[str] = []
    for op, name in tried:
        query = {**tenants.plain_query(op), name: tenants.b[TENANT_PARAMS[name]]}
        for who in STRANGERS:
            resp = await tenants.call(who, op, {}, query)
            if resp.status_code != 404:
                gone = {**query, name: MISSING[TENANT_PARAMS[name]]}
                missing = await tenants.call(who, op, {}, gone)
                failures.append(f"{op}?{name}=B's as {who}: {_said(resp, missing)}")
        resp = await tenants.call("b_admin", op, {}, query)
        if resp.status_code == 404 or resp.status_code >= 500:
            failures.append(f"{op}?{name}=B's as b_admin (should find it): {_said(resp)}")
    print(f"\nisolation matrix: {len(tried)} query parameters naming B's things")
    assert failures == [], f"{len(failures)} cross-tenant answers are wrong:\n" + "\n".join(
        failures
    )


def _with(body: dict[str, Any], value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in body.items():
        if v == THING:
            out[key] = value
        elif isinstance(v, list):
            out[key] = [_with(x, value) if isinstance(x, dict) else x for x in v]
        else:
            out[key] = v
    return out


async def test_naming_another_tenants_thing_in_a_body_changes_nothing(
    state: AppState, tenants: Tenants
) -> None:
    ops = {op.key: op for op in walked(state)}
    failures: list[str] = []
    for (method, path, field), body in BODY_FIELDS.items():
        op = ops[(method, path)]
        kind = BODY_TENANT_FIELDS[field]
        mine = {n: tenants.a[TENANT_PARAMS[n]] for n in op.path_params}
        for who in STRANGERS:
            # The thing that does not exist first: a wrongly accepted change of B's would
            # otherwise make the second request collide with it.
            nothing = await tenants.send(who, op, mine, _with(body, MISSING[kind]))
            theirs = await tenants.send(who, op, mine, _with(body, tenants.b[kind]))
            same = theirs.status_code == nothing.status_code
            if theirs.status_code != 404 and (theirs.is_success or not same):
                failures.append(f"{op} with B's {field} as {who}: {_said(theirs, nothing)}")
        if not op.path_params:
            proof = await tenants.send("b_admin", op, {}, _with(body, tenants.b[kind]))
            if proof.status_code == 404 or proof.status_code >= 500:
                failures.append(f"{op} with B's {field} as b_admin (should work): {_said(proof)}")
    print(f"\nisolation matrix: {len(BODY_FIELDS)} body fields naming B's things")
    assert failures == [], f"{len(failures)} cross-tenant answers are wrong:\n" + "\n".join(
        failures
    )


async def test_lists_never_show_another_tenants_things(state: AppState, tenants: Tenants) -> None:
    lists = [op for op in walked(state) if op.method == "GET" and not op.path_params]
    failures: list[str] = []
    seen_by_overseer = 0
    for op in lists:
        query = tenants.plain_query(op)
        for who in STRANGERS:
            resp = await tenants.call(who, op, {}, query)
            found = sorted(set(leaks(resp.text)))
            if found or resp.status_code >= 500:
                failures.append(f"{op} as {who}: {resp.status_code}, shows B's {found}")
        overseer = await tenants.call("overseer", op, {}, query)
        seen_by_overseer += any(leaks(overseer.text))
    print(
        f"\nisolation matrix: {len(lists)} lists, {seen_by_overseer} show B's things to overseers"
    )
    # The markers are real: overseers do see B's things in many of these lists.
    assert seen_by_overseer >= 8, seen_by_overseer
    assert failures == [], f"{len(failures)} lists show B's things to A:\n" + "\n".join(failures)


async def test_another_tenants_identifier_records_cannot_be_changed(tenants: Tenants) -> None:
    """The Handle API is public for reads (PUBLIC); A's credentials still change nothing of B's."""
    url = f"/api/handles/{B_HANDLE}"
    before = (await tenants.client.get(url)).json()
    assert before["responseCode"] == 1, before
    record = {"values": [{"index": 1, "type": "URL", "data": {"value": "https://evil.example"}}]}
    for who in STRANGERS:
        for send in (
            tenants.client.put(url, json=record, headers=tenants.users[who].bearer),
            tenants.client.delete(url, headers=tenants.users[who].bearer),
        ):
            resp = await send
            assert 400 <= resp.status_code < 500, (who, resp.status_code, resp.text)
    assert (await tenants.client.get(url)).json()["values"] == before["values"]


async def test_complaints_are_found_by_overseers_only(state: AppState, tenants: Tenants) -> None:
    """A complaint belongs to no enterprise: every enterprise's user gets 404 on each of its
    routes, exactly as for a complaint that does not exist; the regulator reads it."""
    form = complaints.ComplaintForm("service", "", "slow", "Wang", contact_email="w@example.cn")
    with state.engine.begin() as conn:
        filed = complaints.file(conn, form, source="matrix")
    ops = [op for op in operations(create_app(state))[0] if op.key in OVERSEERS_ONLY]
    assert len(ops) == len(OVERSEERS_ONLY)
    failures: list[str] = []
    for op in sorted(ops, key=owner_order):
        for cid in (filed.id, 987_654):
            path = {"complaint_id": cid, "action": "start"}
            for who in (*STRANGERS, "b_admin"):
                resp = await tenants.call(who, op, path, {})
                if resp.status_code != 404:
                    failures.append(f"{op} as {who} for {cid}: {_said(resp)}")
    for op in ops:
        if op.method == "GET":
            path = {"complaint_id": filed.id}
            resp = await tenants.call("regulator", op, path, {})
            if resp.status_code != 200 or filed.reference not in resp.text:
                failures.append(f"{op} as regulator: {_said(resp)}")
    assert failures == [], "\n".join(failures)
