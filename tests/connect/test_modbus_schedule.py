"""Drift-free poll ticks: the schedule stays on its grid, late ticks are skipped and counted."""

from __future__ import annotations

import pytest

from indunet.connect.modbus.link import next_tick


def test_on_time_polls_advance_by_one_interval() -> None:
    assert next_tick(10.0, 0.5, now=10.02) == (10.5, 0)
    # a poll that started late does not shift the grid ("now + interval" would drift)
    assert next_tick(10.0, 0.5, now=10.49) == (10.5, 0)


def test_ticks_that_passed_during_a_long_poll_are_skipped() -> None:
    assert next_tick(10.0, 0.5, now=10.5) == (11.0, 1)
    assert next_tick(10.0, 0.5, now=11.7) == (12.0, 3)


def test_a_thousand_ticks_keep_their_phase() -> None:
    due, skipped = 0.0, 0
    for i in range(1000):
        now = due + (0.3 if i % 7 == 0 else 0.01)  # sometimes very late
        due, s = next_tick(due, 0.25, now)
        skipped += s
    assert (due / 0.25) == pytest.approx(round(due / 0.25))
    assert skipped > 0
