"""Alert summaries up the tree (kind ``security.alert``): an alert stored at an enterprise
queues one summary in the same transaction, a province keeps it and relays it once to the
national instance, a body that is no summary is refused and counted and never kept, the kept
rows are bounded, and the national view lists them read-only (API and console)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from tests.conftest import USCC_A, bearer
from tests.federation.test_federation import Instance, allow_all, sender_of
from tests.web.test_console import log_in

from indunet import core
from indunet.core import Role, Settings
from indunet.federation import Federation, enrolment, identity, put
from indunet.federation import alerts as relayed
from indunet.federation.tables import alerts, outbox, received
from indunet.security import Alert, SecurityEvent
from indunet.security.cases import AlertStore
from indunet.web import create_app
from indunet.web.app import build_state
from indunet.web.state import AppState


@dataclass
class Node:
    inst: Instance
    state: AppState

    @property
    def store(self) -> AlertStore:
        store = self.state.services["security"].part("alerts")  # type: ignore[attr-defined]
        assert isinstance(store, AlertStore)
        return store


async def node(tmp: Path, name: str, level: str) -> Node:
    state = build_state(Settings(data_dir=tmp / name / "data", port=8000))
    fed = state.services["federation"]
    assert isinstance(fed, Federation)
    identity.init(state.engine, name, level, f"http://{name}.test", title=name.upper())
    fed.reload()
    fed.check_url = allow_all
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(state)), base_url=f"http://{name}.test"
    )
    return Node(Instance(fed, state.engine, client), state)


async def join(child: Node, parent: Node, level: str) -> None:
    token = enrolment.issue_token(parent.inst.engine, level)
    me = identity.load(child.inst.engine)
    assert me is not None
    url = f"http://{parent.inst.fed.me.name}.test" if parent.inst.fed.me else ""
    await enrolment.join(child.inst.engine, me, url, token, allow_all, client=parent.inst.client)


@pytest.fixture
async def tree(tmp_path: Path) -> AsyncIterator[tuple[Node, Node, Node]]:
    """A national instance, a province under it, an enterprise under the province."""
    cn = await node(tmp_path, "cn", "national")
    gd = await node(tmp_path, "gd", "province")
    acme = await node(tmp_path, "acme", "enterprise")
    await join(gd, cn, "province")
    await join(acme, gd, "enterprise")
    yield cn, gd, acme
    for n in (cn, gd, acme):
        await n.inst.client.aclose()


def alert(n: int = 1, **change: Any) -> Alert:
    events = tuple(
        SecurityEvent(1_733_560_000.0 + i, "suricata", "ids.alert", 1, src_ip="192.168.9.66")
        for i in range(3)
    )
    fields: dict[str, Any] = {
        "ts": 1_733_560_010.0,
        "rule": "modbus-write-unknown-master",
        "rule_version": 2,
        "level": 12,
        "title": "Modbus write from an unknown master",
        "enterprise_id": None,
        "techniques": ("T0855", "T0836"),
        "src_ip": "192.168.9.66",
        "dst_ip": "10.10.1.3",
        "events": events,
        "count": 7,
        "id": f"{n:032x}",
    }
    return Alert(**{**fields, **change})


def pending(inst: Instance, kind: str = relayed.KIND) -> list[dict[str, Any]]:
    with inst.engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.body).where(outbox.c.kind == kind).order_by(outbox.c.seq)
        ).scalars()
        return [orjson.loads(b) for b in rows]


def kept(inst: Instance) -> list[Any]:
    with inst.engine.connect() as conn:
        return list(conn.execute(sa.select(alerts).order_by(alerts.c.no)).all())


async def test_an_alert_stored_at_an_enterprise_queues_exactly_one_summary(
    tree: tuple[Node, Node, Node],
) -> None:
    _, _, acme = tree
    await acme.store.raise_alerts([alert(1)])
    await acme.store.raise_alerts([alert(1)])  # the same alert again: stored once, sent once
    (body,) = pending(acme.inst)
    assert body == {
        "alert": f"{1:032x}",
        "rule": "modbus-write-unknown-master",
        "title": "Modbus write from an unknown master",
        "level": 12,
        "techniques": ["T0855", "T0836"],
        "src_ip": "192.168.9.66",
        "dst_ip": "10.10.1.3",
        "first_seen": 1_733_560_000.0,
        "last_seen": 1_733_560_010.0,
        "count": 7,
        "origin": "acme",
        "path": [],
    }
    assert acme.store.stats.written == 1 and acme.store.stats.duplicates == 1


async def test_a_summary_fails_with_its_alert(tree: tuple[Node, Node, Node]) -> None:
    """The summary is queued in the alert's transaction: one fails, neither is kept."""
    _, _, acme = tree
    store = acme.store
    wired = store.on_commit
    assert wired is not None

    def broken(conn: sa.Connection, rows: Any) -> None:
        wired(conn, rows)
        raise RuntimeError("the outbox is gone")

    store.on_commit = broken
    with pytest.raises(RuntimeError):
        await store.raise_alerts([alert(2)])
    assert pending(acme.inst) == []
    store.on_commit = wired
    await store.raise_alerts([alert(2)])
    assert len(pending(acme.inst)) == 1


