"""OPC UA codec: status severity to quality, timestamps, point types, typed variants for writes."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from asyncua import ua

from indunet.connect.opcua.codec import quality, timestamp_ms, to_value, to_variant
from indunet.core import InvalidInput
from indunet.devices import Point
from indunet.telemetry import BAD, GOOD, UNCERTAIN

VT = ua.VariantType


def test_quality_follows_the_severity_bits() -> None:
    codes = ua.StatusCodes
    assert quality(ua.StatusCode(codes.Good)) == GOOD
    assert quality(ua.StatusCode(codes.GoodClamped)) == GOOD
    assert quality(ua.StatusCode(codes.UncertainSensorNotAccurate)) == UNCERTAIN
    assert quality(ua.StatusCode(codes.BadSensorFailure)) == BAD
    assert quality(ua.StatusCode(codes.BadCommunicationError)) == BAD
    assert quality(None) == GOOD


def test_timestamps_prefer_source_then_server_then_now() -> None:
    src = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    srv = datetime(2025, 1, 2, 3, 4, 6, tzinfo=UTC)
    assert timestamp_ms(ua.DataValue(1, SourceTimestamp=src, ServerTimestamp=srv)) == 1735787045678
    naive = datetime(2025, 1, 2, 3, 4, 6)  # asyncua may hand naive UTC
    assert timestamp_ms(ua.DataValue(1, ServerTimestamp=naive)) == 1735787046000
    epoch_1601 = datetime(1601, 1, 1, tzinfo=UTC)  # "no timestamp"
    assert timestamp_ms(ua.DataValue(1, SourceTimestamp=epoch_1601), now_ms=42) == 42
    assert timestamp_ms(None, now_ms=7) == 7


def test_values_convert_to_the_point_type() -> None:
    assert to_value(Point("a", "number"), 3) == 3.0
    assert to_value(Point("a", "integer"), 2.6) == 3
    assert to_value(Point("a", "integer"), 2**40) == 2**40
    assert to_value(Point("a", "boolean"), 0) is False
    assert to_value(Point("a", "string"), 12) == "12"
    assert to_value(Point("a", "string"), ua.LocalizedText("Auto")) == "Auto"
    for bad in (None, [1, 2], b"\x00", "fast", math.nan):
        assert to_value(Point("a", "number"), bad) is None


def test_variants_take_the_node_type() -> None:
    assert to_variant(120, VT.Int16) == ua.Variant(120, VT.Int16)
    assert to_variant(7.0, VT.UInt32) == ua.Variant(7, VT.UInt32)
    assert to_variant(1, VT.Double) == ua.Variant(1.0, VT.Double)
    assert to_variant(True, VT.Boolean) == ua.Variant(True, VT.Boolean)
    assert to_variant("O2000", VT.String) == ua.Variant("O2000", VT.String)
    assert to_variant("Auto", VT.LocalizedText).Value == ua.LocalizedText("Auto")


@pytest.mark.parametrize(
    ("value", "vtype", "message"),
    [
        (40000, VT.Int16, "out of range"),
        (-1, VT.Byte, "out of range"),
        (2**64, VT.UInt64, "out of range"),
        (1.5, VT.Int32, "not a whole number"),
        (math.inf, VT.Int32, "not a whole number"),
        (1e39, VT.Float, "out of range"),
        (math.nan, VT.Double, "out of range"),
        ("12", VT.Double, "not a number"),
        (True, VT.Int16, "not a number"),
        (2, VT.Boolean, "not a boolean"),
        (5, VT.String, "not a string"),
        (5, VT.Guid, "cannot write"),
    ],
)
def test_variants_refuse_what_does_not_fit(
    value: object, vtype: ua.VariantType, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        to_variant(value, vtype)  # type: ignore[arg-type]
