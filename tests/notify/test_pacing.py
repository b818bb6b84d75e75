"""Grouping, per-channel rate and retry backoff of notifications, on a fake clock."""

from __future__ import annotations

from indunet.notify import Backoff, Groups, RateLimit
from indunet.notify.pacing import MAX_LISTED


def test_a_flapping_key_is_one_group_sent_when_its_window_closes() -> None:
    groups: Groups[str, int] = Groups(window=30.0)
    for i in range(100):  # a hundred raise/clear events within 10 s
        groups.add("rule1/pump-1", i, now=i * 0.1)
    groups.add("rule1/pump-2", 0, now=5.0)
    assert groups.due(now=29.9) == []
    ready = groups.due(now=30.0)
    assert [k for k, _ in ready] == ["rule1/pump-1"]
    group = ready[0][1]
    assert group.count == 100 and len(group.items) == MAX_LISTED  # counted, listed up to 20
    assert groups.next_due() == 35.0
    assert [k for k, _ in groups.due(now=35.0)] == ["rule1/pump-2"]
    assert len(groups) == 0 and groups.next_due() is None


def test_a_new_event_after_the_window_opens_a_new_group() -> None:
    groups: Groups[str, str] = Groups(window=10.0)
    groups.add("k", "a", now=0.0)
    assert len(groups.due(now=10.0)) == 1
    groups.add("k", "b", now=11.0)
    ((_key, group),) = groups.due(now=21.0)
    assert group.items == ["b"] and group.due == 21.0


def test_rate_limit_allows_a_burst_then_spaces_messages_by_the_rate() -> None:
    rate: RateLimit[int] = RateLimit(per_minute=20, burst=5)
    waits = [rate.take(1, now=0.0) for _ in range(7)]
    assert waits[:5] == [0.0] * 5
    assert waits[5] == 3.0 and waits[6] == 6.0  # 20 a minute: one every 3 s, reserved in turn
    assert rate.take(2, now=0.0) == 0.0  # another channel has its own bucket
    assert rate.take(1, now=60.0) == 0.0  # refilled


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(base=2.0, cap=30.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
