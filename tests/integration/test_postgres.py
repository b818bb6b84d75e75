"""The identifier node on a real PostgreSQL: migrations, writes, resolution, bulk rows, templates.

Runs against ``postgresql://postgres@127.0.0.1:5432/test`` (``INDUNET_TEST_DATABASE_URL``
overrides) in a schema of its own, dropped and created afresh for each test, so it leaves the
database as it found it and never meets another run's tables.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import sqlalchemy as sa
from tests.conftest import need_service

from indunet import core, ids
from indunet.core import Settings
from indunet.web import AppState, build_state, create_app, open_database

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
SECRET = "pg-enterprise-key-1"
AUTH = ("300%3A0.NA/88.100.1", SECRET)
SITES = "http://127.0.0.1:8000/nodes"


def database_url() -> str:
    return os.environ.get("INDUNET_TEST_DATABASE_URL") or DEFAULT_URL


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The test database URL, with a fresh schema of this test on its search path."""
    base = database_url()
    url = sa.engine.make_url(base)
    need_service("PostgreSQL", url.host or "127.0.0.1", url.port or 5432)
    schema = f"indunet_test_{os.getpid()}"
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_state(pg_url: str, tmp_path: Path) -> Iterator[AppState]:
    state = build_state(Settings(database_url=pg_url, data_dir=tmp_path, port=8000))
    with state.engine.begin() as conn:
        ent = core.create_enterprise(
            conn,
            uscc=core.make_uscc("91440300MA5ABCDE"),
            name="深圳示例",
            actor="t",
            verified=True,
        )
    ids.allocate(state.hierarchy.front, "88.100.1", ent, actor="test", secret=SECRET)
    try:
        yield state
    finally:
        state.engine.dispose()


