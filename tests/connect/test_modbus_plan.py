"""Block coalescing: a model's Modbus points merged into as few reads as the protocol allows."""

from __future__ import annotations

import pytest

from indunet.connect.modbus import Limits, ModbusSettings, bound_points, plan_reads, read_count
from indunet.core import InvalidInput
from indunet.devices import ModbusForm, MqttForm, Point, ThingModel


def _model(*forms: tuple[str, ModbusForm]) -> ThingModel:
    points = {name: Point(name, "number", forms=(form,)) for name, form in forms}
    return ThingModel("test:plan", "1.0.0", {"en": "plan"}, points)


def _spans(model: ThingModel, **kw: object) -> list[tuple[str, int, int, int]]:
    return [(b.table, b.unit, b.start, b.count) for b in plan_reads(bound_points(model), **kw)]  # type: ignore[arg-type]


def test_contiguous_and_nearly_contiguous_registers_are_one_read() -> None:
    model = _model(
        ("a", ModbusForm("holding", 0, "float32")),
        ("b", ModbusForm("holding", 2, "uint16")),
        ("c", ModbusForm("holding", 8, "int32")),  # gap of 5 registers (3..7)
    )
    assert _spans(model) == [("holding", 1, 0, 10)]
    blocks = plan_reads(bound_points(model))
    assert [(s.point.name, s.offset) for s in blocks[0].slots] == [("a", 0), ("b", 2), ("c", 8)]
    assert blocks[0].describe() == "holding 0-9 (unit 1)"


def test_a_gap_wider_than_max_gap_starts_a_new_read() -> None:
    model = _model(("a", ModbusForm("input", 0)), ("b", ModbusForm("input", 20)))
    assert _spans(model, limits=Limits(max_gap=8)) == [("input", 1, 0, 1), ("input", 1, 20, 1)]
    assert _spans(model, limits=Limits(max_gap=19)) == [("input", 1, 0, 21)]
    assert _spans(model, limits=Limits(max_gap=0)) == [("input", 1, 0, 1), ("input", 1, 20, 1)]


def test_reads_never_exceed_125_registers_or_2000_bits() -> None:
    regs = _model(*((f"r{i}", ModbusForm("holding", i * 2, "float32")) for i in range(100)))
    spans = _spans(regs)
    assert [c for *_, c in spans] == [124, 76]  # 62 float32 fit in 125 registers
    coils = _model(*((f"c{i}", ModbusForm("coil", i, "bool")) for i in range(2500)))
    assert [c for *_, c in _spans(coils)] == [2000, 500]
    assert max(c for *_, c in _spans(regs, limits=Limits(max_block=10))) <= 10


def test_tables_units_and_intervals_are_separate_reads() -> None:
    model = _model(
        ("h", ModbusForm("holding", 0)),
        ("i", ModbusForm("input", 1)),
        ("c", ModbusForm("coil", 0, "bool")),
        ("d", ModbusForm("discrete", 3, "bool")),
        ("u", ModbusForm("holding", 1, unit=7)),
        ("slow", ModbusForm("holding", 2, poll_interval=10.0)),
    )
    blocks = plan_reads(bound_points(model), unit=3)
    assert {(b.interval, b.unit, b.table, b.start) for b in blocks} == {
        (1.0, 3, "holding", 0),
        (1.0, 3, "input", 1),
        (1.0, 3, "coil", 0),
        (1.0, 3, "discrete", 3),
        (1.0, 7, "holding", 1),
        (10.0, 3, "holding", 2),
    }
    # the device's poll_interval override puts every point on one schedule
    assert len(plan_reads(bound_points(model), unit=3, poll_interval=5.0)) == 5


def test_bits_may_span_wider_gaps_than_registers() -> None:
    model = _model(("a", ModbusForm("coil", 0, "bool")), ("b", ModbusForm("coil", 100, "bool")))
    assert _spans(model, limits=Limits(max_gap=8)) == [("coil", 1, 0, 101)]  # 16 * 8 bits


def test_overlapping_points_share_registers() -> None:
    model = _model(
        ("wide", ModbusForm("holding", 10, "float64")), ("low", ModbusForm("holding", 12))
    )
    assert _spans(model) == [("holding", 1, 10, 4)]


def test_read_count_and_points_without_modbus_forms() -> None:
    model = _model(("a", ModbusForm("holding", 0)), ("b", ModbusForm("holding", 100)))
    other = Point("m", "number", forms=(MqttForm("t", "$.m"),))
    model.points["m"] = other
    assert [p.name for p, _ in bound_points(model)] == ["a", "b"]
    assert read_count(model) == 2
    assert read_count(model, ModbusSettings(host="h", max_gap=99)) == 1


def test_out_of_space_address_or_bad_interval_is_refused() -> None:
    with pytest.raises(InvalidInput, match="point far"):
        bound_points(_model(("far", ModbusForm("holding", 65535, "float32"))))
    with pytest.raises(InvalidInput, match="poll interval"):
        plan_reads(bound_points(_model(("z", ModbusForm("holding", 0, poll_interval=0.0)))))
