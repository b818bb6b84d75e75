"""Simulated Modbus devices behind a Modbus TCP gateway: one unit id per device (1–247).

Each unit's registers are laid out exactly as its model's ``ModbusForm``s say. Values are
encoded when a client reads them (so idle units cost nothing) from the device's latest step.
Writes to writable points are decoded, checked against the model and honoured; a write to a
read-only point answers ILLEGAL ADDRESS, a value out of range ILLEGAL VALUE, and nothing
changes. A device that is off the network answers GATEWAY TARGET DEVICE FAILED TO RESPOND
(exception 0x0B), which is what a real gateway says when a unit behind it is silent; a unit
id the gateway does not serve answers GATEWAY PATH UNAVAILABLE (0x0A).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from indunet.core import Conflict, InvalidInput
from indunet.devices import ModbusForm
from indunet.sim import registers
from indunet.sim.equipment import Equipment
from indunet.sim.mirror import PcapWriter, Tap
from indunet.sim.signals import check_value

_TABLE_OF_FC = {1: "coil", 5: "coil", 15: "coil", 2: "discrete", 4: "input"}
_TABLE_OF_FC.update({fc: "holding" for fc in (3, 6, 16, 22, 23)})
_TABLES = ("coil", "discrete", "holding", "input")  # pymodbus's block order
Binding = tuple[str, ModbusForm, bool]  # point, form, writable


def _bindings(eq: Equipment) -> dict[str, list[Binding]]:
    out: dict[str, list[Binding]] = {t: [] for t in _TABLES}
    for name, point in eq.model.points.items():
        form = point.form(ModbusForm)
        if form is not None:
            out[form.table].append((name, form, point.writable))
    return out


def _register_block(bindings: list[Binding]) -> list[SimData]:
    """Registers 0..end of one table; those of read-only points (and gaps) are read-only."""
    if not bindings:
        return [SimData(0, datatype=DataType.INVALID)]
    end = max(f.address + f.count for _, f, _ in bindings)
    writable = [False] * end
    for _, f, w in bindings:
        for a in range(f.address, f.address + f.count):
            writable[a] = w
    runs: list[SimData] = []
    start = 0
    for a in range(1, end + 1):
        if a == end or writable[a] != writable[start]:
            runs.append(
                SimData(
                    start,
                    count=a - start,
                    datatype=DataType.REGISTERS,
                    readonly=not writable[start],
                )
            )
            start = a
    return runs


def _bit_block(bindings: list[Binding]) -> list[SimData]:
    end = max((f.address + 1 for _, f, _ in bindings), default=1)
    return [SimData(0, values=[False] * end, datatype=DataType.BITS)]


class _Unit:
    """The register image of one device, filled from its values on every read."""

    def __init__(self, eq: Equipment) -> None:
        self.eq = eq
        self.tables = _bindings(eq)

    def simdevice(self, unit: int) -> SimDevice:
        t = self.tables
        blocks = (
            _bit_block(t["coil"]),
            _bit_block(t["discrete"]),
            _register_block(t["holding"]),
            _register_block(t["input"]),
        )
        return SimDevice(unit, simdata=blocks, action=self.action)

    async def action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        image: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus calls this on every access to the unit, before it answers."""
        if not self.eq.online:
            return ExcCodes.GATEWAY_NO_RESPONSE
        table = _TABLE_OF_FC.get(function_code)
        if table is None or not self.tables[table]:
            return ExcCodes.ILLEGAL_ADDRESS
        self.fill(table, start_address, image)
        self.eq.counters.requests += 1
        if set_values is None:
            return None
        return self.write(table, start_address, address, image, list(set_values))

    def fill(self, table: str, base: int, image: list[int]) -> None:
        """Write the current values of one table into pymodbus's register list."""
        for name, form, _ in self.tables[table]:
            value = self.eq.values.get(name)
            if value is None:
                continue
            if table in ("coil", "discrete"):
                word, bit = divmod(form.address, 16)
                i = word - base
                image[i] = image[i] | (1 << bit) if value else image[i] & ~(1 << bit)
            else:
                try:
                    regs = registers.encode(form, value)  # type: ignore[arg-type]
                except InvalidInput:
                    continue
                image[form.address - base : form.address - base + len(regs)] = regs

    def write(
        self, table: str, base: int, address: int, image: list[int], values: list[Any]
    ) -> ExcCodes | None:
        """Decode a write, check every touched point, then honour all of it or nothing."""
        span = range(address, address + len(values))
        touched = [(n, f, w) for n, f, w in self.tables[table] if _overlaps(f, span)]
        if table == "coil":
            covered = {f.address for _, f, _ in touched}
            if any(a not in covered for a in span) or not all(w for _, _, w in touched):
                return ExcCodes.ILLEGAL_ADDRESS
            new: dict[str, float | int | bool] = {
                n: bool(values[f.address - address]) for n, f, _ in touched
            }
        else:
            if not all(w for _, _, w in touched) or not touched:
                return ExcCodes.ILLEGAL_ADDRESS
            merged = list(image)
            for i, v in enumerate(values):
                merged[address - base + i] = int(v)
            new = {}
            for n, f, _ in touched:
                value = registers.decode(f, merged[f.address - base : f.address - base + f.count])
                if f.datatype == "float32" and isinstance(value, float):
                    value = float(f"{value:.7g}")
                new[n] = value
        try:
            for n, value in new.items():
                check_value(self.eq.model.points[n], value)
        except InvalidInput:
            self.eq.counters.refused += 1
            return ExcCodes.ILLEGAL_VALUE
        for n, value in new.items():
            self.eq.write(n, value)
        return None


