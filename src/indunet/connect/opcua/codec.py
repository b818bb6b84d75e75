"""OPC UA values to samples and back: status codes to quality, variants to point types."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

from asyncua import ua
from asyncua.ua.attribute_ids import AttributeIds

from indunet.core import InvalidInput
from indunet.devices import Point
from indunet.telemetry import BAD, GOOD, UNCERTAIN, Value

_INT_RANGE = {
    ua.VariantType.SByte: (-(2**7), 2**7 - 1),
    ua.VariantType.Byte: (0, 2**8 - 1),
    ua.VariantType.Int16: (-(2**15), 2**15 - 1),
    ua.VariantType.UInt16: (0, 2**16 - 1),
    ua.VariantType.Int32: (-(2**31), 2**31 - 1),
    ua.VariantType.UInt32: (0, 2**32 - 1),
    ua.VariantType.Int64: (-(2**63), 2**63 - 1),
    ua.VariantType.UInt64: (0, 2**64 - 1),
}
_FLOAT32_MAX = 3.4028234663852886e38
_EARLIEST = datetime(1971, 1, 1, tzinfo=UTC)  # OPC UA's "no timestamp" is year 1601
QUEUE_SIZE = 10  # values a monitored item may queue between two publishes


def quality(status: ua.StatusCode | None) -> int:
    """GOOD, UNCERTAIN or BAD from the status code's severity bits."""
    if status is None:
        return GOOD
    severity = int(status.value) >> 30
    if severity == 0:
        return GOOD
    if severity == 1:
        return UNCERTAIN
    return BAD


def timestamp_ms(dv: ua.DataValue | None, now_ms: int | None = None) -> int:
    """The source timestamp, else the server's, else now; in ms since the epoch."""
    if dv is not None:
        for stamp in (dv.SourceTimestamp, dv.ServerTimestamp):
            if isinstance(stamp, datetime):
                aware = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
                if aware >= _EARLIEST:
                    return int(aware.timestamp() * 1000)
    return now_ms if now_ms is not None else int(time.time() * 1000)


def to_value(point: Point, raw: Any) -> Value | None:
    """``raw`` (a variant's value) in the point's WoT type; None if it does not convert."""
    if isinstance(raw, ua.LocalizedText):
        raw = raw.Text
    if raw is None or isinstance(raw, list | tuple | dict | bytes):
        return None
    try:
        if point.type == "string":
            return raw if isinstance(raw, str) else str(raw)
        if isinstance(raw, str):
            return None
        if point.type == "boolean":
            return bool(raw)
        number = float(raw)
        if not math.isfinite(number):
            return None
        if point.type == "integer":
            return int(raw) if isinstance(raw, int) else round(number)
        return number
    except (TypeError, ValueError):
        return None


def to_variant(value: Value, vtype: ua.VariantType, what: str = "the node") -> ua.Variant:
    """A variant of the node's type holding ``value``; ``InvalidInput`` if it does not fit."""
    if vtype == ua.VariantType.Boolean:
        if isinstance(value, str | float) or value not in (0, 1):
            raise InvalidInput(f"{value!r} is not a boolean, as {what} needs")
        return ua.Variant(bool(value), vtype)
    if vtype in (ua.VariantType.String, ua.VariantType.LocalizedText):
        if not isinstance(value, str):
            raise InvalidInput(f"{value!r} is not a string, as {what} needs")
        text: Any = ua.LocalizedText(value) if vtype == ua.VariantType.LocalizedText else value
        return ua.Variant(text, vtype)
    if isinstance(value, str | bool):
        raise InvalidInput(f"{value!r} is not a number, as {what} ({vtype.name}) needs")
    if vtype in (ua.VariantType.Float, ua.VariantType.Double):
        if not math.isfinite(value) or (
            vtype == ua.VariantType.Float and abs(value) > _FLOAT32_MAX
        ):
            raise InvalidInput(f"{value!r} is out of range for {what} ({vtype.name})")
        return ua.Variant(float(value), vtype)
    if vtype in _INT_RANGE:
        if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
            raise InvalidInput(f"{value!r} is not a whole number, as {what} ({vtype.name}) needs")
        lo, hi = _INT_RANGE[vtype]
        number = int(value)
        if not lo <= number <= hi:
            raise InvalidInput(f"{value!r} is out of range for {what} ({vtype.name}: {lo} to {hi})")
        return ua.Variant(number, vtype)
    raise InvalidInput(f"{what} holds {vtype.name} values, which Indunet cannot write")


def status_name(exc: BaseException) -> str:
    """``BadNotWritable`` from an asyncua status error (or the exception's text)."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return str(ua.StatusCode(ua.UInt32(code)).name)
    return str(exc) or type(exc).__name__


def monitored_item(node_id: str, interval: float, handle: int) -> ua.MonitoredItemCreateRequest:
    """A request to monitor a variable's value every ``interval`` ms, queueing a few values."""
    params = ua.MonitoringParameters()
    params.ClientHandle = handle
    params.SamplingInterval = interval
    params.QueueSize = QUEUE_SIZE
    params.DiscardOldest = True
    request = ua.MonitoredItemCreateRequest()
    request.ItemToMonitor = ua.ReadValueId(NodeId=ua.NodeId.from_string(node_id))
    request.ItemToMonitor.AttributeId = AttributeIds.Value
    request.MonitoringMode = ua.MonitoringMode.Reporting
    request.RequestedParameters = params
    return request
