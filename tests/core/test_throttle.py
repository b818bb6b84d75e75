"""The login throttle: free failures, doubling locks with a cap, forgetting, and its bound."""

from __future__ import annotations

import pytest

from indunet.core.throttle import Backoff, Throttle, TooManyAttempts

ACCOUNT = ("account", "alice")
SOURCE = ("source", "192.0.2.1")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: Clock, free: int = 2, max_keys: int = 100) -> Throttle:
    policy = Backoff(free=free, base=1.0, cap=8.0, forget_after=100.0)
    return Throttle({"account": policy, "source": policy}, max_keys=max_keys, clock=clock)


def test_locks_double_after_the_free_failures_and_stop_at_the_cap() -> None:
    assert [Backoff(free=2, cap=8.0).lock_for(n) for n in range(1, 8)] == [0, 0, 1, 2, 4, 8, 8]
    assert Backoff(free=0, cap=900.0).lock_for(10_000) == 900.0


def test_a_locked_key_is_refused_with_the_time_left() -> None:
    clock = Clock()
    t = throttle(clock)
    t.failed(ACCOUNT)
    t.failed(ACCOUNT)
    t.check(ACCOUNT)  # two failures are free
    t.failed(ACCOUNT)
    with pytest.raises(TooManyAttempts) as caught:
        t.check(ACCOUNT, SOURCE)
    assert caught.value.retry_after == 1
    assert caught.value.headers() == {"Retry-After": "1"}
    assert caught.value.status == 429
    clock.now += 1
    t.check(ACCOUNT)
    t.check(SOURCE)


def test_a_failure_that_locks_says_which_key_and_for_how_long() -> None:
    clock = Clock()
    t = throttle(clock)
    assert t.failed(ACCOUNT, SOURCE) == []
    assert t.failed(ACCOUNT) == []  # two are free
    assert t.failed(ACCOUNT, SOURCE) == [(ACCOUNT, 1.0)]  # the source has had two only
    clock.now += 1  # the lock is over; the next failure locks again, for longer
    assert t.failed(ACCOUNT, SOURCE) == [(ACCOUNT, 2.0), (SOURCE, 1.0)]


def test_success_clears_only_the_key_given() -> None:
    clock = Clock()
    t = throttle(clock, free=0)
    t.failed(ACCOUNT, SOURCE)
    t.succeeded(ACCOUNT)
    t.check(ACCOUNT)
    with pytest.raises(TooManyAttempts):
        t.check(SOURCE)


def test_old_failures_are_forgotten() -> None:
    clock = Clock()
    t = throttle(clock, free=0)
    t.failed(ACCOUNT)
    clock.now += 101
    t.check(ACCOUNT)
    t.failed(ACCOUNT)
    assert t.retry_after(ACCOUNT) == 1.0  # counted from zero again


def test_memory_is_bounded_dropping_the_least_recent_keys() -> None:
    clock = Clock()
    t = throttle(clock, free=0, max_keys=10)
    for i in range(25):
        t.failed(("source", f"10.0.0.{i}"))
    assert len(t) == 10
    assert t.retry_after(("source", "10.0.0.24")) > 0
    assert t.retry_after(("source", "10.0.0.0")) == 0
