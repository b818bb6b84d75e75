"""How often messages go out: grouping a burst into one digest, a rate per channel, and
retries with capped exponential backoff. Pure and clock-driven, so each is tested alone.

- ``Groups``: the first notice for a (rule, device) opens a group that stays open for
  ``window`` seconds; every notice for the same key in that time joins it, and the group is
  sent once, as one digest, when the window closes. A flapping alarm that raises and clears
  fifty times in a minute is one message.
- ``RateLimit``: a token bucket per channel, ``burst`` messages at once and ``per_minute``
  after that (DingTalk refuses more than 20 a minute per robot). A message over the rate
  waits for its token; it is not dropped.
- ``Backoff``: attempt ``n`` (from 1) waits ``min(cap, base * 2 ** (n - 1))`` seconds before
  the next; after ``attempts`` tries the delivery is ``failed``.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

#: Notices one digest lists; more are counted, not listed.
MAX_LISTED = 20


@dataclass(frozen=True, slots=True)
class Pacing:
    """The dispatcher's limits, named once."""

    window: float = 30.0
    per_minute: float = 20.0
    burst: int = 5
    backoff_base: float = 2.0
    backoff_cap: float = 300.0
    attempts: int = 5
    queue: int = 10_000


@dataclass
class Group(Generic[T]):
    """Notices gathered for one key until ``due``."""

    due: float
    items: list[T] = field(default_factory=list)
    count: int = 0


class Groups(Generic[K, T]):
    """Open groups by key (see the module docstring)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._open: dict[K, Group[T]] = {}

    def add(self, key: K, item: T, now: float) -> None:
        """Put ``item`` in ``key``'s group, opening one due ``window`` from ``now``."""
        group = self._open.get(key)
        if group is None:
            group = self._open[key] = Group(now + self.window)
        group.count += 1
        if len(group.items) < MAX_LISTED:
            group.items.append(item)

    def due(self, now: float) -> list[tuple[K, Group[T]]]:
        """Take the groups whose window has closed."""
        ready = [(k, g) for k, g in self._open.items() if g.due <= now]
        for k, _ in ready:
            del self._open[k]
        return ready

    def next_due(self) -> float | None:
        """When the next group closes, if any is open."""
        return min((g.due for g in self._open.values()), default=None)

    def __len__(self) -> int:
        return len(self._open)


class RateLimit(Generic[K]):
    """A token bucket per key."""

    def __init__(self, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self._buckets: dict[K, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: K, now: float) -> float:
        """Take a token for ``key``: 0 if one was free, else the seconds until one is (the
        token is then reserved, so callers waiting in turn are spaced by the rate)."""
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        tokens -= 1.0
        self._buckets[key] = (tokens, now)
        return 0.0 if tokens >= 0 else -tokens / self.rate


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry ``attempt`` + 1: ``min(cap, base * 2 ** (attempt - 1))``."""

    base: float = 2.0
    cap: float = 300.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (from 1)."""
        return float(min(self.cap, self.base * 2 ** max(0, attempt - 1)))
