"""Migration ia0001: HS_ADMIN permission strings stored in Indunet's old left-first order are
reversed into Handle.Net's order, so every identity keeps the rights it held; other values,
other formats and the history's cut entries stay as they were. ``check_migration`` is run on
SQLite here and on PostgreSQL in tests/integration/test_ids_admin_postgres.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from indunet import core, ids
from indunet.core.db import CORE_MIGRATIONS
from indunet.ids import Perm
from indunet.ids.admin import rights_of

#: Old strings, read from the left: first character add handle, last character list handles.
OLD_DEFAULT = "011111110011"  # pyhandle's default, as Indunet used to read it
OLD_ADD_HANDLE_ONLY = "100000000000"
MANY = 1_200  # more than the migration's batch, twice over


def _config(conn: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(CORE_MIGRATIONS))
    locations = [CORE_MIGRATIONS / "versions", ids.MIGRATIONS]
    cfg.set_main_option("version_locations", " ".join(str(p) for p in locations))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["connection"] = conn
    return cfg


def _alembic(engine: sa.Engine, verb: str, target: str) -> None:
    with engine.begin() as conn:
        getattr(command, verb)(_config(conn), target)


def _admin(bits: str, handle: str = "0.NA/88.100.1", index: int = 300) -> dict[str, Any]:
    value = {"handle": handle, "index": index, "permissions": bits}
    return {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": value},
            "ttl": 86400, "timestamp": "2026-12-01T00:00:00Z", "permissions": "1110"}  # fmt: skip


def _url(text: str) -> dict[str, Any]:
    return {"index": 1, "type": "URL", "data": {"format": "string", "value": text},
            "ttl": 86400, "timestamp": "2026-12-01T00:00:00Z", "permissions": "1110"}  # fmt: skip


def _dump(values: Any) -> str:
    return orjson.dumps(values).decode()


RECORDS = {
    ("front", "88.100.1/PH-1"): [_url("https://x/1"), _admin(OLD_DEFAULT)],
    ("front", "88.100.1/ONE"): [_admin(OLD_ADD_HANDLE_ONLY, "88.100.1/OPS")],
    ("front", "0.NA/88.100.1"): [_admin("111111111111")],
    ("front", "88.100.1/TEXT"): [_url(OLD_DEFAULT)],  # a string that only looks like bits
    ("front", "88.100.1/ODD"): [_admin("1")],  # not 12 characters: never a right, left alone
    ("other", "88.100.1/PH-1"): [_admin(OLD_DEFAULT, "88.100.1/OPS", 301)],
}


def _seed(engine: sa.Engine) -> None:
    now = datetime.now(UTC)
    handles = sa.table(
        "ids_handles", *(sa.column(c) for c in
                         ("node", "hkey", "handle", "prefix", "record", "created_at", "updated_at"))
    )  # fmt: skip
    history = sa.table(
        "ids_handle_history",
        *(sa.column(c) for c in ("node", "hkey", "handle", "action", "actor", "at", "before")),
    )
    rows = [
        {"node": node, "hkey": key, "handle": key, "prefix": "88.100.1", "record": _dump(values),
         "created_at": now, "updated_at": now}
        for (node, key), values in RECORDS.items()
    ]  # fmt: skip
    rows += [
        {"node": "bulk", "hkey": f"88.100.1/B-{i:05d}", "handle": f"88.100.1/B-{i:05d}",
         "prefix": "88.100.1", "record": _dump([_admin(OLD_DEFAULT)]),
         "created_at": now, "updated_at": now}
        for i in range(MANY)
    ]  # fmt: skip
    entry = {"node": "front", "hkey": "88.100.1/PH-1", "handle": "88.100.1/PH-1",
             "action": "handle.modify", "actor": "t", "at": now}  # fmt: skip
    befores = [
        _dump([_url("https://x/0"), _admin(OLD_DEFAULT)]),
        _dump({"cut": True, "values": [{"index": 100, "type": "HS_ADMIN"}]}),
        None,
    ]
    with engine.begin() as conn:
        conn.execute(handles.insert(), rows)
        conn.execute(history.insert(), [{**entry, "before": b} for b in befores])


def _records(engine: sa.Engine) -> dict[tuple[str, str], str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT node, hkey, record FROM ids_handles")).all()
    return {(r[0], r[1]): r[2] for r in rows}


def _befores(engine: sa.Engine) -> list[str | None]:
    with engine.connect() as conn:
        query = sa.text("SELECT before FROM ids_handle_history ORDER BY id")
        return [r[0] for r in conn.execute(query)]


def _bits(record: str, at: int = -1) -> str:
    return str(orjson.loads(record)[at]["data"]["value"]["permissions"])


def _held_before(old: str) -> frozenset[Perm]:
    """The rights Indunet enforced for a string before the fix (read from the left)."""
    return frozenset(p for p in Perm if old[p] == "1")


def check_migration(engine: sa.Engine) -> None:
    """Old strings stored before ia0001 come out reversed; the rest is untouched; twice is once."""
    _alembic(engine, "upgrade", "ih0001")  # ids_handles and its history, without ia0001
    _seed(engine)
    before = _records(engine)
    core.migrate(engine, [ids.MIGRATIONS])  # every head, ia0001 among them
    after = _records(engine)

    pyhandle = _bits(after[("front", "88.100.1/PH-1")])
    assert pyhandle == "110011111110"
    assert rights_of(pyhandle) == _held_before(OLD_DEFAULT)  # the identity keeps its rights
    one = _bits(after[("front", "88.100.1/ONE")])
    assert one == "000000000001" and rights_of(one) == {Perm.ADD_HANDLE}
    assert _bits(after[("other", "88.100.1/PH-1")]) == "110011111110"
    assert all(_bits(after[("bulk", f"88.100.1/B-{i:05d}")]) == "110011111110" for i in range(MANY))
    for untouched in [("front", "0.NA/88.100.1"), ("front", "88.100.1/TEXT"), ("front", "88.100.1/ODD")]:  # fmt: skip
        assert after[untouched] == before[untouched]
    url = orjson.loads(after[("front", "88.100.1/PH-1")])[0]
    assert url == _url("https://x/1")

    history = _befores(engine)
    assert history[0] is not None and _bits(history[0]) == "110011111110"
    assert orjson.loads(history[0])[0] == _url("https://x/0")
    assert history[1] == _dump({"cut": True, "values": [{"index": 100, "type": "HS_ADMIN"}]})
    assert history[2] is None

    core.migrate(engine, [ids.MIGRATIONS])  # ia0001 is applied: nothing is reversed again
    assert _records(engine) == after and _befores(engine) == history
    _alembic(engine, "downgrade", "ids_admin_bits@base")
    assert _records(engine) == before


def test_migration_reverses_stored_admin_strings_on_sqlite(tmp_path: Path) -> None:
    engine = core.make_engine(core.Settings(data_dir=tmp_path))
    try:
        check_migration(engine)
    finally:
        engine.dispose()
