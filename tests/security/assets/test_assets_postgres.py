"""The inventory on a real PostgreSQL: migration sa001, merging,
search with LIKE-escaping, JSON lists, zones, CSV import."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from tests.conftest import USCC_A

from indunet import core
from indunet.core import Role
from indunet.security.assets import Assets, Observation, Zones, csvio
from indunet.security.subsystem import SUBSYSTEM

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(pg_schema_url: str) -> Iterator[sa.Engine]:
    eng = core.make_engine(core.Settings(database_url=pg_schema_url))
    assert SUBSYSTEM.migrations is not None
    core.migrate(eng, [SUBSYSTEM.migrations])
    yield eng
    eng.dispose()


def test_the_inventory_on_postgres(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ent = core.create_enterprise(conn, uscc=USCC_A, name="甲厂", actor="t", verified=True)
        admin = core.create_user(
            conn,
            username="ea",
            password="a-long-password",
            role=Role.ENTERPRISE_ADMIN,
            actor="t",
            enterprise_id=ent.id,
        )
    store, zones = Assets(engine), Zones(engine)
    zone = zones.create_zone(admin, None, "控制区", 3)
    store.observe(
        [
            Observation(
                ent.id,
                "observation",
                {"ips": ["10.0.0.1"], "macs": ["00:00:00:00:00:01"], "ports": [502]},
                seen=True,
            )
        ]
    )
    store.observe(
        [
            Observation(
                ent.id, "platform", {"ips": ["10.0.0.1"], "vendor": "100%_厂商", "device_id": "d-1"}
            )
        ]
    )
    data = "name,macs,zone,firmware\r\nPLC,00:00:00:00:00:01,控制区,v1\r\n".encode()
    assert csvio.import_csv(store, admin, None, data) == {"rows": 1, "created": 0, "merged": 1}
    items, total = store.page(admin, q="100%_")
    assert total == 1 and items[0].zone_id == zone.id and items[0].ports == [502]
    assert store.page(admin, q="100%x")[1] == 0  # % and _ are literal
    detail = store.get(admin, items[0].id)
    assert [m.source for m in detail.merges] == ["csv", "platform", "observation"]
    assert store.by_ip(ent.id, "10.0.0.1") is not None