@pytest.fixture
async def client(pg_state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(pg_state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def url_value(url: str, index: int = 1) -> dict[str, object]:
    return {"index": index, "type": "URL", "data": {"format": "string", "value": url}}


def test_migrations_run_on_postgresql_and_are_idempotent(pg_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=pg_url, data_dir=tmp_path)
    engine = open_database(settings)
    try:
        assert engine.dialect.name == "postgresql"
        open_database(settings).dispose()  # a second run finds nothing to do
        tables = set(sa.inspect(engine).get_table_names())
        assert {"ids_handles", "ids_templates", "ids_prefixes", "core_audit_log"} <= tables
        with engine.connect() as conn:
            schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        assert schema.startswith("indunet_test_")
    finally:
        engine.dispose()


async def test_register_resolve_modify_delete(
    client: httpx.AsyncClient, pg_state: AppState
) -> None:
    h = "88.100.1/PG-1"
    created = await client.put(
        f"/api/handles/{h}", json={"values": [url_value("https://a.example")]}, auth=AUTH
    )
    assert created.status_code == 201, created.text

    recursive = pg_state.hierarchy.nodes["recursive"]
    answer = await recursive.resolve(h, recurse=True)
    assert answer.rc == ids.RC.SUCCESS
    assert [hop.site for hop in answer.path] == [f"{SITES}/root", f"{SITES}/88", f"{SITES}/88.100"]
    assert [v.value for v in answer.values or () if v.type == "URL"] == ["https://a.example"]

    modified = await client.put(
        f"/api/handles/{h}?index=1&index=2",
        json={
            "values": [
                url_value("https://b.example"),
                {"index": 2, "type": "EMAIL", "data": "ops@b.example"},
            ]
        },
        auth=AUTH,
    )
    assert modified.status_code == 200, modified.text
    values = {
        v["index"]: v["data"]["value"]
        for v in (await client.get(f"/api/handles/{h}")).json()["values"]
    }
    assert values[1] == "https://b.example" and values[2] == "ops@b.example"

    exists = await client.put(
        f"/api/handles/{h}?overwrite=false",
        json={"values": [url_value("https://c.example")]},
        auth=AUTH,
    )
    assert exists.status_code == 409

    removed = await client.delete(f"/api/handles/{h}?index=2", auth=AUTH)
    assert removed.status_code == 200
    assert 2 not in {v["index"] for v in (await client.get(f"/api/handles/{h}")).json()["values"]}

    deleted = await client.delete(f"/api/handles/{h}", auth=AUTH)
    assert deleted.status_code == 200
    assert (await client.get(f"/api/handles/{h}")).status_code == 404

    with pg_state.engine.connect() as conn:
        trail = [e.action for e in reversed(core.audit.entries(conn, target=h))]
    assert trail == ["handle.create", "handle.modify", "handle.remove_values", "handle.delete"]


def test_concurrent_value_writes_to_one_record_all_land(pg_state: AppState) -> None:
    node = pg_state.hierarchy.front
    principal = node.authenticate("300:0.NA/88.100.1", SECRET)
    node.put("88.100.1/PG-CONC", [url_value("https://c.example")], principal)
    errors: list[BaseException] = []

    def add(index: int) -> None:
        try:
            value = {"index": index, "type": "DESC", "data": f"part {index}"}
            node.put("88.100.1/PG-CONC", [value], principal, indices=[index])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(2, 10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    rec = node.store.get(ids.handle.key("88.100.1/PG-CONC"))
    assert rec is not None
    assert {v.index for v in rec.values if v.type == "DESC"} == set(range(2, 10))


def test_bulk_rows_with_insert_many(pg_state: AppState) -> None:
    node = pg_state.hierarchy.front
    rows = []
    for i in range(1000):
        h = ids.handle.parse(f"88.100.1/BULK-{i:04d}")
        record = orjson.dumps(
            [
                {
                    "index": 1,
                    "type": "URL",
                    "data": {"format": "string", "value": f"https://bulk.example/{i}"},
                    "ttl": 86400,
                    "timestamp": "2026-01-01T00:00:00Z",
                    "permissions": "1110",
                }
            ]
        ).decode()
        rows.append((h.key, h.text, "88.100.1", record))
    with pg_state.engine.begin() as conn:
        node.store.insert_many(conn, rows)

    principal = node.authenticate("300:0.NA/88.100.1", SECRET)
    total, first = node.list_handles("88.100.1", principal, page=0, page_size=3)
    assert total == 1000 and first == [
        "88.100.1/BULK-0000",
        "88.100.1/BULK-0001",
        "88.100.1/BULK-0002",
    ]
    rec = node.store.get("88.100.1/BULK-0999")
    assert rec is not None and rec.values[0].value == "https://bulk.example/999"

    with pytest.raises(sa.exc.IntegrityError), pg_state.engine.begin() as conn:
        node.store.insert_many(conn, [rows[0], rows[0]])
    assert node.list_handles("88.100.1", principal)[0] == 1000

    # the whole list walks PostgreSQL's key order in batches: every handle once, in page order
    walk = node.listing("0.NA/88.100.1", principal)
    walked = [h for batch in walk.batches(300) for h in batch]
    paged = node.list_handles("88.100.1", principal, page=0, page_size=1000)[1]
    assert walk.total == 1000 and walked == paged and len(set(walked)) == 1000


def test_bulk_import_file(pg_state: AppState, tmp_path: Path) -> None:
    node = pg_state.hierarchy.front
    principal = node.authenticate("300:0.NA/88.100.1", SECRET)
    lines = [
        orjson.dumps(
            {"handle": f"88.100.1/FILE-{i}", "values": [url_value(f"https://f.example/{i}")]}
        )
        for i in range(50)
    ]
    lines.insert(
        10,
        b'{"handle": "88.100.1/FILE-BAD", "values": [{"index": 1, "type": "NOPE", "data": "x"}]}',
    )
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    report = ids.import_file(node, path, principal, batch_size=16)
    assert (report.registered, report.failed) == (50, 1)
    assert report.errors[0][0] == 11 and "NOPE" in report.errors[0][2]
    again = ids.import_file(node, path, principal, batch_size=16)
    assert again.registered == 0
    assert node.list_handles("88.100.1", principal)[0] == 50


async def test_templates_are_stored_and_enforced(
    client: httpx.AsyncClient, pg_state: AppState
) -> None:
    template = ids.parse_template(
        "88.100.1",
        {
            "name": "motor",
            "version": "2.0",
            "industry_code": "C38",
            "items": [
                {
                    "name": "rated_kw",
                    "type": "number",
                    "index": 2000,
                    "required": True,
                    "maximum": 90,
                }
            ],
        },
    )
    with pg_state.engine.begin() as conn:
        pg_state.hierarchy.front.templates.add(conn, template, actor="test")
    assert [t.ref for t in ids.TemplateRegistry(pg_state.engine).for_prefix("88.100.1")] == [
        "motor@2.0"
    ]

    uses = {"index": 3, "type": "TEMPLATE", "data": "motor@2.0"}
    bad = await client.put(
        "/api/handles/88.100.1/MOTOR-1",
        json={"values": [uses, {"index": 2000, "type": "rated_kw", "data": "120"}]},
        auth=AUTH,
    )
    assert bad.status_code == 400 and "above maximum 90" in bad.json()["message"]
    good = await client.put(
        "/api/handles/88.100.1/MOTOR-1",
        json={"values": [uses, {"index": 2000, "type": "rated_kw", "data": "55"}]},
        auth=AUTH,
    )
    assert good.status_code == 201, good.text


async def test_dead_letters_keep_their_detail_name_and_params_on_postgresql(
    pg_state: AppState,
) -> None:
    from indunet.telemetry import DeadLetters, Letter

    letters = DeadLetters(pg_state.engine)
    params = {"point": "温度", "value": "nan", "maximum": "80"}
    await letters.record(
        [
            Letter("d1", "温度", "http", "out_of_range", "温度 is NaN", "{}", "value_nan", params),
            Letter("d1", "t", "mqtt", "undecodable", "not JSON", "\xff"),
        ]
    )
    named, old = sorted(letters.list(), key=lambda x: x.reason)
    assert (named.why, named.params) == ("value_nan", params)
    assert (old.why, old.params) == (None, None)
    letters.settle(
        [], [(named.id, "out_of_range", "t 9 > 5", None, "above_maximum", {"value": "9"})],
        actor="t", target="d1", detail={},
    )  # fmt: skip
    [again] = [x for x in letters.list() if x.id == named.id]
    assert (again.why, again.params) == ("above_maximum", {"value": "9"})