def _overlaps(form: ModbusForm, span: range) -> bool:
    return form.address < span.stop and span.start < form.address + form.count


async def _no_such_unit(*_: object) -> ExcCodes:
    return ExcCodes.GATEWAY_PATH_UNAVIABLE


def _catch_all(size: int) -> SimDevice:
    """Unit 0 stands for every unit id the gateway does not serve: path unavailable (0x0A)."""
    bits = [SimData(0, values=[False] * (16 * size), datatype=DataType.BITS)]
    regs = [SimData(0, count=size, datatype=DataType.REGISTERS)]
    return SimDevice(0, simdata=(bits, list(bits), regs, list(regs)), action=_no_such_unit)


class ModbusGateway:
    """A Modbus TCP server for up to 247 simulated devices (unit ids 1.. in the given order)."""

    def __init__(
        self,
        equipment: Sequence[Equipment],
        host: str = "127.0.0.1",
        port: int = 0,
        mirror: PcapWriter | None = None,
    ) -> None:
        if not 1 <= len(equipment) <= 247:
            raise InvalidInput(f"a Modbus gateway serves 1 to 247 units, not {len(equipment)}")
        self.equipment = list(equipment)
        self.host = host
        self.port = port
        self.mirror = mirror
        self._server: ModbusTcpServer | None = None
        self._tap: Tap | None = None

    async def start(self) -> None:
        """Listen; with port 0 a free port is taken (then ``port`` holds it)."""
        served = [_Unit(eq) for eq in self.equipment]
        units = [u.simdevice(i + 1) for i, u in enumerate(served)]
        top = max(
            (f.address + f.count for u in served for b in u.tables.values() for _, f, _ in b),
            default=1,
        )
        units.append(_catch_all(top))
        # Mirrored: the server listens on a free port of its own and a tap on the public one,
        # copying every conversation into the capture (sim.mirror).
        listen = 0 if self.mirror is not None else self.port
        server = ModbusTcpServer(units, address=(self.host, listen))
        try:
            await server.serve_forever(background=True)
        except RuntimeError:
            raise Conflict(
                f"cannot listen for Modbus TCP on {self.host}:{listen}: in use?"
            ) from None
        self._server = server
        sockets = getattr(server.transport, "sockets", None) or []
        bound = int(sockets[0].getsockname()[1]) if sockets else listen
        if self.mirror is None:
            self.port = bound
            return
        self._tap = Tap(self.mirror, (self.host, bound), self.host, self.port)
        try:
            await self._tap.start()
        except OSError:
            await self.stop()
            raise Conflict(
                f"cannot listen for Modbus TCP on {self.host}:{self.port}: in use?"
            ) from None
        self.port = self._tap.port

    async def stop(self) -> None:
        """Close the listener and every client connection."""
        if self._tap is not None:
            await self._tap.stop()
            self._tap = None
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None
