"""Writes checked against the device models (the data dictionary): a register write whose
value, decoded as the model's Modbus form says, is outside the point's minimum or maximum.

``ModelRanges`` keeps an index of the platform's Modbus devices by where they answer
(host, port, unit), read from the device registry every ``REFRESH_S`` seconds in a worker
thread; ``outside(event)`` is what the detection rule ``ot.setpoint.out-of-range`` asks
(``model_range: outside``). Events of another enterprise than the device's never match a
device. A write that covers only part of a point's registers is not judged (the value is not
known), nor a coil (no range).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from indunet.devices import ModbusForm, ThingModel, registers

from .events import SecurityEvent

log = logging.getLogger(__name__)
REFRESH_S = 60.0
REGISTER_WRITES = frozenset({6, 16, 23})
Place = tuple[str, int, int]  # host, port, unit


class ModelRanges:
    """The device models' point ranges for register writes (a detection context part)."""

    def __init__(self, registry: Any, refresh_s: float = REFRESH_S) -> None:
        self.registry = registry
        self.refresh_s = refresh_s
        self.index: dict[Place, tuple[int, ThingModel]] = {}
        self.failures = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="security-setpoints")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def refresh(self) -> int:
        """Read the Modbus devices and their models again; how many are indexed."""
        index: dict[Place, tuple[int, ThingModel]] = {}
        for d in self.registry.list():
            if d.protocol != "modbus":
                continue
            c = d.connection
            host, port, unit = c.get("host"), c.get("port", 502), c.get("unit", 1)
            model = self.registry.model_of(d.id)
            if isinstance(host, str) and isinstance(port, int) and isinstance(unit, int) and model:
                index[(host, port, unit)] = (d.enterprise_id, model)
        self.index = index
        return len(index)

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:  # the database is away: keep the last index, try again
                self.failures += 1
                log.exception("reading the device models for setpoint checks failed")
            await asyncio.sleep(self.refresh_s)

    def outside(self, event: SecurityEvent) -> bool:
        """Whether ``event`` writes a value outside the range of the point it writes."""
        f = event.fields
        if event.protocol != "modbus" or f.get("function") not in REGISTER_WRITES:
            return False
        if event.dst_ip is None or event.dst_port is None:
            return False
        found = self.index.get((event.dst_ip, event.dst_port, _int(f.get("unit"), 1)))
        start, values = _int(f.get("address"), -1), f.get("values")
        if found is None or start < 0 or not isinstance(values, list):
            return False
        enterprise, model = found
        if event.enterprise_id is not None and event.enterprise_id != enterprise:
            return False
        written = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
        if len(written) != len(values):
            return False
        return any(_outside(p, start, written) for p in model.points.values())


def _outside(point: Any, start: int, values: Sequence[int]) -> bool:
    form = point.form(ModbusForm)
    if form is None or form.table != "holding" or form.datatype == "bool":
        return False
    if point.minimum is None and point.maximum is None:
        return False
    first = form.address - start
    if first < 0 or first + form.count > len(values):
        return False  # not wholly written: its value is not known
    try:
        value = registers.decode_registers(form, values[first : first + form.count])
    except Exception:  # registers that do not decode as the form says
        return False
    if isinstance(value, bool):
        return False
    return (point.minimum is not None and value < point.minimum) or (
        point.maximum is not None and value > point.maximum
    )


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
