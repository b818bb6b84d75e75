"""The engine's semantics: frequency, timeframe, suppression, chaining, grouping, bounds,
reloads, runtime errors, event time; and random events never crash it."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.security import Hub
from indunet.security.detect import Engine, MemorySink, builtin_files, load_ruleset, read_file
from indunet.security.events import SecurityEvent

from .helpers import T0, engine, ev, fired, tx


def rules(text: str) -> Engine:
    return Engine(load_ruleset([read_file("t.yml", text)]), MemorySink())


def one(rid: str = "t.r", **extra: Any) -> str:
    lines = [
        f"  - id: {rid}",
        "    version: 1",
        "    title: {zh-CN: 测, en: test}",
        "    level: 5",
        "    techniques: [T0855]",
    ]
    lines += [f"    {k}: {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def test_frequency_counts_within_the_timeframe_per_group() -> None:
    eng = rules("rules:\n" + one(match="{kind: x}", frequency=3, timeframe=10, group_by="source"))
    a = eng.process(
        [
            ev("x", ts=0, src_ip="1.1.1.1"),
            ev("x", ts=1, src_ip="2.2.2.2"),
            ev("x", ts=2, src_ip="1.1.1.1"),
        ]
    )
    assert a == []
    a = eng.process([ev("x", ts=20, src_ip="1.1.1.1")])  # the first two aged out
    assert a == []
    a = eng.process([ev("x", ts=21, src_ip="1.1.1.1"), ev("x", ts=22, src_ip="1.1.1.1")])
    assert fired(a) == ["t.r"] and a[0].count == 3 and a[0].group == "src_ip=1.1.1.1"
    assert len(a[0].events) == 3
    # the window restarts after firing
    assert eng.process([ev("x", ts=23, src_ip="1.1.1.1")]) == []
    st_ = eng.stats["t.r"]
    assert (st_.matched, st_.fired) == (7, 1)


def test_suppression_per_group() -> None:
    eng = rules("rules:\n" + one(match="{kind: x}", suppress=60, group_by="target"))
    a = eng.process(
        [
            ev("x", ts=0, dst_ip="1.1.1.1"),
            ev("x", ts=10, dst_ip="1.1.1.1"),
            ev("x", ts=11, dst_ip="9.9.9.9"),
        ]
    )
    assert len(a) == 2
    assert fired(eng.process([ev("x", ts=61, dst_ip="1.1.1.1")])) == ["t.r"]
    assert eng.stats["t.r"].suppressed == 1


def test_groups_are_per_enterprise_and_pair_and_user() -> None:
    eng = rules("rules:\n" + one(match="{kind: x}", suppress=60, group_by="pair"))
    a = eng.process(
        [
            ev("x", src_ip="1.1.1.1", dst_ip="2.2.2.2"),
            ev("x", src_ip="1.1.1.1", dst_ip="2.2.2.3"),
            ev("x", src_ip="1.1.1.1", dst_ip="2.2.2.2", enterprise_id=2),
            ev("x", src_ip="1.1.1.1", dst_ip="2.2.2.2"),
        ]
    )
    assert len(a) == 3
    eng = rules("rules:\n" + one(match="{kind: x}", suppress=60, group_by="user"))
    a = eng.process(
        [
            ev("x", user="alice", src_ip="1.1.1.1"),
            ev("x", user="bob", src_ip="1.1.1.1"),
            ev("x", user="alice", src_ip="1.1.1.1"),
        ]
    )
    assert len(a) == 2


def test_chaining_fires_only_after_the_parent_within_the_window() -> None:
    text = (
        "rules:\n"
        + one("t.p", match="{kind: scan}", group_by="source")
        + one("t.c", match="{kind: write}", group_by="source", if_matched="t.p", within=30)
    )
    eng = rules(text)
    assert eng.process([ev("write", ts=0, src_ip="1.1.1.1")]) == []
    assert fired(eng.process([ev("scan", ts=1, src_ip="1.1.1.1")])) == ["t.p"]
    assert eng.process([ev("write", ts=5, src_ip="2.2.2.2")]) == []
    assert fired(eng.process([ev("write", ts=10, src_ip="1.1.1.1")])) == ["t.c"]
    assert eng.process([ev("write", ts=40, src_ip="1.1.1.1")]) == []


def test_conditions_operators() -> None:
    match = (
        "{all: [{src_ip: {cidr: [10.0.0.0/8]}}, {fields.value: {range: [10, 20]}}, "
        "{not: {action: {regex: '^read'}}}, {any: [{dst_port: {gte: 500}}, {fields.a.b: {exists: true}}]}, "
        "{protocol: {in: [modbus, dnp3]}}, {outcome: {ne: failure}}]}"
    )
    eng = rules("rules:\n" + one(match=match))
    base = {"src_ip": "10.1.2.3", "protocol": "modbus", "action": "write", "dst_port": 502}
    assert fired(eng.process([ev("x", fields={"value": 15}, **base)])) == ["t.r"]
    assert eng.process([ev("x", fields={"value": 25}, **base)]) == []
    assert eng.process([ev("x", fields={"value": 15}, **{**base, "src_ip": "192.168.1.1"})]) == []
    assert eng.process([ev("x", fields={"value": 15}, **{**base, "action": "read_coils"})]) == []
    assert fired(
        eng.process([ev("x", fields={"value": 15, "a": {"b": 1}}, **{**base, "dst_port": 80})])
    ) == ["t.r"]
    assert eng.process([ev("x", fields={"value": "15"}, **base)]) == []  # a string is no number
    assert eng.process([ev("x", fields={"value": True}, **base)]) == []  # nor a boolean


def test_not_in_list_is_false_for_a_field_the_event_lacks() -> None:
    from indunet.security.detect import Context
    from indunet.security.detect.conditions import NamedList

    eng = Engine(
        load_ruleset(
            [read_file("t.yml", "rules:\n" + one(match="{fields.function: {not_in_list: fc}}"))]
        ),
        MemorySink(),
        Context(lists={"fc": NamedList.of([3])}),
    )
    assert fired(eng.process([ev("x", fields={"function": 5})])) == ["t.r"]
    assert eng.process([ev("x", fields={"function": 3})]) == []
    assert eng.process([ev("x", fields={})]) == []  # no function: not outside the list
    assert eng.process([ev("x", fields={"function": None})]) == []


def test_event_time_not_wall_clock_makes_replays_alike() -> None:
    events = [
        tx("enip", "list_identity", 0x63, ts=i, dst=f"10.0.1.{i}", port=44818) for i in range(5)
    ]
    e1, _ = engine()
    e2, _ = engine()
    assert fired(e1.process(events)) == fired(e2.process(events)) == ["ot.enip.listidentity-sweep"]


def test_group_state_is_bounded_and_evictions_counted() -> None:
    eng = rules("rules:\n" + one(match="{kind: x}", frequency=2, timeframe=60, group_by="source"))
    eng.max_groups = 100
    eng.process([ev("x", ts=i, src_ip=f"10.0.{i // 250}.{i % 250}") for i in range(1000)])
    assert len(eng._groups) == 100 and eng.evictions == 900


def test_reload_is_atomic_and_keeps_unchanged_state() -> None:
    text = "rules:\n" + one(match="{kind: x}", frequency=2, timeframe=60)
    eng = rules(text)
    eng.process([ev("x", ts=0)])
    eng.reload(load_ruleset([read_file("t.yml", text)]))
    assert fired(eng.process([ev("x", ts=1)])) == ["t.r"]  # same version: the window kept
    eng.process([ev("x", ts=2)])
    eng.reload(load_ruleset([read_file("t.yml", text.replace("version: 1", "version: 2"))]))
    assert eng.process([ev("x", ts=3)]) == []  # new version: state dropped
    eng.reload(
        load_ruleset(
            [read_file("t.yml", text.replace("version: 1", "version: 3") + "    enabled: false\n")]
        )
    )
    assert eng.process([ev("x", ts=4), ev("x", ts=5)]) == []


def test_runtime_errors_are_counted_per_rule() -> None:
    eng = rules("rules:\n" + one(match="{kind: x, model_range: outside}"))

    def broken(event: SecurityEvent) -> tuple[float | None, float | None]:
        raise RuntimeError("resolver down")

    eng.context.point_range = broken
    assert eng.process([ev("x"), ev("x")]) == []
    assert eng.stats["t.r"].errors == 2


def test_the_hub_feeds_the_engine_and_the_sink_gets_alerts() -> None:
    async def go() -> MemorySink:
        hub = Hub()
        eng, sink = engine()
        hub.subscribe("detection", eng.handle)
        await hub.start()
        await hub.submit([tx("s7comm", "plc_stop", 0x29, port=102)])
        await hub.drained()
        await hub.stop()
        return sink

    sink = asyncio.run(go())
    assert [a.rule for a in sink.alerts] == ["ot.mode.stop"]


_text = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.sampled_from(
        [
            "modbus",
            "s7comm",
            "enip",
            "plc_stop",
            "list_identity",
            "console",
            "auth.failure",
            "ot.transaction",
            "ids.resolve",
        ]
    ),
)
_value = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=10)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)
_ip = st.one_of(st.none(), st.sampled_from(["10.0.0.1", "10.0.0.2", "::1", "203.0.113.9"]))


@st.composite
def _events(draw: Any) -> SecurityEvent:
    fields = draw(
        st.dictionaries(
            st.sampled_from(
                [
                    "function",
                    "write",
                    "values",
                    "unit",
                    "address",
                    "target",
                    "handle",
                    "value",
                    "details",
                ]
            ),
            _value,
            max_size=6,
        )
    )
    return SecurityEvent(
        ts=T0 + draw(st.floats(min_value=-1e6, max_value=1e6)),
        source="sensor",
        kind=draw(
            st.sampled_from(
                [
                    "ot.transaction",
                    "auth.failure",
                    "auth.success",
                    "ids.resolve",
                    "net.connection",
                    "x",
                ]
            )
        ),
        enterprise_id=draw(st.one_of(st.none(), st.integers(1, 3))),
        protocol=draw(_text),
        action=draw(_text),
        outcome=draw(st.sampled_from(["success", "failure", "unknown"])),
        src_ip=draw(_ip),
        dst_ip=draw(_ip),
        dst_port=draw(st.one_of(st.none(), st.integers(0, 65535))),
        user=draw(_text),
        fields=fields,
    )


_BUILTIN = load_ruleset(builtin_files())


@settings(max_examples=80, deadline=None)
@given(st.lists(_events(), max_size=30))
def test_random_events_never_crash_the_engine(events: list[SecurityEvent]) -> None:
    from indunet.security.detect import Baseline, Context

    from .helpers import lists

    base = Baseline()
    base.start(1, T0, days=0.0001)

    def point_range(event: SecurityEvent) -> tuple[float | None, float | None] | None:
        return (0.0, 10.0)

    ctx = Context(
        lists=lists(allowed_masters=["10.0.0.1"], modbus_functions=[3]),
        baseline=base,
        point_range=point_range,
    )
    eng = Engine(_BUILTIN, MemorySink(), ctx)
    eng.process(events)
    assert all(s.errors == 0 for s in eng.stats.values()), {
        k: v for k, v in eng.stats.items() if v.errors
    }
