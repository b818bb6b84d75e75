"""Counters of the ingest pipeline since start, for metrics and the stats API."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class IngestStats:
    """What the pipeline did since it was made; ``snapshot`` adds the live gauges."""

    accepted: int = 0
    stored: int = 0
    buffered_total: int = 0
    dead: Counter[str] = field(default_factory=Counter)
    overloaded: int = 0
    batches: int = 0
    write_seconds: float = 0.0
    store_failures: int = 0
    buffer_failures: int = 0
    task_restarts: int = 0
    on_stored_errors: int = 0
    on_stored_dropped: int = 0

    def snapshot(self, **gauges: Any) -> dict[str, Any]:
        """Counters and the given gauges (queue, buffer) as one JSON-ready dict."""
        return {
            "accepted": self.accepted,
            "stored": self.stored,
            "dead_lettered": dict(self.dead),
            "dead_lettered_total": sum(self.dead.values()),
            **gauges,
            "buffered_total": self.buffered_total,
            "overloaded": self.overloaded,
            "batches": self.batches,
            "write_seconds": round(self.write_seconds, 6),
            "store_failures": self.store_failures,
            "buffer_failures": self.buffer_failures,
            "task_restarts": self.task_restarts,
            "on_stored_errors": self.on_stored_errors,
            "on_stored_dropped": self.on_stored_dropped,
        }
