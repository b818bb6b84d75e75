"""Capped exponential backoff with full jitter, shared by every reconnect and retry loop."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Backoff:
    """Delays ``uniform(c/2, c)`` with ``c = min(cap, base * 2**n)`` after the n-th failure.

    The jitter spreads a crowd of devices that lost their broker at the same moment, so they
    do not all come back in the same second. ``reset`` after a success.
    """

    base: float = 0.5
    cap: float = 30.0
    attempts: int = 0

    def next(self) -> float:
        """The delay before the next attempt, in seconds; counts the attempt."""
        ceiling = min(self.cap, self.base * (2 ** min(self.attempts, 30)))
        self.attempts += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """Forget past failures."""
        self.attempts = 0
