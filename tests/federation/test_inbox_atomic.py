"""A delivery is applied in one transaction on SQLite too: pysqlite begins a transaction only
at the first write, so a handler's savepoint opened first would be the outermost transaction
and its release a commit. A crash in the middle of a delivery must leave nothing applied;
two copies of the same delivery applied at once must apply it once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.federation.test_federation import NOTES, enrolled, instance, notes

from indunet.federation import Envelope, identity, seal
from indunet.federation.tables import outbox, received


def kept_rows(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM kept")).scalar() or 0)


async def test_a_crash_mid_delivery_leaves_nothing_applied(tmp_path: Path) -> None:
    NOTES.clear()
    province = await instance(tmp_path, "gd", "province")
    factory = await instance(tmp_path, "acme", "enterprise")
    try:
        await enrolled(province, factory)
        with province.engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE kept (n INTEGER)"))

        def keep(conn: sa.Connection, env: Envelope) -> None:
            if env.body["n"] == 2:
                raise RuntimeError("the handler crashed")
            conn.execute(sa.text("INSERT INTO kept VALUES (:n)"), {"n": env.body["n"]})

        province.fed.handle("test.note", keep)
        me = identity.load(factory.engine)
        assert me is not None
        batch = [
            seal(Envelope(f"{n:032x}", "acme", "gd", "test.note", n, 1.0, {"n": n}), me.key)
            for n in (1, 2, 3)
        ]
        with pytest.raises(RuntimeError):
            province.fed.receive(batch)
        assert kept_rows(province.engine) == 0  # message 1 rolled back with the rest
        with province.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(received)).scalar() == 0
    finally:
        await province.client.aclose()
        await factory.client.aclose()


async def test_the_same_delivery_applied_twice_at_once_is_applied_once(tmp_path: Path) -> None:
    NOTES.clear()
    province = await instance(tmp_path, "gd", "province")
    factory = await instance(tmp_path, "acme", "enterprise")
    try:
        await enrolled(province, factory)
        notes(factory, 200)
        me = identity.load(factory.engine)
        assert me is not None
        with factory.engine.connect() as conn:
            rows = conn.execute(sa.select(outbox).order_by(outbox.c.seq)).all()
        batch = [
            seal(Envelope(r.id, "acme", "gd", r.kind, r.seq, r.ts, {"n": r.seq - 1}), me.key)
            for r in rows
        ]
        errors: list[BaseException] = []

        def deliver() -> None:
            try:
                province.fed.receive(batch)
            except Exception as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert [n for _, _, n in NOTES["gd"]] == list(range(200))
    finally:
        await province.client.aclose()
        await factory.client.aclose()
