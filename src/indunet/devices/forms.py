"""Protocol bindings of Thing Model forms: Modbus (``modv:``), OPC UA, MQTT (``mqv:``), HTTP.

Follows the W3C WoT Binding Templates where they define terms, and adds ``indunet:`` terms
where they do not (``indunet:datatype``, ``indunet:scale``, ``indunet:jsonPath``,
``indunet:samplingInterval``). Each problem is reported with the JSON path of the term.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Literal, cast
from urllib.parse import parse_qs, unquote, urlsplit

from indunet.devices.models import (
    DEVICE_PLACEHOLDER,
    DataType,
    Form,
    ModbusForm,
    ModbusTable,
    ModbusType,
    MqttForm,
    OpcUaForm,
    Point,
)

Problems = list[tuple[str, str]]
Binding = Literal["modbus", "opcua", "mqtt", "http"]

ENTITIES: dict[str, ModbusTable] = {
    "Coil": "coil",
    "DiscreteInput": "discrete",
    "InputRegister": "input",
    "HoldingRegister": "holding",
}
FUNCTIONS: dict[str, ModbusTable] = {
    "readCoil": "coil",
    "writeSingleCoil": "coil",
    "writeMultipleCoils": "coil",
    "readDiscreteInput": "discrete",
    "readInputRegisters": "input",
    "readHoldingRegisters": "holding",
    "writeSingleHoldingRegister": "holding",
    "writeMultipleHoldingRegisters": "holding",
}
XSD_TYPES: dict[str, ModbusType] = {
    "xsd:boolean": "bool",
    "xsd:short": "int16",
    "xsd:unsignedShort": "uint16",
    "xsd:int": "int32",
    "xsd:unsignedInt": "uint32",
    "xsd:long": "int64",
    "xsd:unsignedLong": "uint64",
    "xsd:float": "float32",
    "xsd:double": "float64",
}
DATATYPES: tuple[ModbusType, ...] = (
    "bool",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
)
_SCHEMES: dict[str, Binding] = {
    "modbus+tcp": "modbus",
    "modbus": "modbus",
    "opc.tcp": "opcua",
    "mqtt": "mqtt",
    "mqtts": "mqtt",
    "http": "http",
    "https": "http",
}
_PREFIXES: dict[str, Binding] = {"modv:": "modbus", "opcua:": "opcua", "mqv:": "mqtt"}
_NODE_ID = re.compile(r"((ns=\d+|nsu=[^;]+);)?[isgb]=.+\Z", re.DOTALL)
_JSON_PATH = re.compile(r"\$(\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\])*\Z")
_PLACEHOLDER = re.compile(r"\{\{[ -~]+?\}\}")
_PLAIN_KEY = re.compile(r"[A-Za-z_@][A-Za-z0-9_:@-]*\Z")
_CONTROL_PACKETS = ("publish", "subscribe", "unsubscribe")


def json_path(*parts: str | int) -> str:
    """``$.properties.temp.forms[0].modv:type`` from its parts."""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif _PLAIN_KEY.match(p):
            out += f".{p}"
        else:
            out += "[" + repr(p) + "]"
    return out


def binding_of(form: dict[str, Any], base: str = "") -> Binding | None:
    """The protocol a form is for, from its vocabulary prefixes or its href's URI scheme."""
    found = {b for key in form for pre, b in _PREFIXES.items() if key.startswith(pre)}
    href = form.get("href")
    scheme = urlsplit(href).scheme if isinstance(href, str) else ""
    if not scheme and not found and base:
        scheme = urlsplit(base).scheme
    if scheme in _SCHEMES:
        found.add(_SCHEMES[scheme])
    if len(found) == 1:
        return found.pop()
    return None


