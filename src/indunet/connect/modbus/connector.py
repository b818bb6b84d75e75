"""The Modbus TCP connector: polls devices' registers and coils, writes commands.

Each device's ``DeviceLink.connection`` holds ``ModbusSettings`` (host, port, unit ...);
its model's ``ModbusForm`` points are coalesced into blocks (``plan.plan_reads``) and polled
over the ``host:port``'s connections (one unless the settings ask for more). An exception
answer (say, an unmapped address) or a short one (fewer registers than asked) is a dead
letter, recorded once until that block reads again; the other blocks keep flowing, and a
unit answering short reads is polled less often without dropping its neighbours' connection.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pymodbus.pdu import ModbusPDU

from indunet.connect.connector import CommandFailed, DeviceLink, Health, StatusSink
from indunet.connect.links import Links
from indunet.core import InvalidInput, NotFound
from indunet.core.backoff import Backoff
from indunet.devices import ModbusForm, Point
from indunet.telemetry import Sample, SampleSink, Value

from .codec import encode_coil, encode_registers
from .config import ModbusSettings
from .faults import Unreachable, exception_text
from .link import Connection, DeviceState, Group, Stats, answer_fault
from .plan import Limits, bound_points, plan_reads


class ModbusConnector:
    """Modbus TCP devices, polled on the process's event loop."""

    protocol = "modbus"

    def __init__(
        self, sink: SampleSink, status: StatusSink, *, backoff: Callable[[], Backoff] = Backoff
    ) -> None:
        self.sink = sink
        self.status = status
        self.backoff = backoff  # a fresh reconnect Backoff for each connection
        self.stats = Stats()
        self._links: Links[tuple[str, int, int], Connection] = Links(self._connection)

    async def start(self) -> None:
        """Begin connecting and polling every device added so far."""
        await self._links.start()

    async def stop(self) -> None:
        """Stop polling and close every connection."""
        await self._links.stop()

    def add(self, device: DeviceLink) -> None:
        """Serve ``device``; ``InvalidInput`` (and no change) for bad settings or forms."""
        settings = ModbusSettings.parse(device.connection)
        points = bound_points(device.model)
        if not points:
            raise InvalidInput(f"model {device.model.ref} has no point with a Modbus form")
        blocks = plan_reads(
            points,
            unit=settings.unit,
            poll_interval=settings.poll_interval,
            limits=Limits.of(settings),
        )
        groups: dict[float, Group] = {}
        for block in blocks:
            groups.setdefault(block.interval, Group(block.interval, [])).blocks.append(block)
        self._links.add(
            settings.lane, device.id, DeviceState(device, settings, list(groups.values()))
        )

    def remove(self, device_id: str) -> None:
        """Stop polling ``device_id``; its connection closes with its last device."""
        self._links.remove(device_id)

    def read_count(self, device_id: str) -> int:
        """How many requests one full poll of ``device_id`` takes now."""
        return sum(len(g.blocks) for g in self._state(device_id)[1].groups)

    async def read(self, device_id: str, points: Sequence[str] | None = None) -> list[Sample]:
        """Poll the named points (default all) now; ``CommandFailed`` if the device fails."""
        conn, dev = self._state(device_id)
        chosen = bound_points(dev.link.model, points)
        if points is not None:
            missing = set(points) - {p.name for p, _ in chosen}
            if missing:
                raise InvalidInput(f"device {device_id} has no Modbus point {sorted(missing)[0]}")
        s = dev.settings
        samples: list[Sample] = []
        for block in plan_reads(chosen, unit=s.unit, poll_interval=1.0, limits=Limits.of(s)):
            what = f"reading {block.describe()}"
            pdu = await _answer(dev, what, conn.read(s, block))
            fault = answer_fault(block, pdu)
            if fault is not None:
                raise CommandFailed(f"device {device_id}: {fault} {what}")
            samples.extend(conn.decode(dev, block, pdu, int(time.time() * 1000)))
        return samples

    async def write(self, device_id: str, point: str, value: Value) -> None:
        """Write a point (FC5 coil, FC6 one register, FC16 several); ``CommandFailed`` says why."""
        conn, dev = self._state(device_id)
        await self._write_form(conn, dev, _writable_form(dev, point, value), value)

    async def check_write(self, device_id: str, point: str, value: Value) -> None:
        """``InvalidInput`` when ``write`` would refuse ``value``; nothing is sent."""
        conn = self._links.get(device_id)
        if conn is None:
            return  # not served: ``write`` says so
        form = _writable_form(conn.devices[device_id], point, value)
        if form.table == "coil":
            encode_coil(value)
        else:
            encode_registers(form, value)

    async def invoke(self, device_id: str, action: str, payload: Any) -> Any:
        """Run an action bound to a coil or register (``null`` input sets a coil)."""
        conn, dev = self._state(device_id)
        act = dev.link.model.actions.get(action)
        if act is None:
            raise InvalidInput(f"device {device_id} has no action {action}")
        form = act.form(ModbusForm)
        if form is None:
            raise CommandFailed(f"action {action} is not supported over Modbus (no Modbus form)")
        value = True if payload is None and form.table == "coil" else payload
        if not isinstance(value, bool | int | float):
            raise InvalidInput(f"action {action} takes a number or boolean, not {value!r}")
        await self._write_form(conn, dev, form, value)
        return None

    def health(self) -> Health:
        """Devices online, reconnects, and request counters."""
        devices = [d for c in self._links for d in c.devices.values()]
        s = self.stats
        return Health(
            protocol=self.protocol,
            connected=sum(1 for d in devices if d.online),
            devices=len(devices),
            reconnects=s.reconnects,
            errors=s.errors + s.timeouts + s.exceptions,
            detail={
                "connections": len(self._links),
                "connections_up": sum(1 for c in self._links if c.up),
                "reads": s.reads,
                "timeouts": s.timeouts,
                "exceptions": s.exceptions,
                "skipped_ticks": s.skipped_ticks,
                "dropped_samples": s.dropped_samples,
                "split_blocks": s.split_blocks,
                "short_answers": s.short_answers,
                "blocks": sum(len(g.blocks) for d in devices for g in d.groups),
            },
        )

    # --- helpers ------------------------------------------------------------------------

    def _connection(self, lane: tuple[str, int, int]) -> Connection:
        return Connection(lane, self.sink, self.status, self.stats, self.backoff())

    def _state(self, device_id: str) -> tuple[Connection, DeviceState]:
        conn = self._links.get(device_id)
        if conn is None:
            raise NotFound(f"device {device_id} is not served by the Modbus connector")
        return conn, conn.devices[device_id]

    async def _write_form(
        self, conn: Connection, dev: DeviceState, form: ModbusForm, value: Value
    ) -> None:
        unit = form.unit if form.unit is not None else dev.settings.unit
        addr = form.address
        what = f"writing {form.table} {addr} (unit {unit})"
        if form.table == "coil":
            bit = encode_coil(value)
            await _answer(
                dev,
                what,
                conn.call(dev.settings, lambda c: c.write_coil(addr, bit, device_id=unit)),
            )
            return
        regs = encode_registers(form, value)
        if len(regs) == 1:
            sent = conn.call(
                dev.settings, lambda c: c.write_register(addr, regs[0], device_id=unit)
            )
        else:
            sent = conn.call(dev.settings, lambda c: c.write_registers(addr, regs, device_id=unit))
        await _answer(dev, what, sent)


