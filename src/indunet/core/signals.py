"""Signals: small records a subsystem notices on a hot path (a resolution answered, device
credentials refused, telemetry from a device nobody registered), published on the event bus
in batches.

Volume decides the shape. A public resolver answers tens of thousands of requests a second;
one bus event each would cost more than the answers. So a producer only appends a tuple to a
list (``Signal.add``: no lock, no I/O, no encoding), and one task per process (``Signals``)
takes every signal's records each ``INTERVAL_S``, turns them into JSON with the signal
type's ``shape`` and publishes **one event per type**, carrying at most ``RECORDS_MAX``
records (and ``BYTES_MAX`` bytes of them) and ``left_out``, the count of records that did
not fit. Nothing is dropped
silently: consumers add ``left_out`` to their counters, and the process counts it too
(``metric_lines``).

Producers call ``add`` from the event loop's thread (every one does), so the bound holds
exactly; ``take`` cuts anything beyond it all the same. A signal type is declared once, next
to its producer (``ids.events.RESOLUTIONS``), and consumed by its event type's name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from indunet.core.events import Event, EventBus, EventType

log = logging.getLogger(__name__)
RECORDS_MAX = 1_000
"""Records one event carries at most; more in one interval are counted ``left_out``."""
BYTES_MAX = 512 * 1024
"""The records of one event as JSON at most (a NATS message is 1 MiB by default; records
hold text clients chose, so a count alone would not bound it); the rest are ``left_out``."""
INTERVAL_S = 1.0
"""Seconds between two events of one signal type (of one process), at least."""

Record = tuple[Any, ...]
Shape = Callable[[Record], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class SignalType:
    """A kind of signal: the bus event its records travel in, and ``shape``, which turns one
    record (the tuple its producers add) into the JSON object consumers read. ``shape`` runs
    when the records are taken, off the hot path: producers add raw values (bytes, codes)
    and the shape decodes, names and bounds them."""

    event: EventType
    shape: Shape


class Signal:
    """The records of one signal type gathered since they were last taken."""

    __slots__ = ("kind", "left_out", "limit", "lost", "published", "records")

    def __init__(self, kind: SignalType, limit: int = RECORDS_MAX) -> None:
        self.kind = kind
        self.limit = limit
        self.records: list[Record] = []
        self.left_out = 0  # since the last take
        self.published = 0  # records handed to the bus, since start
        self.lost = 0  # records counted left out, or lost with an event that failed

    def add(self, record: Record) -> None:
        """Keep ``record`` for the next event, or count it left out (the hot path)."""
        records = self.records
        if len(records) < self.limit:
            records.append(record)
        else:
            self.left_out += 1

    def take(self) -> Event | None:
        """The records gathered since the last take as one event (``None``: nothing new).

        Its data: ``records`` (at most ``limit`` JSON objects and ``BYTES_MAX`` bytes of
        them, in the order added) and ``left_out`` (how many more there were)."""
        records, left = self.records, self.left_out
        if not records and not left:
            return None
        self.records, self.left_out = [], 0
        kept = records[: self.limit]
        shape = self.kind.shape
        try:
            shaped = [dict(shape(r)) for r in kept]
        except Exception:
            self.lost += len(records) + left
            raise
        size, fits = 0, 0
        for record in shaped:
            size += len(orjson.dumps(record)) + 1
            if size > BYTES_MAX:
                break
            fits += 1
        left += len(records) - fits
        self.lost += left
        return self.kind.event.make({"records": shaped[:fits], "left_out": left})


class Signals:
    """One process's signals by event type, published every ``interval_s`` by one task
    (the core subsystem's service). ``of`` is how producers get theirs."""

    def __init__(self, interval_s: float = INTERVAL_S, limit: int = RECORDS_MAX) -> None:
        self.interval_s = interval_s
        self.limit = limit
        self.bus: EventBus | None = None
        self.by_type: dict[str, Signal] = {}
        self.failed = 0  # events the bus did not take
        self._task: asyncio.Task[None] | None = None

    def of(self, kind: SignalType) -> Signal:
        """The signal of ``kind`` (made on first use; one per type name)."""
        signal = self.by_type.get(kind.event.name)
        if signal is None:
            signal = self.by_type[kind.event.name] = Signal(kind, self.limit)
        return signal

    async def flush(self) -> int:
        """Publish what every signal gathered since the last flush; how many events."""
        sent = 0
        for signal in list(self.by_type.values()):
            event: Event | None = None
            try:
                event = signal.take()
                if event is None:
                    continue
                if self.bus is None:
                    raise RuntimeError("signals have no bus to publish on")
                await self.bus.publish(event)
            except Exception:
                self.failed += 1
                if event is not None:
                    signal.lost += len(event.data["records"])
                log.exception("publishing %s signals failed (counted)", signal.kind.event.name)
                continue
            signal.published += len(event.data["records"])
            sent += 1
        return sent

    async def start(self) -> None:
        """Publish every ``interval_s`` from now on."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="signals")

    async def stop(self) -> None:
        """Stop the task, then publish what is left (at most one second's worth)."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.interval_s * 2):
                await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()  # never raises: each failure is logged and counted


class _State(Protocol):
    @property
    def signals(self) -> Signals: ...

    @property
    def bus(self) -> EventBus: ...


def service(state: _State) -> Signals:
    """Core's service: the process's signals, published on its bus."""
    state.signals.bus = state.bus
    return state.signals


def metric_lines(state: _State) -> list[str]:
    """Prometheus lines: each signal type's records published and lost (left out of a full
    event, or with an event the bus did not take) in this process."""
    signals = state.signals.by_type
    if not signals:
        return []
    lines = [
        "# HELP indunet_signal_records_total Signal records of this process, by what became "
        "of them.",
        "# TYPE indunet_signal_records_total counter",
    ]
    for name, s in sorted(signals.items()):
        lines.append(
            f'indunet_signal_records_total{{type="{name}",result="published"}} {s.published}'
        )
        lines.append(f'indunet_signal_records_total{{type="{name}",result="lost"}} {s.lost}')
    return lines
