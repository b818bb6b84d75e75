"""The form editor of Thing Models: form fields to a Thing Model document and back, and each
problem ``parse_model`` finds mapped to the field it is about.

The form edits what an operator needs day to day: the model's id, version and titles, and its
points (name, titles, type, unit, range, writable) with one protocol address each (a Modbus
register, an OPC UA node id, or an MQTT topic and JSON path). It writes the same Thing Model
JSON as the JSON editor, so the model is checked and published by the same service; actions,
events and any other terms of the model the form started from are kept as they were.

Fields are named ``p<row>.<field>`` for points. Text the form cannot turn into a number is
left in the document as text, so ``parse_model`` names the problem at its JSON path and the
page shows it next to the field.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, fields
from typing import Any

from starlette.datastructures import FormData

from indunet.devices import ModbusForm, MqttForm, OpcUaForm, ThingModel

MAX_ROWS = 200
"""The most points one form holds."""
MAX_TEXT = 200
TD_CONTEXT = "https://www.w3.org/2022/wot/td/v1.1"
PREFIXES = {
    "modv": "https://www.w3.org/2019/wot/modbus#",
    "opcua": "urn:indunet:opcua#",
    "mqv": "https://www.w3.org/2019/wot/mqtt#",
    "indunet": "urn:indunet:tm#",
}
TYPES = ("number", "integer", "boolean", "string")
PROTOCOLS = ("", "modbus", "opcua", "mqtt")
TABLES = {
    "holding": "HoldingRegister",
    "input": "InputRegister",
    "coil": "Coil",
    "discrete": "DiscreteInput",
}
DATATYPES = ("uint16", "int16", "uint32", "int32", "uint64", "int64", "float32", "float64", "bool")
HEAD_FIELDS = ("model_id", "version", "title_zh", "title_en")
_ROW_KEY = re.compile(r"p(\d{1,3})\.([a-z_]+)\Z")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")


@dataclass
class PointRow:
    """One point of the form, as typed."""

    name: str = ""
    title_zh: str = ""
    title_en: str = ""
    type: str = "number"
    unit: str = ""
    minimum: str = ""
    maximum: str = ""
    writable: bool = False
    protocol: str = ""
    mb_table: str = "holding"
    mb_unit: str = ""
    mb_address: str = ""
    mb_datatype: str = "uint16"
    mb_scale: str = ""
    ua_node: str = ""
    mq_topic: str = ""
    mq_path: str = ""

    @property
    def blank(self) -> bool:
        """Whether nothing was typed in the row (it is left out)."""
        texts = (self.name, self.title_zh, self.title_en, self.unit, self.minimum, self.maximum)
        return not any(t.strip() for t in texts) and not self.protocol


@dataclass
class ModelForm:
    """The whole form: the model's head and its point rows."""

    model_id: str = ""
    version: str = "1.0.0"
    title_zh: str = ""
    title_en: str = ""
    rows: list[PointRow] = field(default_factory=list)


ROW_FIELDS = tuple(f.name for f in fields(PointRow))


def _text(form: FormData, key: str) -> str:
    value = form.get(key, "")
    return value.strip()[:MAX_TEXT] if isinstance(value, str) else ""


def read_form(form: FormData) -> ModelForm:
    """The editor's fields (at most ``MAX_ROWS`` rows; values cut to ``MAX_TEXT``)."""
    out = ModelForm(
        model_id=_text(form, "model_id"),
        version=_text(form, "version"),
        title_zh=_text(form, "title_zh"),
        title_en=_text(form, "title_en"),
    )
    rows: dict[int, PointRow] = {}
    for key in form:
        m = _ROW_KEY.match(key)
        if m and m[2] in ROW_FIELDS and int(m[1]) < MAX_ROWS:
            rows.setdefault(int(m[1]), PointRow())
    for i, row in rows.items():
        for name in ROW_FIELDS:
            if name == "writable":
                row.writable = form.get(f"p{i}.writable") in ("on", "true", "1")
            else:
                setattr(row, name, _text(form, f"p{i}.{name}"))
        row.type = row.type if row.type in TYPES else "number"
        row.protocol = row.protocol if row.protocol in PROTOCOLS else ""
        row.mb_table = row.mb_table if row.mb_table in TABLES else "holding"
        row.mb_datatype = row.mb_datatype if row.mb_datatype in DATATYPES else "uint16"
    out.rows = [rows[i] for i in sorted(rows)]
    return out


def _number(text: str) -> Any:
    """A number typed in the form, or the text itself (``parse_model`` then names it)."""
    if not _NUMBER.match(text):
        return text
    value = float(text)
    return (
        int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value
    )


def _titles(zh: str, en: str) -> dict[str, str]:
    return {k: v for k, v in (("zh", zh), ("en", en)) if v}


def _binding(row: PointRow, name: str) -> dict[str, Any] | None:
    ops = ["readproperty", "writeproperty"] if row.writable else ["readproperty"]
    if row.protocol == "modbus":
        href = f"/{row.mb_unit}/{row.mb_address}" if row.mb_unit else f"/{row.mb_address}"
        out: dict[str, Any] = {
            "href": href,
            "modv:entity": TABLES[row.mb_table],
            "modv:zeroBasedAddressing": True,
            "indunet:datatype": row.mb_datatype,
        }
        if row.mb_scale:
            out["indunet:scale"] = _number(row.mb_scale)
        return out | {"op": ops}
    if row.protocol == "opcua":
        return {"opcua:nodeId": row.ua_node, "op": ops}
    if row.protocol == "mqtt":
        return {
            "mqv:filter": row.mq_topic,
            "mqv:controlPacket": "subscribe",
            "indunet:jsonPath": row.mq_path or f"$.{name}",
            "op": ["observeproperty"],
        }
    return None