class FormReader:
    """Turns forms into ``ModbusForm``/``OpcUaForm``/``MqttForm``, appending problems."""

    def __init__(self, problems: Problems, base: str = "") -> None:
        self.problems = problems
        self.base = base

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def read(
        self,
        path: str,
        form: dict[str, Any],
        *,
        ptype: DataType | None,
        writable: bool,
        name: str,
    ) -> Form | None:
        """Parse one form; ``ptype`` is None for actions. HTTP forms are accepted, not mapped."""
        self._placeholders(path, form)
        kinds = {b for key in form for pre, b in _PREFIXES.items() if key.startswith(pre)}
        binding = binding_of(form, self.base)
        if binding is None:
            if len(kinds) > 1:
                self.problem(path, f"mixes terms of several bindings ({', '.join(sorted(kinds))})")
            else:
                self.problem(
                    path,
                    "no known protocol binding: use modv: terms or a modbus+tcp:// href "
                    "(Modbus), opcua:nodeId or an opc.tcp:// href with ?id= (OPC UA), "
                    "mqv: terms or an mqtt:// href (MQTT), or an http(s):// href",
                )
            return None
        if binding == "modbus":
            return self._modbus(path, form, ptype, writable)
        if binding == "opcua":
            return self._opcua(path, form)
        if binding == "mqtt":
            return self._mqtt(path, form, name, action=ptype is None)
        return None

    def _placeholders(self, path: str, form: dict[str, Any]) -> None:
        for key, value in form.items():
            if isinstance(value, str):
                for ph in _PLACEHOLDER.findall(value):
                    if ph != DEVICE_PLACEHOLDER:
                        self.problem(
                            f"{path}.{key}",
                            f"placeholder {ph} is unknown; forms may use only {DEVICE_PLACEHOLDER}",
                        )

    # -- Modbus ----------------------------------------------------------------------------
    def _modbus(
        self, path: str, form: dict[str, Any], ptype: DataType | None, writable: bool
    ) -> ModbusForm | None:
        ok = True
        table = self._table(path, form)
        unit, address, quantity = self._modbus_href(path, form)
        if table is None or address is None:
            ok = False
        datatype = self._datatype(path, form, table)
        zero = form.get("modv:zeroBasedAddressing", False)
        if not isinstance(zero, bool):
            self.problem(f"{path}.modv:zeroBasedAddressing", "must be true or false")
            zero, ok = True, False
        if address is not None and not zero:
            if address < 1:
                self.problem(
                    f"{path}.href",
                    "address 0 needs modv:zeroBasedAddressing true (addresses count from 1 "
                    "unless it is set)",
                )
                ok = False
            address -= 1
        msb = self._bool(path, form, "modv:mostSignificantByte")
        msw = self._bool(path, form, "modv:mostSignificantWord")
        scale = self._positive(path, form, "indunet:scale", 1.0, allow_negative=True)
        polling = self._positive(path, form, "modv:pollingTime", 1000.0)
        if table is None or datatype is None or address is None or not ok:
            return None
        spec = ModbusForm(
            table=table,
            address=address,
            datatype=datatype,
            unit=unit,
            byte_order="big" if msb else "little",
            word_order="big" if msw else "little",
            scale=scale,
            poll_interval=polling / 1000.0,
        )
        if address + spec.count > 65536:
            self.problem(f"{path}.href", f"address {address} + {spec.count} runs past 65535")
            return None
        if quantity is not None and quantity != spec.count:
            self.problem(
                f"{path}.href",
                f"quantity={quantity} but {datatype} on a {table} takes {spec.count}",
            )
            return None
        if not self._modbus_fits(path, spec, ptype, writable):
            return None
        return spec

    def _table(self, path: str, form: dict[str, Any]) -> ModbusTable | None:
        entity, function = form.get("modv:entity"), form.get("modv:function")
        by_entity = by_function = None
        if entity is not None:
            by_entity = ENTITIES.get(entity) if isinstance(entity, str) else None
            if by_entity is None:
                self.problem(
                    f"{path}.modv:entity", f"{entity!r} is not one of {', '.join(ENTITIES)}"
                )
        if function is not None:
            by_function = FUNCTIONS.get(function) if isinstance(function, str) else None
            if by_function is None:
                self.problem(
                    f"{path}.modv:function",
                    f"{function!r} is not a supported function ({', '.join(FUNCTIONS)})",
                )
        if entity is None and function is None:
            self.problem(path, "a Modbus form needs modv:entity (or modv:function)")
        if by_entity and by_function and by_entity != by_function:
            self.problem(
                f"{path}.modv:function", f"{function} does not address the entity {entity}"
            )
            return None
        return by_entity or by_function

    def _modbus_href(
        self, path: str, form: dict[str, Any]
    ) -> tuple[int | None, int | None, int | None]:
        href = form.get("href")
        if not isinstance(href, str) or not href:
            self.problem(
                path, "a Modbus form needs an href holding the address, e.g. '/1/40' (unit/address)"
            )
            return None, None, None
        parts = urlsplit(href)
        segments = [s for s in parts.path.split("/") if s]
        numbers: list[int] = []
        for s in segments:
            if not s.isdigit():
                self.problem(
                    f"{path}.href",
                    f"{href!r}: the path must be /<unit>/<address> or /<address> in decimal",
                )
                return None, None, None
            numbers.append(int(s))
        if len(numbers) not in (1, 2):
            self.problem(
                f"{path}.href", f"{href!r}: the path must be /<unit>/<address> or /<address>"
            )
            return None, None, None
        unit = numbers[0] if len(numbers) == 2 else None
        if unit is not None and unit > 255:
            self.problem(f"{path}.href", f"unit id {unit} is above 255")
            unit = None
        address = numbers[-1]
        quantity = None
        q = parse_qs(parts.query).get("quantity")
        if q:
            if not q[0].isdigit() or int(q[0]) < 1:
                self.problem(f"{path}.href", f"quantity {q[0]!r} must be a whole number ≥ 1")
            else:
                quantity = int(q[0])
        return unit, address, quantity

    def _datatype(
        self, path: str, form: dict[str, Any], table: ModbusTable | None
    ) -> ModbusType | None:
        xsd, own = form.get("modv:type"), form.get("indunet:datatype")
        by_xsd = by_own = None
        if xsd is not None:
            by_xsd = XSD_TYPES.get(xsd) if isinstance(xsd, str) else None
            if by_xsd is None:
                self.problem(
                    f"{path}.modv:type",
                    f"{xsd!r} is not supported; use one of {', '.join(XSD_TYPES)}",
                )
                return None
        if own is not None:
            by_own = own if own in DATATYPES else None
            if by_own is None:
                self.problem(
                    f"{path}.indunet:datatype", f"{own!r} is not one of {', '.join(DATATYPES)}"
                )
                return None
        if by_xsd and by_own and by_xsd != by_own:
            self.problem(f"{path}.indunet:datatype", f"{own} contradicts modv:type {xsd}")
            return None
        chosen = by_own or by_xsd
        if chosen is None:
            return "bool" if table in ("coil", "discrete") else "uint16"
        return cast(ModbusType, chosen)

    def _modbus_fits(
        self, path: str, spec: ModbusForm, ptype: DataType | None, writable: bool
    ) -> bool:
        where = f"{path}.modv:entity"
        ok = True
        if spec.table in ("coil", "discrete") and spec.datatype != "bool":
            self.problem(
                where,
                f"a {spec.table} holds one bit: its type must be boolean, not {spec.datatype}",
            )
            ok = False
        if writable and spec.table not in ("coil", "holding"):
            self.problem(
                where,
                f"a writable point or an action must be on a coil or a holding register, "
                f"not on the read-only {spec.table} table (or mark the point readOnly)",
            )
            ok = False
        if ptype == "string":
            self.problem(path, "Modbus points cannot be strings; use a number or boolean type")
            ok = False
        elif ptype == "boolean" and spec.datatype != "bool":
            self.problem(where, f"a boolean point needs a bool datatype, not {spec.datatype}")
            ok = False
        elif ptype in ("number", "integer") and spec.datatype == "bool":
            self.problem(where, f"a {ptype} point cannot be read from a single bit")
            ok = False
        elif ptype == "integer" and (
            spec.datatype.startswith("float") or spec.scale != int(spec.scale)
        ):
            self.problem(
                where, "an integer point needs an integer datatype and a whole-number scale"
            )
            ok = False
        return ok

    def _bool(self, path: str, form: dict[str, Any], key: str) -> bool:
        v = form.get(key, True)
        if not isinstance(v, bool):
            self.problem(f"{path}.{key}", "must be true or false")
            return True
        return v

    def _positive(
        self,
        path: str,
        form: dict[str, Any],
        key: str,
        default: float,
        *,
        allow_negative: bool = False,
    ) -> float:
        v = form.get(key)
        if v is None:
            return default
        if (
            isinstance(v, bool)
            or not isinstance(v, int | float)
            or not math.isfinite(v)
            or v == 0
            or (v < 0 and not allow_negative)
        ):
            need = "a non-zero number" if allow_negative else "a number above 0"
            self.problem(f"{path}.{key}", f"must be {need}")
            return default
        return float(v)

    # -- OPC UA ----------------------------------------------------------------------------
    def _opcua(self, path: str, form: dict[str, Any]) -> OpcUaForm | None:
        node_id = form.get("opcua:nodeId")
        key = "opcua:nodeId"
        href = form.get("href")
        from_href = None
        if isinstance(href, str) and "id=" in href:
            ids = parse_qs(urlsplit(href).query, separator="&").get("id")
            from_href = unquote(ids[0]) if ids else None
        if node_id is None:
            node_id, key = from_href, "href"
        elif from_href is not None and from_href != node_id:
            self.problem(f"{path}.href", f"?id={from_href} contradicts opcua:nodeId {node_id}")
            return None
        if not isinstance(node_id, str) or not node_id:
            self.problem(path, "an OPC UA form needs opcua:nodeId or an href with ?id=<node id>")
            return None
        if not _NODE_ID.match(node_id.replace(DEVICE_PLACEHOLDER, "x")):
            self.problem(
                f"{path}.{key}",
                f"{node_id!r} is not an OPC UA node id such as ns=2;s=Spindle.Speed or ns=0;i=2258",
            )
            return None
        interval = self._positive(path, form, "indunet:samplingInterval", 1000.0)
        return OpcUaForm(node_id=node_id, sampling_interval=interval)

    # -- MQTT ------------------------------------------------------------------------------
    def _mqtt(self, path: str, form: dict[str, Any], name: str, *, action: bool) -> MqttForm | None:
        packet = form.get("mqv:controlPacket")
        if packet is not None and packet not in _CONTROL_PACKETS:
            self.problem(
                f"{path}.mqv:controlPacket",
                f"{packet!r} is not one of {', '.join(_CONTROL_PACKETS)}",
            )
            return None
        order: Sequence[str] = (
            ("mqv:topic", "mqv:filter") if action else ("mqv:filter", "mqv:topic")
        )
        topic: Any = None
        key = "href"
        for k in order:
            if form.get(k) is not None:
                topic, key = form[k], k
                break
        if topic is None and isinstance(form.get("href"), str):
            topic = unquote(urlsplit(form["href"]).path).lstrip("/") or None
        if not isinstance(topic, str) or not topic:
            self.problem(
                path, "an MQTT form needs mqv:filter or mqv:topic (or an mqtt:// href with a topic)"
            )
            return None
        if not self._topic_ok(path, key, topic, wildcards=key == "mqv:filter"):
            return None
        default = "$" if action else f"$.{name}"
        jpath = form.get("indunet:jsonPath", default)
        if (
            not isinstance(jpath, str)
            or not _JSON_PATH.match(jpath)
            or (jpath == "$" and not action)
        ):
            self.problem(
                f"{path}.indunet:jsonPath",
                f"{jpath!r} is not a supported JSON path: use $ followed by .key or [n] steps, "
                "e.g. $.values.temperature",
            )
            return None
        return MqttForm(topic=topic, json_path=jpath)

    def _topic_ok(self, path: str, key: str, topic: str, *, wildcards: bool) -> bool:
        levels = topic.split("/")
        bad = "\x00" in topic or len(topic.encode()) > 65535
        for i, level in enumerate(levels):
            if ("#" in level or "+" in level) and (
                not wildcards or level not in ("#", "+") or (level == "#" and i != len(levels) - 1)
            ):
                bad = True
        if bad:
            self.problem(
                f"{path}.{key}",
                f"{topic!r} is not a valid MQTT topic"
                + (" filter" if wildcards else " (wildcards + and # only in mqv:filter)"),
            )
        return not bad


def overlaps(problems: Problems, points: list[tuple[str, Point]]) -> None:
    """Report Modbus points whose registers (or bits) overlap on the same unit and table."""
    spans: dict[tuple[int | None, str], list[tuple[int, int, str, str]]] = {}
    for path, point in points:
        for i, form in enumerate(point.forms):
            if isinstance(form, ModbusForm):
                spans.setdefault((form.unit, form.table), []).append(
                    (form.address, form.address + form.count, point.name, f"{path}.forms[{i}]")
                )
    for (_, table), items in spans.items():
        items.sort()
        end, owner, start = -1, "", 0
        for b0, b1, name, path in items:
            if b0 < end:
                problems.append(
                    (
                        f"{path}.href",
                        f"{table} {b0}..{b1 - 1} of {name!r} overlaps {owner!r} at "
                        f"{start}..{end - 1}",
                    )
                )
            if b1 > end:
                end, owner, start = b1, name, b0
