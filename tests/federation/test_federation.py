"""Two instances, each a whole Indunet app with its own database, talking over their real API
(in process, through ASGI): a province enrols an enterprise with a one-time token, the
enterprise's messages are signed, delivered in order, applied once and acknowledged; every
way a message can be wrong is refused with its reason and changes nothing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from indunet.core import Settings
from indunet.core.signing import ED25519, SM2_KEY, PrivateKey
from indunet.federation import (
    Envelope,
    Federation,
    Refused,
    destinations,
    enrolment,
    identity,
    parse,
    put,
    seal,
    verified,
)
from indunet.federation.envelope import new_id
from indunet.federation.outbox import PATH, Sender
from indunet.federation.tables import outbox, peers, received
from indunet.web import create_app
from indunet.web.app import build_state

NOTES: dict[str, list[Any]] = {}


def allow_all(url: str) -> None:
    """The in-process peers have made-up host names: no destination check here (tested
    apart below)."""


@dataclass
class Instance:
    fed: Federation
    engine: sa.Engine
    client: httpx.AsyncClient


async def instance(tmp: Path, name: str, level: str) -> Instance:
    state = build_state(Settings(data_dir=tmp / name / "data", port=8000))
    fed = state.services["federation"]
    assert isinstance(fed, Federation)
    identity.init(state.engine, name, level, f"http://{name}.test", title=name.upper())
    fed.reload()
    fed.check_url = allow_all
    notes = NOTES.setdefault(name, [])

    def note(conn: sa.Connection, env: Envelope) -> None:
        if env.body.get("refuse"):
            from indunet.federation import BodyRefused

            conn.execute(sa.text("SELECT 1"))
            raise BodyRefused("this note is refused", "test_refused")
        notes.append((env.sender, env.seq, env.body["n"]))

    fed.handle("test.note", note)
    transport = httpx.ASGITransport(app=create_app(state))
    client = httpx.AsyncClient(transport=transport, base_url=f"http://{name}.test")
    return Instance(fed, state.engine, client)


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[Instance, Instance]]:
    NOTES.clear()
    province = await instance(tmp_path, "gd", "province")
    factory = await instance(tmp_path, "acme", "enterprise")
    yield province, factory
    await province.client.aclose()
    await factory.client.aclose()


async def enrolled(province: Instance, factory: Instance) -> None:
    token = enrolment.issue_token(province.engine, "enterprise", "acme")
    me = identity.load(factory.engine)
    assert me is not None
    name = await enrolment.join(
        factory.engine, me, "http://gd.test", token, allow_all, client=province.client
    )
    assert name == "gd"


def sender_of(inst: Instance, to: Instance) -> Sender:
    me = identity.load(inst.engine)
    assert me is not None
    return Sender(inst.engine, me.name, me.key, client=to.client)


def notes(inst: Instance, n: int, start: int = 0, to: str = "gd") -> None:
    with inst.engine.begin() as conn:
        for i in range(start, start + n):
            put(conn, to, "test.note", {"n": i})


@pytest.mark.parametrize("algorithm", [ED25519, SM2_KEY])
def test_a_message_is_signed_and_any_change_breaks_the_signature(algorithm: str) -> None:
    key = PrivateKey.generate(algorithm)
    env = Envelope(new_id(), "acme", "gd", "test.note", 7, 1733560000.25, {"n": 1, "文": "字"})
    wire = seal(env, key)
    parsed, sig = parse(wire)
    assert parsed == env and verified(parsed, sig, key.public)
    for field, value in (("seq", 8), ("body", {"n": 2, "文": "字"}), ("to", "cn"), ("ts", 1.0)):
        changed, sig2 = parse({**wire, field: value})
        assert not verified(changed, sig2, key.public), field
    other = PrivateKey.generate(algorithm)
    assert not verified(parsed, sig, other.public)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"v": 2}, "federation_version"),
        ({"id": "x"}, "federation_message_shape"),
        ({"from": "Bad Name"}, "federation_message_shape"),
        ({"kind": "nodot"}, "federation_message_shape"),
        ({"seq": 0}, "federation_message_shape"),
        ({"seq": True}, "federation_message_shape"),
        ({"ts": "now"}, "federation_message_shape"),
        ({"body": []}, "federation_message_shape"),
        ({"sig": "short"}, "federation_signature"),
        ({"extra": 1}, "federation_message_shape"),
        ({"body": {"x": "y" * 300_000}}, "federation_message_too_large"),
    ],
)
def test_a_malformed_message_is_refused_by_name(change: dict[str, Any], reason: str) -> None:
    wire = seal(Envelope(new_id(), "acme", "gd", "test.note", 1, 1.0, {}), PrivateKey.generate())
    with pytest.raises(Refused) as refused:
        parse({**wire, **change})
    assert refused.value.reason == reason


async def test_enrol_then_deliver_in_order_once_and_acknowledged(
    pair: tuple[Instance, Instance],
) -> None:
    province, factory = pair
    await enrolled(province, factory)
    view = province.fed.overview()
    assert [(p["name"], p["role"], p["level"]) for p in view["peers"]] == [
        ("acme", "child", "enterprise")
    ]
    assert [(p["name"], p["role"]) for p in factory.fed.overview()["peers"]] == [("gd", "parent")]

    notes(factory, 700)  # more than one delivery's worth
    sender = sender_of(factory, province)
    assert await sender.deliver("gd", "http://gd.test") == 500
    assert await sender.deliver("gd", "http://gd.test") == 200
    assert await sender.deliver("gd", "http://gd.test") == 0
    assert NOTES["gd"] == [("acme", i + 1, i) for i in range(700)]
    with factory.engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).where(outbox.c.acked.is_(False))).scalar() == 0
        )

    # sent again (an acknowledgement lost): answered as done, applied no second time
    with factory.engine.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.seq > 690).values(acked=False))
    assert await sender.deliver("gd", "http://gd.test") == 10
    assert len(NOTES["gd"]) == 700 and province.fed.inbox is not None
    assert province.fed.inbox.stats.duplicates == 10
    with province.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(received)).scalar() == 700
        last = conn.execute(sa.select(peers.c.last_contact).where(peers.c.name == "acme")).scalar()
    assert last is not None and last > time.time() - 60

    # a status report travels as any message, and shows at the parent
    assert factory.fed.report_status() == 701
    assert await sender.deliver("gd", "http://gd.test") == 1
    assert province.fed.overview()["peers"][0]["version"] == factory.fed.version


async def test_a_refused_body_is_recorded_and_the_stream_goes_on(
    pair: tuple[Instance, Instance],
) -> None:
    province, factory = pair
    await enrolled(province, factory)
    with factory.engine.begin() as conn:
        put(conn, "gd", "test.note", {"n": 1})
        put(conn, "gd", "test.note", {"n": 2, "refuse": True})
        put(conn, "gd", "test.note", {"n": 3})
    assert await sender_of(factory, province).deliver("gd", "http://gd.test") == 3
    assert [n for _, _, n in NOTES["gd"]] == [1, 3]
    with province.engine.connect() as conn:
        outcomes = conn.execute(sa.select(received.c.seq, received.c.outcome)).all()
    assert sorted(outcomes) == [(1, "applied"), (2, "refused: test_refused"), (3, "applied")]


async def post(inst: Instance, messages: list[dict[str, Any]]) -> httpx.Response:
    return await inst.client.post(PATH, json={"messages": messages})


async def test_every_wrong_delivery_is_refused_with_its_reason_and_applies_nothing(
    pair: tuple[Instance, Instance],
) -> None:
    province, factory = pair
    await enrolled(province, factory)
    me = identity.load(factory.engine)
    assert me is not None

    def msg(
        seq: int, kind: str = "test.note", sender: str = "acme", to: str = "gd"
    ) -> dict[str, Any]:
        return seal(Envelope(new_id(), sender, to, kind, seq, time.time(), {"n": seq}), me.key)

    answer = await post(province, [msg(2)])  # 1 is missing
    assert answer.status_code == 409 and answer.json()["reason"] == "federation_sequence_gap"
    assert answer.json()["detail"] == {"expected": 1}
    forged = msg(1)
    forged["body"] = {"n": 99}
    answer = await post(province, [forged])
    assert (answer.status_code, answer.json()["reason"]) == (401, "federation_signature")
    assert (await post(province, [msg(1, sender="stranger")])).json()["reason"] == (
        "federation_sender_unknown"
    )
    assert (await post(province, [msg(1, to="cn")])).status_code == 403
    answer = await post(province, [msg(1, kind="test.unknown")])
    assert (answer.status_code, answer.json()["reason"]) == (400, "federation_kind")
    answer = await post(province, [msg(i) for i in range(1, 502)])
    assert answer.status_code == 413
    answer = await province.client.post(PATH, content=b"{not json")
    assert (answer.status_code, answer.json()["reason"]) == (400, "federation_json")
    assert NOTES["gd"] == []

    # a batch whose third message is forged: the first two are applied, the rest refused
    batch = [msg(1), msg(2), {**msg(3), "body": {"n": -1}}, msg(4)]
    answer = await post(province, batch)
    assert answer.status_code == 401 and NOTES["gd"] == []  # checked before any is applied
    answer = await post(province, batch[:2])
    assert answer.json()["through"] == 2 and len(NOTES["gd"]) == 2

    # a removed child is refused by name (its removal audited, a second one refused)
    assert enrolment.remove(province.engine, "acme", "user:root") == 0
    with pytest.raises(Refused) as again:
        enrolment.remove(province.engine, "acme", "user:root")
    assert again.value.reason == "federation_peer_unknown"
    with province.engine.connect() as conn:
        actions = conn.execute(sa.text("SELECT action FROM core_audit_log")).scalars().all()
    assert "federation.remove" in actions
    answer = await post(province, [msg(3)])
    assert (answer.status_code, answer.json()["reason"]) == (403, "federation_sender_removed")
    assert province.fed.inbox is not None
    refused = province.fed.inbox.stats.refused
    assert refused["federation_signature"] == 2 and refused["federation_sender_removed"] == 1


async def test_enrolment_tokens_are_one_time_for_one_level_and_checked(
    pair: tuple[Instance, Instance],
) -> None:
    province, factory = pair
    me = identity.load(factory.engine)
    assert me is not None

    async def enrol(body: dict[str, Any]) -> httpx.Response:
        return await province.client.post(enrolment.ENROL_PATH, json=body)

    wrong_level = enrolment.issue_token(province.engine, "city")
    answer = await enrol(enrolment.request_of(me, wrong_level))
    assert (answer.status_code, answer.json()["reason"]) == (400, "federation_level")
    expired = enrolment.issue_token(province.engine, "enterprise", ttl_s=-1)
    assert (await enrol(enrolment.request_of(me, expired))).json()["reason"] == "federation_token"
    token = enrolment.issue_token(province.engine, "enterprise")
    bad_proof = {**enrolment.request_of(me, token), "name": "other"}  # signed for "acme"
    assert (await enrol(bad_proof)).json()["reason"] == "federation_signature"
    answer = await enrol(enrolment.request_of(me, token))
    assert answer.status_code == 200 and answer.json()["name"] == "gd"
    answer = await enrol(enrolment.request_of(me, token))
    assert (answer.status_code, answer.json()["reason"]) == (409, "federation_token_used")
    with province.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(peers)).scalar() == 1
    # a province cannot enrol under an enterprise
    up = identity.load(province.engine)
    assert up is not None
    wrong_way = enrolment.issue_token(factory.engine, "province")
    with pytest.raises(Refused) as refused:
        enrolment.accept(factory.engine, me, enrolment.request_of(up, wrong_way), allow_all)
    assert refused.value.reason == "federation_level"


def test_the_destination_policy() -> None:
    loopback = destinations.allowed_networks("127.0.0.0/8")
    destinations.check("http://127.0.0.1:8000", loopback)
    destinations.check("https://127.0.0.1:8443", loopback)
    for url, allow in (
        ("http://127.0.0.1:8000", ()),  # plain http to an address not allowed
        ("https://10.1.2.3", ()),  # a private address
        ("https://user:pw@127.0.0.1", loopback),
        ("ftp://127.0.0.1", loopback),
        ("https://no-such-host.invalid", loopback),
        ("https://[::ffff:10.0.0.1]", ()),  # a private IPv4 address inside an IPv6 one
        ("https://127.0.0.1:22", loopback),  # a privileged port other than 80 and 443
    ):
        with pytest.raises(Refused) as refused:
            destinations.check(url, allow)
        assert refused.value.reason == "federation_destination", url


async def test_upward_kinds_are_relayed_once_each_with_their_origin(tmp_path: Path) -> None:
    NOTES.clear()
    nation = await instance(tmp_path, "cn", "national")
    province = await instance(tmp_path, "gd", "province")
    factory = await instance(tmp_path, "acme", "enterprise")
    try:
        token = enrolment.issue_token(nation.engine, "province")
        gd = identity.load(province.engine)
        assert gd is not None
        await enrolment.join(
            province.engine, gd, "http://cn.test", token, allow_all, client=nation.client
        )
        await enrolled(province, factory)
        seen: dict[str, list[tuple[str, Any, Any]]] = {"gd": [], "cn": []}

        def keep(at: str) -> Any:
            def apply(conn: sa.Connection, env: Envelope) -> None:
                seen[at].append((env.sender, env.body.get("origin"), env.body.get("n")))

            return apply

        province.fed.relay_up("test.up", keep("gd"))
        nation.fed.relay_up("test.up", keep("cn"))
        factory.fed.relay_up("test.up")
        factory.fed.reload()
        with factory.engine.begin() as conn:
            for i in range(120):
                if i == 7:  # an enterprise claiming to speak for another is not believed
                    put(conn, "gd", "test.up", {"n": i, "origin": "beta", "path": ["beta"]})
                else:
                    assert factory.fed.send_up(conn, "test.up", {"n": i}) == i + 1
        assert await sender_of(factory, province).deliver("gd", "http://gd.test") == 120
        assert await sender_of(province, nation).deliver("cn", "http://cn.test") == 120
        # sent again in full at both hops (acknowledgements lost): nothing relayed twice
        for inst in (factory, province):
            with inst.engine.begin() as conn:
                conn.execute(outbox.update().values(acked=False))
        assert await sender_of(factory, province).deliver("gd", "http://gd.test") == 120
        assert await sender_of(province, nation).deliver("cn", "http://cn.test") == 120
        assert seen["gd"] == [("acme", "acme" if i != 7 else "beta", i) for i in range(120)]
        assert seen["cn"] == [("gd", "acme", i) for i in range(120)]
        with nation.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(received)).scalar() == 120
    finally:
        for inst in (nation, province, factory):
            await inst.client.aclose()


async def test_old_records_are_pruned_and_pending_messages_kept(
    pair: tuple[Instance, Instance],
) -> None:
    province, factory = pair
    await enrolled(province, factory)
    notes(factory, 5)
    assert await sender_of(factory, province).deliver("gd", "http://gd.test") == 5
    notes(factory, 2, start=5)  # pending, never pruned however old
    later = time.time() + 31 * 86_400
    assert factory.fed.prune(later) == (5, 0)
    assert province.fed.prune(later) == (0, 5)
    with factory.engine.connect() as conn:
        left = conn.execute(sa.select(outbox.c.seq, outbox.c.acked).order_by(outbox.c.seq)).all()
    assert left == [(6, False), (7, False)]
    # the numbers hold without the records: a resend of 1-5 is still known, 6-7 applied once
    assert await sender_of(factory, province).deliver("gd", "http://gd.test") == 2
    assert [n for _, _, n in NOTES["gd"]] == list(range(7))


async def test_a_delivery_is_capped_by_bytes_and_large_messages_all_arrive(
    pair: tuple[Instance, Instance],
) -> None:
    province, factory = pair
    await enrolled(province, factory)
    with factory.engine.begin() as conn:
        for i in range(60):  # 60 messages of about 200 KB: more than one delivery's 8 MiB
            put(conn, "gd", "test.note", {"n": i, "pad": "x" * 200_000})
    sender = sender_of(factory, province)
    first = await sender.deliver("gd", "http://gd.test")
    assert 30 <= first < 60
    assert await sender.deliver("gd", "http://gd.test") == 60 - first
    assert [n for _, _, n in NOTES["gd"]] == list(range(60))


async def test_a_relayed_message_too_large_to_pass_on_is_refused_and_the_stream_goes_on(
    tmp_path: Path,
) -> None:
    NOTES.clear()
    nation = await instance(tmp_path, "cn", "national")
    province = await instance(tmp_path, "gd", "province")
    factory = await instance(tmp_path, "acme", "enterprise")
    try:
        token = enrolment.issue_token(nation.engine, "province")
        gd = identity.load(province.engine)
        assert gd is not None
        await enrolment.join(
            province.engine, gd, "http://cn.test", token, allow_all, client=nation.client
        )
        await enrolled(province, factory)
        province.fed.relay_up("test.up")
        with factory.engine.begin() as conn:
            put(conn, "gd", "test.up", {"n": 0})
            # at the bound already: with its origin and path added it cannot be passed on
            put(conn, "gd", "test.up", {"n": 1, "pad": "x" * (256 * 1024 - 20)})
            put(conn, "gd", "test.up", {"n": 2, "origin": "y" * 5000, "path": ["z"]})
        assert await sender_of(factory, province).deliver("gd", "http://gd.test") == 3
        with province.engine.connect() as conn:
            outcomes = dict(conn.execute(sa.select(received.c.seq, received.c.outcome)).all())
            relayed = conn.execute(sa.select(outbox.c.body).order_by(outbox.c.seq)).scalars().all()
        assert outcomes[2] == "refused: federation_message_too_large"
        assert outcomes[1] == outcomes[3] == "applied"
        # an origin that is no instance name (from an enterprise anyway) is not taken
        assert [orjson.loads(b)["origin"] for b in relayed] == ["acme", "acme"]
    finally:
        for inst in (nation, province, factory):
            await inst.client.aclose()
