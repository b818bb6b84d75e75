"""Read plans: a model's Modbus points coalesced into as few requests as the protocol allows.

Points are grouped by (unit id, table, poll interval); within a group, sorted ranges are
merged while the hole between them is at most ``max_gap`` registers (``16 * max_gap`` bits
for coils and discrete inputs, which cost an eighth as much) and the request stays within
``max_block`` registers (``max_bits`` bits). Pure functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from indunet.core import InvalidInput
from indunet.devices import ModbusForm, Point, ThingModel

from .config import MAX_BITS, MAX_REGISTERS, ModbusSettings

Table = Literal["coil", "discrete", "input", "holding"]
BIT_TABLES: tuple[Table, ...] = ("coil", "discrete")
ADDRESS_SPACE = 65536


@dataclass(frozen=True, slots=True)
class Slot:
    """One point inside a block: where its registers (or bit) start, relative to the block."""

    point: Point
    form: ModbusForm
    offset: int


@dataclass(frozen=True, slots=True)
class Block:
    """One read request: ``count`` registers (or bits) of ``table`` from ``start``."""

    unit: int
    table: Table
    start: int
    count: int
    interval: float
    slots: tuple[Slot, ...]

    @property
    def end(self) -> int:
        """One past the last address read."""
        return self.start + self.count

    def describe(self) -> str:
        """``holding 100-109 (unit 1)``: how error messages name the request."""
        span = f"{self.start}" if self.count == 1 else f"{self.start}-{self.end - 1}"
        return f"{self.table} {span} (unit {self.unit})"


@dataclass(frozen=True, slots=True)
class Limits:
    """How far coalescing may go."""

    max_gap: int = 8
    max_block: int = MAX_REGISTERS
    max_bits: int = MAX_BITS

    @classmethod
    def of(cls, settings: ModbusSettings) -> Limits:
        """The limits a device's settings ask for."""
        return cls(settings.max_gap, settings.max_block, settings.max_bits)


def bound_points(
    model: ThingModel, names: Iterable[str] | None = None
) -> list[tuple[Point, ModbusForm]]:
    """The model's points that have a Modbus form (all, or those named), in model order."""
    wanted = None if names is None else set(names)
    out = []
    for point in model.points.values():
        if wanted is not None and point.name not in wanted:
            continue
        form = point.form(ModbusForm)
        if form is None:
            continue
        if form.address < 0 or form.address + form.count > ADDRESS_SPACE:
            raise InvalidInput(
                f"point {point.name}: {form.table} {form.address} (+{form.count}) "
                f"is outside the Modbus address space 0-65535"
            )
        out.append((point, form))
    return out


def plan_reads(
    points: Sequence[tuple[Point, ModbusForm]],
    *,
    unit: int = 1,
    poll_interval: float | None = None,
    limits: Limits = Limits(),
) -> list[Block]:
    """Coalesce points into blocks, ordered by (interval, unit, table, start)."""
    groups: dict[tuple[float, int, Table], list[tuple[Point, ModbusForm]]] = {}
    for point, form in points:
        key = (
            poll_interval if poll_interval is not None else form.poll_interval,
            form.unit if form.unit is not None else unit,
            form.table,
        )
        if not key[0] > 0:
            raise InvalidInput(
                f"point {point.name}: poll interval must be positive, not {key[0]!r}"
            )
        groups.setdefault(key, []).append((point, form))
    blocks: list[Block] = []
    for (interval, unit_id, table), members in sorted(groups.items()):
        bits = table in BIT_TABLES
        gap = limits.max_gap * 16 if bits else limits.max_gap
        size = limits.max_bits if bits else limits.max_block
        members.sort(key=lambda pf: (pf[1].address, pf[0].name))
        run: list[tuple[Point, ModbusForm]] = []
        start = end = 0
        for point, form in members:
            first, last = form.address, form.address + form.count
            if run and first - end <= gap and max(end, last) - start <= size:
                run.append((point, form))
                end = max(end, last)
                continue
            if run:
                blocks.append(_block(unit_id, table, start, end, interval, run))
            run, start, end = [(point, form)], first, last
        if run:
            blocks.append(_block(unit_id, table, start, end, interval, run))
    return blocks


def split(block: Block) -> list[Block]:
    """The block as one request per point: used when a device refuses a coalesced read."""
    return [
        Block(
            block.unit,
            block.table,
            s.form.address,
            s.form.count,
            block.interval,
            (Slot(s.point, s.form, 0),),
        )
        for s in block.slots
    ]


def read_count(model: ThingModel, settings: ModbusSettings | None = None) -> int:
    """How many requests one poll of every point of ``model`` takes."""
    s = settings or ModbusSettings(host="localhost")
    return len(
        plan_reads(
            bound_points(model), unit=s.unit, poll_interval=s.poll_interval, limits=Limits.of(s)
        )
    )


def _block(
    unit: int,
    table: Table,
    start: int,
    end: int,
    interval: float,
    run: list[tuple[Point, ModbusForm]],
) -> Block:
    slots = tuple(Slot(p, f, f.address - start) for p, f in run)
    return Block(unit, table, start, end - start, interval, slots)