async def test_a_summary_is_relayed_once_through_a_province_to_the_national_instance(
    tree: tuple[Node, Node, Node],
) -> None:
    cn, gd, acme = tree
    await acme.store.raise_alerts([alert(n) for n in range(1, 4)])
    up, top = sender_of(acme.inst, gd.inst), sender_of(gd.inst, cn.inst)
    assert await up.deliver("gd", "http://gd.test") == 3
    assert await top.deliver("cn", "http://cn.test") == 3
    for inst in (acme.inst, gd.inst):  # acknowledgements lost at both hops: all sent again
        with inst.engine.begin() as conn:
            conn.execute(outbox.update().values(acked=False))
    assert await up.deliver("gd", "http://gd.test") == 3
    assert await top.deliver("cn", "http://cn.test") == 3

    at_gd, at_cn = kept(gd.inst), kept(cn.inst)
    assert [(r.origin, orjson.loads(r.path), r.sender) for r in at_gd] == [
        ("acme", ["acme"], "acme")
    ] * 3
    assert [(r.origin, orjson.loads(r.path), r.sender) for r in at_cn] == [
        ("acme", ["acme", "gd"], "gd")
    ] * 3
    assert [r.alert for r in at_cn] == [f"{n:032x}" for n in range(1, 4)]
    assert (at_cn[0].level, at_cn[0].count, at_cn[0].src_ip) == (12, 7, "192.168.9.66")
    assert pending(cn.inst) == []  # the top keeps them: no parent to pass them to
    assert cn.inst.fed.inbox is not None and cn.inst.fed.inbox.stats.duplicates == 3

    # read-only, for platform administrators and regulators
    admin = bearer(cn.state.engine, "boss", Role.PLATFORM_ADMIN)
    answer = await cn.inst.client.get("/api/v1/federation/alerts", headers=admin)
    assert answer.status_code == 200
    page = answer.json()
    assert page["total"] == 3 and [a["alert"] for a in page["items"]] == [
        f"{n:032x}" for n in (3, 2, 1)
    ]
    first = page["items"][0]
    assert first["origin"] == "acme" and first["path"] == ["acme", "gd"]
    assert first["techniques"] == ["T0855", "T0836"] and 0 <= first["age_s"] < 60
    regulator = bearer(cn.state.engine, "watch", Role.REGULATOR)
    for query, total in (("q=T0836", 3), ("q=10.10.1.3", 3), ("origin=acme", 3), ("q=nope", 0)):
        answer = await cn.inst.client.get(f"/api/v1/federation/alerts?{query}", headers=regulator)
        assert answer.json()["total"] == total, query
    answer = await cn.inst.client.get(
        "/api/v1/federation/alerts?offset=2&limit=5", headers=regulator
    )
    assert [a["alert"] for a in answer.json()["items"]] == [f"{1:032x}"]
    with cn.state.engine.begin() as conn:
        firm = core.create_enterprise(conn, name="某机床厂", uscc=USCC_A, actor="t")
    worker = bearer(cn.state.engine, "worker", Role.ENTERPRISE_ADMIN, firm.id)
    answer = await cn.inst.client.get("/api/v1/federation/alerts", headers=worker)
    assert answer.status_code == 403

    # and the console's page shows them, each with the instance it came from
    await log_in(cn.inst.client, "boss", "a-long-password")  # bearer()'s user
    html = (await cn.inst.client.get("/federation")).text
    assert 'id="relayed-alerts"' in html and html.count('data-origin="acme"') == 3
    assert "via gd" in html or "经 gd" in html


