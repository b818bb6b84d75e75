"""Drift-free poll ticks: the schedule stays on its grid; a late tick is polled at once, and
ticks a whole interval behind are skipped and counted."""

from __future__ import annotations

import pytest

from indunet.connect.modbus.link import next_tick


def test_on_time_polls_advance_by_one_interval() -> None:
    assert next_tick(10.0, 0.5, now=10.02) == (10.5, 0)
    # a poll that started late does not shift the grid ("now + interval" would drift)
    assert next_tick(10.0, 0.5, now=10.49) == (10.5, 0)


def test_a_tick_that_passed_during_a_long_poll_is_due_at_once() -> None:
    assert next_tick(10.0, 0.5, now=10.5) == (10.5, 0)
    assert next_tick(10.0, 0.5, now=10.9) == (10.5, 0)


def test_only_the_newest_of_several_passed_ticks_is_polled() -> None:
    assert next_tick(10.0, 0.5, now=11.0) == (11.0, 1)
    assert next_tick(10.0, 0.5, now=11.7) == (11.5, 2)


def test_a_thousand_ticks_keep_their_phase() -> None:
    due, skipped = 0.0, 0
    for i in range(1000):
        now = due + (0.6 if i % 7 == 0 else 0.01)  # sometimes more than two ticks late
        due, s = next_tick(due, 0.25, now)
        skipped += s
    assert (due / 0.25) == pytest.approx(round(due / 0.25))
    assert skipped > 0
