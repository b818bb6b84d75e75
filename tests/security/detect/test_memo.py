"""Remembered verdicts (``Engine``'s memo): the same alerts as testing every rule on every
event, forgotten when what decided them changes, never taken from a value that only looks
alike."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.security.detect import (
    Baseline,
    Context,
    Engine,
    MemorySink,
    builtin_files,
    load_ruleset,
    read_file,
)
from indunet.security.detect import engine as engine_module
from indunet.security.detect.baseline import Item
from indunet.security.detect.conditions import reads
from indunet.security.events import SecurityEvent

from .helpers import T0, ev, fired, lists, tx
from .test_engine import _events, one


def rules(text: str, context: Context | None = None, **kw: Any) -> Engine:
    return Engine(load_ruleset([read_file("t.yml", text)]), MemorySink(), context, **kw)


def enforced(*pairs: tuple[str, str]) -> Baseline:
    """A baseline that learned ``pairs`` (Modbus, port 502) and now enforces."""
    base = Baseline()
    base.start(1, T0 - 100, days=0.0001)
    for src, dst in pairs:
        base.add(Item(1, "conversation", src, dst, "modbus", 502, None, "learned", T0 - 99))
    base.stop(1, T0 - 50)
    return base


def signature(alerts: list[Any]) -> list[tuple[Any, ...]]:
    return [(a.rule, a.ts, a.group, a.count, [e.id for e in a.events]) for a in alerts]


def test_what_a_condition_reads() -> None:
    assert reads({"src_ip": {"not_in_list": "m"}, "fields.write": True}) == {
        "src_ip",
        "enterprise_id",
        "fields.write",
    }
    assert reads({"learned": "conversation"}) == {
        "enterprise_id",
        "src_ip",
        "dst_ip",
        "protocol",
        "dst_port",
    }
    assert reads({"any": [{"action": "x"}, {"not": {"protocol": "y"}}]}) == {"action", "protocol"}
    # what varies with every event, or what is decided elsewhere, is tested every time
    assert reads({"model_range": "outside"}) is None
    assert reads({"message": {"regex": "x"}}) is None
    assert reads({"src_port": 502}) is None
    assert reads({"fields.address": 3}) is None
    assert reads({"all": [{"action": "x"}, {"ts": {"gt": 1}}]}) is None


def test_polling_traffic_is_decided_once_per_conversation() -> None:
    eng = rules("rules:\n" + one(match="{kind: ot.transaction, src_ip: {not_in_list: masters}}"))
    eng.set_context(Context(lists=lists(masters=["10.0.0.1"])))
    events = [tx("modbus", "read", 3, ts=i, src="10.0.0.1", src_port=40000 + i) for i in range(50)]
    events += [tx("modbus", "read", 3, ts=60 + i, src="10.0.0.66") for i in range(3)]
    alerts = eng.process(events)
    assert fired(alerts) == ["t.r"] * 3 and {a.src_ip for a in alerts} == {"10.0.0.66"}
    plan = eng._plans["ot.transaction"]
    assert len(plan.memo) == 2  # two sources, whatever else differed
    assert eng.stats["t.r"].matched == 3


def test_a_baseline_change_is_seen_by_the_next_batch() -> None:
    base = enforced(("10.0.0.1", "10.0.1.2"))
    ctx = Context(baseline=base)
    eng = Engine(load_ruleset(builtin_files()), MemorySink(), ctx)
    known = tx("modbus", "read_holding_registers", 3, src="10.0.0.1", dst="10.0.1.2")
    assert "baseline.new-conversation" not in fired(eng.process([known]))
    base.remove(Item(1, "conversation", "10.0.0.1", "10.0.1.2", "modbus", 502, None, "x", T0))
    again = tx("modbus", "read_holding_registers", 3, ts=1, src="10.0.0.1", dst="10.0.1.2")
    assert "baseline.new-conversation" in fired(eng.process([again]))
    base.add(Item(1, "conversation", "10.0.0.1", "10.0.1.2", "modbus", 502, None, "x", T0))
    later = tx("modbus", "read_holding_registers", 3, ts=2, src="10.0.0.1", dst="10.0.1.2")
    assert "baseline.new-conversation" not in fired(eng.process([later]))


def test_new_lists_are_seen_at_once() -> None:
    eng = rules("rules:\n" + one(match="{kind: ot.transaction, src_ip: {not_in_list: masters}}"))
    eng.set_context(Context(lists=lists(masters=["10.0.0.1"])))
    assert eng.process([tx("modbus", "read", 3, src="10.0.0.2")]) != []
    eng.set_context(Context(lists=lists(masters=["10.0.0.1", "10.0.0.2"])))
    assert eng.process([tx("modbus", "read", 3, ts=1, src="10.0.0.2")]) == []


def test_values_that_compare_equal_but_differ_in_type_are_not_confused() -> None:
    eng = rules("rules:\n" + one(match="{kind: ot.transaction, fields.write: true}"))
    assert fired(eng.process([tx("modbus", "w", 6, write=True)])) == ["t.r"]
    # 1 == True in Python, but only a true write matches ``fields.write: true``
    assert eng.process([tx("modbus", "w", 6, ts=1, write=1)]) == []  # type: ignore[arg-type]
    assert fired(eng.process([tx("modbus", "w", 6, ts=2, write=True)])) == ["t.r"]


def test_a_missing_field_is_not_a_null_one() -> None:
    eng = rules("rules:\n" + one(match="{kind: x, fields.target: {exists: false}}"))
    eng2 = rules("rules:\n" + one(match="{kind: x, fields.target: null}"))
    a = ev("x", fields={})
    b = ev("x", ts=1, fields={"target": None})
    assert fired(eng.process([a, b])) == ["t.r", "t.r"]
    assert fired(eng2.process([a, b])) == ["t.r"]  # only the event that says null


def test_a_value_that_cannot_be_a_key_is_tested_as_it_is() -> None:
    eng = rules("rules:\n" + one(match="{kind: ot.transaction, fields.function: {in: [43]}}"))
    listed = tx("modbus", "x", [43, 14])  # type: ignore[arg-type]
    plain = tx("modbus", "x", 43, ts=1)
    assert fired(eng.process([listed, plain])) == ["t.r"]
    assert len(eng._plans["ot.transaction"].memo) == 1


def test_a_rule_failing_on_an_event_is_counted_every_time() -> None:
    eng = rules("rules:\n" + one(match="{kind: x, action: a}"))
    compiled = eng._compiled[0]

    def broken(event: SecurityEvent, ctx: Context) -> bool:
        raise RuntimeError("boom")

    object.__setattr__(compiled, "test", broken)
    eng.process([ev("x", action="a"), ev("x", ts=1, action="a")])
    assert eng.stats["t.r"].errors == 2
    assert eng._plans["x"].memo == {}


def test_parents_still_come_before_children_when_one_is_tested_each_time() -> None:
    text = (
        "rules:\n"
        + one("t.parent", match="{kind: ot.transaction, fields.write: true}", group_by="pair")
        + one(
            "t.child",
            match="{kind: ot.transaction, model_range: outside}",
            group_by="pair",
            if_matched="t.parent",
            within=5,
        )
    )
    ctx = Context(point_range=lambda e: (0.0, 10.0))
    eng = rules(text, ctx)
    plan = eng._plans["ot.transaction"]
    assert [c.rule.id for c in plan.decided] == ["t.parent"]
    assert [c.rule.id for c in plan.each] == ["t.child"]
    alerts = eng.process([tx("modbus", "w", 6, write=True, value=99)])
    assert fired(alerts) == ["t.parent", "t.child"]


def test_no_verdict_is_taken_while_a_baseline_learns() -> None:
    base = Baseline()
    base.start(1, T0, days=10 / 86_400)  # learns for ten seconds of event time
    eng = Engine(load_ruleset(builtin_files()), MemorySink(), Context(baseline=base))
    # a host seen only as a source of nothing (no destination: no item to learn)
    during = ev("net.connection", ts=5, src_ip="10.0.0.7")
    after = ev("net.connection", ts=20, src_ip="10.0.0.7")
    # one batch: learning ends between the two events, which agree on all the rule reads
    alerts = eng.process([during, after])
    assert fired(alerts) == ["baseline.new-host"] and alerts[0].events[-1].id == after.id


def test_remembered_verdicts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "MAX_MEMO", 4)
    eng = rules("rules:\n" + one(match="{kind: x, src_ip: {in: [10.0.0.1]}}"))
    eng.process([ev("x", ts=i, src_ip=f"10.0.0.{i}") for i in range(1, 11)])
    assert len(eng._plans["x"].memo) <= 4 and eng.memo_resets == 2


@settings(max_examples=60, deadline=None)
@given(st.lists(_events(), max_size=40), st.randoms(use_true_random=False))
def test_remembering_changes_no_alert(events: list[SecurityEvent], rnd: Any) -> None:
    """Over random events, in random batches, with every built-in rule, lists and an
    enforcing baseline: the alerts are those of an engine that tests everything each time."""
    ruleset = load_ruleset(builtin_files())

    def context() -> Context:
        return Context(
            lists=lists(allowed_masters=["10.0.0.1"], modbus_functions=[3, 16]),
            baseline=enforced(("10.0.0.1", "10.0.0.2"), ("::1", "10.0.0.2")),
            point_range=lambda e: (0.0, 10.0),
        )

    memo = Engine(ruleset, MemorySink(), context())
    plain = Engine(ruleset, MemorySink(), context(), remember=False)
    # the same events again and again: what the memo answers from is exercised
    stream = sorted(events * 3, key=lambda e: e.ts)
    got, want = [], []
    while stream:
        n = rnd.randint(1, 10)
        batch, stream = stream[:n], stream[n:]
        got += memo.process(batch)
        want += plain.process(batch)
    assert signature(got) == signature(want)
    assert {r: s.errors for r, s in memo.stats.items()} == {
        r: s.errors for r, s in plain.stats.items()
    }
