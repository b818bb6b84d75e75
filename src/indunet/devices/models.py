"""A device model (设备数据字典) as parsed from a W3C WoT Thing Model: points, actions, events.

The JSON document stays the source of truth (``ThingModel.document``); these frozen
dataclasses are the fast, typed view that connectors and the ingest pipeline use. Protocol
bindings come from each affordance's ``forms``; placeholders ``{{DEVICE_ID}}`` in topics and
node ids are filled per device with ``ThingModel.fill``.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

DataType = Literal["number", "integer", "boolean", "string"]
ModbusTable = Literal["coil", "discrete", "input", "holding"]
ModbusType = Literal[
    "bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"
]
DEVICE_PLACEHOLDER = "{{DEVICE_ID}}"

_REGISTERS = {"bool": 1, "int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}


@dataclass(frozen=True)
class ModbusForm:
    """Where a point lives on a Modbus device. ``address`` is 0-based (PDU addressing).

    ``unit`` overrides the device's unit id when set. Registers hold ``datatype`` with the
    given byte and word order; the decoded number is multiplied by ``scale``.
    """

    table: ModbusTable
    address: int
    datatype: ModbusType = "uint16"
    unit: int | None = None
    byte_order: Literal["big", "little"] = "big"
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0
    poll_interval: float = 1.0

    @property
    def count(self) -> int:
        """Registers (or bits, for coils and discrete inputs) the point occupies."""
        if self.table in ("coil", "discrete"):
            return 1
        return _REGISTERS.get(self.datatype, 4)


@dataclass(frozen=True)
class OpcUaForm:
    """An OPC UA variable: ``node_id`` in string form (``ns=2;s=Spindle.Speed``)."""

    node_id: str
    sampling_interval: float = 1000.0  # ms, the monitored item's requested interval


@dataclass(frozen=True)
class MqttForm:
    """A point carried in MQTT JSON payloads on ``topic``, found at ``json_path`` (``$.a.b``)."""

    topic: str
    json_path: str


Form = ModbusForm | OpcUaForm | MqttForm
F = TypeVar("F", ModbusForm, OpcUaForm, MqttForm)


def _first(forms: tuple[Form, ...], kind: type[F]) -> F | None:
    return next((f for f in forms if isinstance(f, kind)), None)


@dataclass(frozen=True)
class Point:
    """A property of the model: one data point (测点)."""

    name: str
    type: DataType
    title: dict[str, str] = field(default_factory=dict)  # {"zh": ..., "en": ...}
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    writable: bool = False
    forms: tuple[Form, ...] = ()

    def form(self, kind: builtins.type[F]) -> F | None:
        """The binding of this point for one protocol, if it has one."""
        return _first(self.forms, kind)


@dataclass(frozen=True)
class Action:
    """An action the device can perform (start, stop, reset ...)."""

    name: str
    title: dict[str, str] = field(default_factory=dict)
    input: dict[str, Any] | None = None  # a WoT data schema
    forms: tuple[Form, ...] = ()

    def form(self, kind: builtins.type[F]) -> F | None:
        """The binding of this action for one protocol, if it has one."""
        return _first(self.forms, kind)


@dataclass(frozen=True)
class Event:
    """An event the device emits."""

    name: str
    title: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class ThingModel:
    """A versioned device model. ``id`` is stable (``indunet:cnc-machine``); ``version`` semver."""

    id: str
    version: str
    title: dict[str, str]
    points: dict[str, Point]
    actions: dict[str, Action] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def ref(self) -> str:
        """``id@version``."""
        return f"{self.id}@{self.version}"

    @staticmethod
    def fill(template: str, device_id: str) -> str:
        """Put the device id into a topic or node id template."""
        return template.replace(DEVICE_PLACEHOLDER, device_id)