@pytest.mark.parametrize(
    "change",
    [
        {"level": 16},
        {"level": "12"},
        {"count": 0},
        {"alert": "not an id!"},
        {"rule": ""},
        {"src_ip": "999.1.1.1"},
        {"techniques": "T0855"},
        {"techniques": ["T0855"] * 9},
        {"first_seen": 1_733_560_020.0},  # after its last sighting
        {"last_seen": None},
    ],
)
async def test_a_malformed_summary_is_refused_counted_and_never_applied(
    tree: tuple[Node, Node, Node], change: dict[str, Any]
) -> None:
    _, gd, acme = tree
    await acme.store.raise_alerts([alert(1)])
    (good,) = pending(acme.inst)
    bad = {k: v for k, v in {**good, **change}.items() if v is not None}
    with acme.inst.engine.begin() as conn:
        put(conn, "gd", relayed.KIND, bad)
        put(conn, "gd", relayed.KIND, {**good, "alert": f"{2:032x}"})
    assert await sender_of(acme.inst, gd.inst).deliver("gd", "http://gd.test") == 3
    assert gd.inst.fed.inbox is not None and gd.inst.fed.inbox.stats.bodies_refused == 1
    with gd.inst.engine.connect() as conn:
        outcomes = dict(conn.execute(sa.select(received.c.seq, received.c.outcome)).all())
    assert outcomes == {1: "applied", 2: "refused: federation_alert", 3: "applied"}
    assert [r.alert for r in kept(gd.inst)] == [f"{1:032x}", f"{2:032x}"]
    assert len(pending(gd.inst)) == 2  # only the good ones go on up


async def test_a_summary_sent_down_by_a_parent_is_refused_not_sent_back_up(
    tree: tuple[Node, Node, Node],
) -> None:
    cn, gd, _ = tree
    body = {
        "alert": "a" * 32, "rule": "r", "title": "", "level": 3, "techniques": [],
        "src_ip": None, "dst_ip": None, "first_seen": 1.0, "last_seen": 2.0, "count": 1,
    }  # fmt: skip
    with cn.inst.engine.begin() as conn:
        put(conn, "gd", relayed.KIND, body)
    assert await sender_of(cn.inst, gd.inst).deliver("gd", "http://gd.test") == 1
    assert kept(gd.inst) == [] and pending(gd.inst) == []


def test_kept_summaries_are_bounded_per_origin_and_by_age(tmp_path: Path) -> None:
    state = build_state(Settings(data_dir=tmp_path / "data", port=8000))
    limits = relayed.AlertLimits(per_origin=5, keep_s=3600, prune_every=4)

    def row(origin: str, received: float) -> dict[str, Any]:
        return {
            "origin": origin, "path": "[]", "sender": origin, "alert": "a", "rule": "r",
            "title": "", "level": 1, "techniques": "[]", "src_ip": None, "dst_ip": None,
            "first_seen": 1.0, "last_seen": 1.0, "count": 1, "received": received,
        }  # fmt: skip

    now = 1_800_000_000.0
    with state.engine.begin() as conn:
        conn.execute(alerts.insert(), [row("old", now - 7200)] * 3)
        conn.execute(alerts.insert(), [row("busy", now - i) for i in range(12, 0, -1)])
        conn.execute(alerts.insert(), [row("quiet", now)] * 2)
        assert relayed.prune(conn, now, limits) == 3 + 7
        left = conn.execute(sa.select(alerts.c.origin, alerts.c.received)).all()
    assert sorted({o for o, _ in left}) == ["busy", "quiet"]
    assert sorted(r for o, r in left if o == "busy") == [now - i for i in range(5, 0, -1)]
