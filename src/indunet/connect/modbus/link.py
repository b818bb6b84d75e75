"""One Modbus TCP connection to a ``host:port``, shared by the devices behind it on that lane.

A gateway with many unit ids is one TCP connection (or ``connections`` of them, the units
spread over them): each connection's requests are serialized, each with the timeout of the
device it is for. The connection's task connects (with ``Backoff`` between attempts, cut
short when a refusing ``host:port`` starts accepting: ``connect.probe``), polls every
device's blocks when due, and hands each wake's samples to the sink in one call. Ticks are
drift-free (``due += interval``); a tick already past when the previous poll ends is polled
at once; ticks a whole interval behind are skipped and counted, so a slow cycle costs at
most one late poll, never a burst of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from indunet.connect.connector import DeviceLink, StatusSink
from indunet.connect.probe import wait_or_accepting
from indunet.core.backoff import Backoff
from indunet.telemetry import Overloaded, Sample, SampleSink
from indunet.telemetry.checks import said

from .codec import as_point_value, decode_registers
from .config import ModbusSettings
from .faults import (
    GATEWAY_CODES,
    SPLIT_CODES,
    Disconnected,
    Unreachable,
    exception_text,
    short_answer,
)
from .plan import BIT_TABLES, Block, split

log = logging.getLogger(__name__)

HOLD_BASE = 1.0
"""First pause (seconds) for a unit whose reads come back short; doubled per cycle after."""
HOLD_CAP = 30.0
"""Longest pause for such a unit: it is read again at least this often."""


def answer_fault(block: Block, pdu: ModbusPDU) -> str | None:
    """Why a well-framed answer cannot fill ``block`` (too few registers or bits); or None."""
    return short_answer(block.table, block.count, len(pdu.bits), len(pdu.registers))


def next_tick(due: float, interval: float, now: float) -> tuple[float, int]:
    """The tick to poll after ``due``, and how many ticks are skipped to get there.

    Ticks stay on the grid ``due + k * interval``: a late poll never shifts the schedule.
    When the cycle ran past the next tick, the newest tick already passed is due at once
    (its poll is late, not lost); only the ticks before it are skipped.
    """
    nxt = due + interval
    if nxt > now:
        return nxt, 0
    behind = int((now - nxt) // interval)
    return nxt + behind * interval, behind


@dataclass
class Group:
    """The blocks of one device polled at one interval, and when they are next due."""

    interval: float
    blocks: list[Block]
    due: float = 0.0


@dataclass
class DeviceState:
    """What the connection knows about one device."""

    link: DeviceLink
    settings: ModbusSettings
    groups: list[Group]
    online: bool | None = None
    failures: int = 0
    failing: set[str] = field(default_factory=set)
    held_until: float = 0.0  # loop time before which a unit answering short reads is not polled
    hold: Backoff = field(default_factory=lambda: Backoff(base=HOLD_BASE, cap=HOLD_CAP))

    def due(self, group: Group, now: float) -> bool:
        """True when ``group`` is due and the device is not held back."""
        return group.due <= now and self.held_until <= now


@dataclass
class Stats:
    """Counters shared by every connection of one connector."""

    reads: int = 0
    timeouts: int = 0
    exceptions: int = 0
    skipped_ticks: int = 0
    dropped_samples: int = 0
    split_blocks: int = 0
    short_answers: int = 0
    reconnects: int = 0
    errors: int = 0


class Connection:
    """One TCP connection to a ``host:port`` and the poll loop over its devices."""

    def __init__(
        self,
        lane: tuple[str, int, int],
        sink: SampleSink,
        status: StatusSink,
        stats: Stats,
        backoff: Backoff | None = None,
    ) -> None:
        self.lane = lane
        self.address = lane[:2]
        self.devices: dict[str, DeviceState] = {}
        self.sink = sink
        self.status = status
        self.stats = stats
        self.client: AsyncModbusTcpClient | None = None
        self.task: asyncio.Task[None] | None = None
        self._generation = 0
        self._lost = asyncio.Event()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._backoff = backoff or Backoff()

    @property
    def up(self) -> bool:
        """True while the TCP connection is established."""
        return self.client is not None and not self._lost.is_set()

    def start(self) -> None:
        """Run the connection's task (idempotent)."""
        if self.task is None or self.task.done():
            host, port = self.address
            self.task = asyncio.get_running_loop().create_task(
                self._run(), name=f"modbus {host}:{port}"
            )

    def wake(self) -> None:
        """Re-read the schedule now (a device was added or removed)."""
        self._wake.set()

    async def close(self) -> None:
        """Stop the task and drop the connection."""
        if self.task is not None:
            await _cancel(self.task)
            self.task = None
        self._drop()

    # --- requests ---------------------------------------------------------------------

    async def call(
        self,
        settings: ModbusSettings,
        request: Callable[[AsyncModbusTcpClient], Awaitable[ModbusPDU]],
    ) -> ModbusPDU:
        """Send one request when the connection is free; ``Unreachable`` if unanswered."""
        async with self._lock:
            for _ in range(settings.retries + 1):
                client = self.client
                if client is None or self._lost.is_set():
                    raise Disconnected(f"not connected to {self.address[0]}:{self.address[1]}")
                try:
                    pending = asyncio.ensure_future(request(client))
                except ConnectionException as exc:
                    raise Disconnected(str(exc)) from exc
                lost = asyncio.ensure_future(self._lost.wait())
                try:
                    done, _ = await asyncio.wait(
                        {pending, lost},
                        timeout=settings.timeout,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:  # also when this task is cancelled: leave nothing running
                    lost.cancel()
                    if not pending.done():
                        pending.cancel()
                        pending.add_done_callback(_consume)
                if pending in done:
                    try:
                        return pending.result()
                    except ConnectionException as exc:
                        raise Disconnected(str(exc)) from exc
                    except ModbusIOException:
                        continue  # a garbled or mismatched answer: like no answer
                    except ModbusException as exc:
                        raise Unreachable(f"request failed ({exc})") from exc
                if self._lost.is_set():
                    raise Disconnected(f"connection to {self.address[0]}:{self.address[1]} lost")
            self.stats.timeouts += 1
            raise Unreachable(f"no answer within {settings.timeout:g} s")

    async def read(self, settings: ModbusSettings, block: Block) -> ModbusPDU:
        """Read one block."""
        self.stats.reads += 1
        start, count, unit = block.start, block.count, block.unit
        if block.table == "coil":
            return await self.call(
                settings, lambda c: c.read_coils(start, count=count, device_id=unit)
            )
        if block.table == "discrete":
            return await self.call(
                settings, lambda c: c.read_discrete_inputs(start, count=count, device_id=unit)
            )
        if block.table == "input":
            return await self.call(
                settings, lambda c: c.read_input_registers(start, count=count, device_id=unit)
            )
        return await self.call(
            settings, lambda c: c.read_holding_registers(start, count=count, device_id=unit)
        )

    # --- the task ---------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            if await self._connect():
                try:
                    await self._poll_loop()
                except Disconnected as exc:
                    log.info("modbus %s:%s: %s", *self.address, exc)
                except Exception:
                    self.stats.errors += 1
                    log.exception("modbus %s:%s: poll loop failed; reconnecting", *self.address)
                finally:
                    self._drop()
                self.stats.reconnects += 1
                await asyncio.sleep(self._backoff.next())
            else:
                self._all_offline()
                await wait_or_accepting(*self.address, self._backoff.next())

    async def _connect(self) -> bool:
        host, port = self.address
        self._generation += 1
        generation = self._generation

        def traced(up: bool) -> None:
            if not up and generation == self._generation:
                self._lost.set()
                self._wake.set()

        client = AsyncModbusTcpClient(
            host,
            port=port,
            name=f"{host}:{port}",
            reconnect_delay=0,  # this task reconnects, with Backoff
            timeout=3600,  # per-request timeouts are enforced by ``call``
            retries=0,
            trace_connect=traced,
        )
        timeout = max((d.settings.timeout for d in self.devices.values()), default=1.0)
        try:
            async with asyncio.timeout(max(timeout, 1.0)):
                ok = await client.connect()
        except (TimeoutError, OSError):
            ok = False
        if not ok or not client.connected:
            client.close()
            self.stats.errors += 1
            return False
        self._lost.clear()
        self.client = client
        self._backoff.reset()
        return True

    def _drop(self) -> None:
        """Close the client; every device behind it is offline until the next poll answers."""
        self._generation += 1
        if self.client is not None:
            self.client.close()
            self.client = None
        self._lost.set()
        self._all_offline()

    def _all_offline(self) -> None:
        for dev in self.devices.values():
            self._set_online(dev, False)
            dev.failures = 0

    async def _poll_loop(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for dev in self.devices.values():
            for g in dev.groups:
                g.due = now
        while not self._lost.is_set():
            now = loop.time()
            due = [(d, g) for d in list(self.devices.values()) for g in d.groups if d.due(g, now)]
            if not due:
                nxt = min(
                    (max(g.due, d.held_until) for d in self.devices.values() for g in d.groups),
                    default=now + 3600,
                )
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(nxt - now, 0.0)):
                        await self._wake.wait()
                continue
            samples: list[Sample] = []
            for dev, group in due:
                if self.devices.get(dev.link.id) is dev:
                    samples.extend(await self._poll(dev, group))
                group.due, skipped = next_tick(group.due, group.interval, loop.time())
                self.stats.skipped_ticks += skipped
            samples = [x for x in samples if x.device in self.devices]  # not removed meanwhile
            if samples:
                await self._submit(samples)
            if self.devices and all(
                d.failures >= d.settings.offline_after for d in self.devices.values()
            ):
                raise Disconnected("no device answers: reconnecting")

    async def _poll(self, dev: DeviceState, group: Group) -> list[Sample]:
        """Read a group's blocks; a timeout ends the device's cycle (it would only repeat).

        A short answer is the unit's fault, not the connection's: one dead letter per
        episode, like an exception answer; the other blocks are still read, and the unit
        alone is then held back for ``dev.hold``'s next delay (reset by a clean cycle).
        """
        ts = int(time.time() * 1000)
        out: list[Sample] = []
        short = False
        pending = list(group.blocks)
        while pending:
            block = pending.pop(0)
            try:
                pdu = await self.read(dev.settings, block)
            except Disconnected:
                raise
            except Unreachable as exc:
                self._failed(dev, f"{exc} reading {block.describe()}")
                return out
            if isinstance(pdu, ExceptionResponse) or pdu.isError():
                code = int(getattr(pdu, "exception_code", 0))
                self.stats.exceptions += 1
                if code in GATEWAY_CODES:
                    self._failed(dev, f"{exception_text(code)} reading {block.describe()}")
                    return out
                self._answered(dev)
                if code in SPLIT_CODES and len(block.slots) > 1:
                    parts = split(block)
                    group.blocks[group.blocks.index(block) : group.blocks.index(block) + 1] = parts
                    pending[0:0] = parts
                    self.stats.split_blocks += 1
                    continue
                why = said("modbus_exception", code=str(code), block=block.describe())
                await self._episode(dev, block, exception_text(code), why)
                continue
            self._answered(dev)
            fault = answer_fault(block, pdu)
            if fault is not None:
                self.stats.short_answers += 1
                short = True
                why = said("modbus_short_answer", block=block.describe(), fault=fault)
                await self._episode(dev, block, fault, why)
                continue
            dev.failing.discard(block.describe())
            out.extend(self.decode(dev, block, pdu, ts))
        if short:
            dev.held_until = asyncio.get_running_loop().time() + dev.hold.next()
        else:
            dev.hold.reset()
        return out

    def decode(self, dev: DeviceState, block: Block, pdu: ModbusPDU, ts: int) -> list[Sample]:
        """The samples a block's answer holds (non-finite numbers left out)."""
        out = []
        bits = block.table in BIT_TABLES
        for slot in block.slots:
            if bits:
                number: float | int | bool = bool(pdu.bits[slot.offset])
            else:
                words = pdu.registers[slot.offset : slot.offset + slot.form.count]
                number = decode_registers(slot.form, words)
            value = as_point_value(slot.point, number)
            if value is not None:
                out.append(Sample(dev.link.id, slot.point.name, ts, value))
        return out

    async def _episode(
        self, dev: DeviceState, block: Block, fault: str, why: tuple[str, dict[str, str]]
    ) -> None:
        """Record a refused or short read once, until the block reads again."""
        key = block.describe()
        if key in dev.failing:
            return
        dev.failing.add(key)
        reason = f"{fault} reading {key}"
        payload = f"FC{_FUNCTION[block.table]} address={block.start} count={block.count} unit={block.unit}"
        try:
            await self.sink.reject(
                dev.link.id,
                source="modbus",
                reason=reason,
                payload=payload,
                why=why[0],
                params=why[1],
            )
        except Exception:
            self.stats.errors += 1
            log.exception("modbus: the sink refused a dead letter for %s", dev.link.id)

    async def _submit(self, samples: list[Sample]) -> None:
        try:
            await self.sink.submit(samples, source="modbus")
        except Overloaded:
            self.stats.dropped_samples += len(samples)
        except Exception:
            self.stats.errors += 1
            self.stats.dropped_samples += len(samples)
            log.exception("modbus: the sink failed on %d samples", len(samples))

    def _answered(self, dev: DeviceState) -> None:
        dev.failures = 0
        self._set_online(dev, True)

    def _failed(self, dev: DeviceState, reason: str) -> None:
        dev.failures += 1
        if dev.failures >= dev.settings.offline_after and dev.online is not False:
            log.info("modbus device %s offline: %s", dev.link.id, reason)
            self._set_online(dev, False)

    def _set_online(self, dev: DeviceState, online: bool) -> None:
        if dev.online is online:
            return
        dev.online = online
        try:
            self.status.device_status(dev.link.id, online)
        except Exception:
            self.stats.errors += 1
            log.exception("modbus: the status sink failed for %s", dev.link.id)


_FUNCTION = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}


def _consume(task: asyncio.Future[ModbusPDU]) -> None:
    """Retrieve an abandoned request's outcome, so asyncio does not log it as lost."""
    if not task.cancelled():
        task.exception()


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for it to end, without swallowing our own cancellation."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