def point_document(row: PointRow) -> dict[str, Any]:
    """One row as a Thing Model property."""
    prop: dict[str, Any] = {"type": row.type, "title": row.title_en or row.title_zh or row.name}
    titles = _titles(row.title_zh, row.title_en)
    if titles:
        prop["titles"] = titles
    if row.unit:
        prop["unit"] = row.unit
    if row.minimum and row.type in ("number", "integer"):
        prop["minimum"] = _number(row.minimum)
    if row.maximum and row.type in ("number", "integer"):
        prop["maximum"] = _number(row.maximum)
    prop["readOnly"] = not row.writable
    prop["observable"] = True
    form = _binding(row, row.name)
    if form is not None:
        prop["forms"] = [form]
    return prop


def document_of(form: ModelForm, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Thing Model the form describes (over ``base``'s other terms, when given)."""
    doc = copy.deepcopy(base) if base else {}
    context: list[Any] = [TD_CONTEXT, dict(PREFIXES)]
    doc["@context"] = context
    doc["@type"] = "tm:ThingModel"
    doc["indunet:modelId"] = form.model_id
    doc["title"] = form.title_en or form.title_zh or form.model_id
    titles = _titles(form.title_zh, form.title_en)
    if titles:
        doc["titles"] = titles
    else:
        doc.pop("titles", None)
    doc["version"] = {"model": form.version}
    doc["properties"] = {row.name: point_document(row) for row in form.rows if not row.blank}
    return doc


def form_of(model: ThingModel, version: str) -> ModelForm:
    """The form prefilled with ``model``, at ``version`` (the next one, say)."""
    rows: list[PointRow] = []
    for p in model.points.values():
        row = PointRow(
            name=p.name,
            title_zh=p.title.get("zh", ""),
            title_en=p.title.get("en", ""),
            type=p.type,
            unit=p.unit or "",
            minimum="" if p.minimum is None else f"{p.minimum:g}",
            maximum="" if p.maximum is None else f"{p.maximum:g}",
            writable=p.writable,
        )
        for f in p.forms[:1]:
            if isinstance(f, ModbusForm):
                row.protocol, row.mb_table, row.mb_address = "modbus", f.table, str(f.address)
                row.mb_unit = "" if f.unit is None else str(f.unit)
                row.mb_datatype = f.datatype
                row.mb_scale = "" if f.scale == 1 else f"{f.scale:g}"
            elif isinstance(f, OpcUaForm):
                row.protocol, row.ua_node = "opcua", f.node_id
            elif isinstance(f, MqttForm):
                row.protocol, row.mq_topic, row.mq_path = "mqtt", f.topic, f.json_path
        rows.append(row)
    return ModelForm(
        model_id=model.id,
        version=version,
        title_zh=model.title.get("zh", ""),
        title_en=model.title.get("en", ""),
        rows=rows,
    )


#: Which form field a term of a property (or of its form) is typed in.
_TERMS = {
    "type": "type",
    "unit": "unit",
    "minimum": "minimum",
    "maximum": "maximum",
    "readOnly": "writable",
    "title": "title_en",
    "titles": "title_en",
    "href": "mb_address",
    "modv:entity": "mb_table",
    "modv:function": "mb_table",
    "modv:type": "mb_datatype",
    "indunet:datatype": "mb_datatype",
    "indunet:scale": "mb_scale",
    "opcua:nodeId": "ua_node",
    "mqv:filter": "mq_topic",
    "mqv:topic": "mq_topic",
    "indunet:jsonPath": "mq_path",
}
_HEAD = {
    "$.indunet:modelId": "model_id",
    "$.version": "version",
    "$.version.model": "version",
    "$.title": "title_en",
    "$.titles": "title_en",
}
_PROPERTY = re.compile(
    r"\$\.properties(?:\.([a-z_][A-Za-z0-9_:@-]*)|\['((?:[^'\\]|\\.)*)'\])(.*)\Z"
)
_FORM_TERM = re.compile(r"\.forms\[\d+\](?:\.([A-Za-z:@_-]+))?\Z")


def field_of(path: str, form: ModelForm) -> str | None:
    """The id of the form field a problem at JSON ``path`` is about (``p3.minimum``,
    ``model_id``), or None when no field holds it (it is shown above the form)."""
    if path in _HEAD:
        return _HEAD[path]
    m = _PROPERTY.match(path)
    if m is None:
        return None
    name = m[1] if m[1] is not None else m[2]
    index = next((i for i, r in enumerate(form.rows) if r.name == name), None)
    if index is None:
        return None
    rest = m[3]
    if not rest:
        return f"p{index}.name"
    term = _FORM_TERM.match(rest)
    if term:
        key = term[1]
        if key is None:
            return f"p{index}.protocol"
        return f"p{index}.{_TERMS.get(key, 'protocol')}"
    key = rest.lstrip(".").split(".")[0].split("[")[0]
    return f"p{index}.{_TERMS[key]}" if key in _TERMS else f"p{index}.name"


def field_ids(form: ModelForm) -> list[str]:
    """Every field of the form a problem can be shown next to."""
    out = list(HEAD_FIELDS)
    for i in range(len(form.rows)):
        out += [f"p{i}.{name}" for name in ROW_FIELDS]
    return out


def duplicate_names(form: ModelForm) -> list[int]:
    """Rows whose point name an earlier row already has (the document would keep one)."""
    seen: set[str] = set()
    twice = []
    for i, row in enumerate(form.rows):
        if row.blank:
            continue
        if row.name in seen:
            twice.append(i)
        seen.add(row.name)
    return twice
