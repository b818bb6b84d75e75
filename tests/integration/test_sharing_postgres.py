"""Threat sharing on a real PostgreSQL: migration ss001 up and down, an import, and TAXII
paging (the (date_added, seq) cursor, match[version]) as the server runs it."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from tests.security.sharing.stixdata import PRODUCER, Match, alert

from indunet import core
from indunet.security.sharing import Outcome, bundle, export_objects, import_bundle, query, store
from indunet.security.subsystem import SUBSYSTEM

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(pg_schema_url: str) -> Iterator[sa.Engine]:
    eng = core.make_engine(core.Settings(database_url=pg_schema_url))
    assert SUBSYSTEM.migrations is not None
    core.migrate(eng, [SUBSYSTEM.migrations])
    yield eng
    eng.dispose()


def test_import_and_page_on_postgres(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        cid = store.ensure_collection(conn, None, "installation").id
    objs = export_objects(PRODUCER, [alert(1), alert(2)], [Match()])
    done = import_bundle(engine, cid, bundle(objs))
    assert done.count(Outcome.ADDED) == len(objs)
    indicator = copy.deepcopy(next(o for o in objs if o["type"] == "indicator"))
    indicator["modified"] = "2026-06-01T00:00:00.000Z"
    import_bundle(engine, cid, bundle([indicator]))
    seen: list[str] = []
    after = None
    f = query.Filters()
    with engine.connect() as conn:
        while True:
            rows, more = query.page(conn, cid, f, 4, after)
            seen += [r.stix_id for r in rows]
            if not more:
                break
            after = (rows[-1].date_added, rows[-1].seq)
        assert sorted(seen) == sorted(o["id"] for o in objs)  # the newest version of each
        every, _ = query.page(conn, cid, query.Filters(versions=("all",)), 1000)
        assert len(every) == len(objs) + 1
        first, _ = query.page(
            conn, cid, query.Filters(ids=(indicator["id"],), versions=("first",)), 10
        )
        assert [r.version for r in first] == ["2025-12-06T05:46:51.000000Z"]


def _alembic(engine: sa.Engine, action: str, target: str) -> None:
    from alembic.config import Config

    from indunet.core.db import CORE_MIGRATIONS

    assert SUBSYSTEM.migrations is not None
    cfg = Config()
    cfg.set_main_option("script_location", str(CORE_MIGRATIONS))
    locations = [CORE_MIGRATIONS / "versions", SUBSYSTEM.migrations]
    cfg.set_main_option("version_locations", " ".join(str(p) for p in locations))
    cfg.set_main_option("path_separator", "space")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, target)


def test_migration_goes_down_and_up(engine: sa.Engine) -> None:
    tables = {"sharing_collections", "sharing_objects", "sharing_statuses", "sharing_feeds"}
    assert tables <= set(sa.inspect(engine).get_table_names())
    _alembic(engine, "downgrade", "s0001")
    assert not tables & set(sa.inspect(engine).get_table_names())
    _alembic(engine, "upgrade", "ss001")
    assert tables <= set(sa.inspect(engine).get_table_names())