async def _answer(dev: DeviceState, what: str, request: Awaitable[ModbusPDU]) -> ModbusPDU:
    """The request's answer; ``CommandFailed`` naming the Modbus reason otherwise."""
    try:
        pdu = await request
    except Unreachable as exc:
        raise CommandFailed(f"device {dev.link.id}: {exc} {what}") from exc
    if pdu.isError():
        code = int(getattr(pdu, "exception_code", 0))
        raise CommandFailed(f"device {dev.link.id}: {exception_text(code)} {what}")
    return pdu


def _writable_form(dev: DeviceState, point: str, value: Value) -> ModbusForm:
    """The Modbus form ``value`` is written through; ``InvalidInput`` if the point refuses it."""
    p = dev.link.model.points.get(point)
    if p is None:
        raise InvalidInput(f"device {dev.link.id} has no point {point}")
    if not p.writable:
        raise InvalidInput(f"point {point} of device {dev.link.id} is read-only")
    form = p.form(ModbusForm)
    if form is None:
        raise InvalidInput(f"point {point} has no Modbus form")
    _check_range(p, value)
    return form


def _check_range(point: Point, value: Value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if point.minimum is not None and value < point.minimum:
        raise InvalidInput(
            f"{value!r} is below the minimum {point.minimum:g} of point {point.name}"
        )
    if point.maximum is not None and value > point.maximum:
        raise InvalidInput(
            f"{value!r} is above the maximum {point.maximum:g} of point {point.name}"
        )
