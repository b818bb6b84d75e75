"""Modbus forms (W3C WoT Modbus binding, ``modv:`` terms) to ``ModbusForm``, and overlaps.

``href`` holds ``/<unit>/<address>`` (or ``/<address>``) counted from 1 unless
``modv:zeroBasedAddressing``; ``modv:entity``/``modv:function`` name the table,
``modv:type`` or ``indunet:datatype`` the register type, ``indunet:scale`` the factor.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from indunet.devices.forms.common import FormBinding, FormInput, Problem, Problems, Reporter
from indunet.devices.models import DataType, ModbusForm, ModbusTable, ModbusType, Point

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


def read(src: FormInput, rep: Reporter) -> ModbusForm | None:
    """The Modbus form, or None with the problems reported."""
    path, form, ptype, writable = src.path, src.form, src.ptype, src.writable
    ok = True
    table = _table(rep, path, form)
    unit, address, quantity = _modbus_href(rep, path, form)
    if table is None or address is None:
        ok = False
    datatype = _datatype(rep, path, form, table)
    zero = form.get("modv:zeroBasedAddressing", False)
    if not isinstance(zero, bool):
        rep.problem(f"{path}.modv:zeroBasedAddressing", "must be true or false", "not_boolean")
        zero, ok = True, False
    if address is not None and not zero:
        if address < 1:
            rep.problem(
                f"{path}.href",
                "address 0 needs modv:zeroBasedAddressing true (addresses count from 1 "
                "unless it is set)",
                "modbus_address_zero",
            )
            ok = False
        address -= 1
    msb = rep.flag(path, form, "modv:mostSignificantByte")
    msw = rep.flag(path, form, "modv:mostSignificantWord")
    scale = rep.positive(path, form, "indunet:scale", 1.0, allow_negative=True)
    polling = rep.positive(path, form, "modv:pollingTime", 1000.0)
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
        rep.problem(
            f"{path}.href",
            f"address {address} + {spec.count} runs past 65535",
            "modbus_address_past_end",
            address=address,
            count=spec.count,
        )
        return None
    if quantity is not None and quantity != spec.count:
        rep.problem(
            f"{path}.href",
            f"quantity={quantity} but {datatype} on a {table} takes {spec.count}",
            "modbus_quantity",
            quantity=quantity,
            datatype=datatype,
            count=spec.count,
        )
        return None
    if not _modbus_fits(rep, path, spec, ptype, writable):
        return None
    return spec


def _table(rep: Reporter, path: str, form: dict[str, Any]) -> ModbusTable | None:
    entity, function = form.get("modv:entity"), form.get("modv:function")
    by_entity = by_function = None
    if entity is not None:
        by_entity = ENTITIES.get(entity) if isinstance(entity, str) else None
        if by_entity is None:
            rep.problem(
                f"{path}.modv:entity",
                f"{entity!r} is not one of {', '.join(ENTITIES)}",
                "not_one_of",
                value=str(entity)[:64],
                choices=", ".join(ENTITIES),
            )
    if function is not None:
        by_function = FUNCTIONS.get(function) if isinstance(function, str) else None
        if by_function is None:
            rep.problem(
                f"{path}.modv:function",
                f"{function!r} is not a supported function ({', '.join(FUNCTIONS)})",
                "not_one_of",
                value=str(function)[:64],
                choices=", ".join(FUNCTIONS),
            )
    if entity is None and function is None:
        rep.problem(path, "a Modbus form needs modv:entity (or modv:function)", "modbus_entity")
    if by_entity and by_function and by_entity != by_function:
        rep.problem(
            f"{path}.modv:function",
            f"{function} does not address the entity {entity}",
            "modbus_function_entity",
            function=function,
            entity=entity,
        )
        return None
    return by_entity or by_function


def _modbus_href(
    rep: Reporter, path: str, form: dict[str, Any]
) -> tuple[int | None, int | None, int | None]:
    href = form.get("href")
    if not isinstance(href, str) or not href:
        rep.problem(
            path,
            "a Modbus form needs an href holding the address, e.g. '/1/40' (unit/address)",
            "modbus_href",
        )
        return None, None, None
    parts = urlsplit(href)
    segments = [s for s in parts.path.split("/") if s]
    numbers: list[int] = []
    for s in segments:
        if not s.isdigit():
            rep.problem(
                f"{path}.href",
                f"{href!r}: the path must be /<unit>/<address> or /<address> in decimal",
                "modbus_href_path",
                href=href[:64],
            )
            return None, None, None
        numbers.append(int(s))
    if len(numbers) not in (1, 2):
        rep.problem(
            f"{path}.href",
            f"{href!r}: the path must be /<unit>/<address> or /<address>",
            "modbus_href_path",
            href=href[:64],
        )
        return None, None, None
    unit = numbers[0] if len(numbers) == 2 else None
    if unit is not None and unit > 255:
        rep.problem(f"{path}.href", f"unit id {unit} is above 255", "modbus_unit", unit=unit)
        unit = None
    address = numbers[-1]
    quantity = None
    q = parse_qs(parts.query).get("quantity")
    if q:
        if not q[0].isdigit() or int(q[0]) < 1:
            rep.problem(
                f"{path}.href",
                f"quantity {q[0]!r} must be a whole number ≥ 1",
                "modbus_quantity_whole",
                quantity=q[0][:20],
            )
        else:
            quantity = int(q[0])
    return unit, address, quantity


def _datatype(
    rep: Reporter, path: str, form: dict[str, Any], table: ModbusTable | None
) -> ModbusType | None:
    xsd, own = form.get("modv:type"), form.get("indunet:datatype")
    by_xsd = by_own = None
    if xsd is not None:
        by_xsd = XSD_TYPES.get(xsd) if isinstance(xsd, str) else None
        if by_xsd is None:
            rep.problem(
                f"{path}.modv:type",
                f"{xsd!r} is not supported; use one of {', '.join(XSD_TYPES)}",
                "not_one_of",
                value=str(xsd)[:64],
                choices=", ".join(XSD_TYPES),
            )
            return None
    if own is not None:
        by_own = own if own in DATATYPES else None
        if by_own is None:
            rep.problem(
                f"{path}.indunet:datatype",
                f"{own!r} is not one of {', '.join(DATATYPES)}",
                "not_one_of",
                value=str(own)[:64],
                choices=", ".join(DATATYPES),
            )
            return None
    if by_xsd and by_own and by_xsd != by_own:
        rep.problem(
            f"{path}.indunet:datatype",
            f"{own} contradicts modv:type {xsd}",
            "modbus_type_contradicts",
            datatype=own,
            xsd=xsd,
        )
        return None
    chosen = by_own or by_xsd
    if chosen is None:
        return "bool" if table in ("coil", "discrete") else "uint16"
    return cast(ModbusType, chosen)


def _modbus_fits(
    rep: Reporter, path: str, spec: ModbusForm, ptype: DataType | None, writable: bool
) -> bool:
    where = f"{path}.modv:entity"
    ok = True
    if spec.table in ("coil", "discrete") and spec.datatype != "bool":
        rep.problem(
            where,
            f"a {spec.table} holds one bit: its type must be boolean, not {spec.datatype}",
            "modbus_bit_table",
            table=spec.table,
            datatype=spec.datatype,
        )
        ok = False
    if writable and spec.table not in ("coil", "holding"):
        rep.problem(
            where,
            f"a writable point or an action must be on a coil or a holding register, "
            f"not on the read-only {spec.table} table (or mark the point readOnly)",
            "modbus_read_only_table",
            table=spec.table,
        )
        ok = False
    if ptype == "string":
        rep.problem(
            path, "Modbus points cannot be strings; use a number or boolean type", "modbus_string"
        )
        ok = False
    elif ptype == "boolean" and spec.datatype != "bool":
        rep.problem(
            where,
            f"a boolean point needs a bool datatype, not {spec.datatype}",
            "modbus_boolean_type",
            datatype=spec.datatype,
        )
        ok = False
    elif ptype in ("number", "integer") and spec.datatype == "bool":
        rep.problem(where, f"a {ptype} point cannot be read from a single bit", "modbus_number_bit")
        ok = False
    elif ptype == "integer" and (
        spec.datatype.startswith("float") or spec.scale != int(spec.scale)
    ):
        rep.problem(
            where,
            "an integer point needs an integer datatype and a whole-number scale",
            "modbus_integer_type",
        )
        ok = False
    return ok


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
                    Problem(
                        f"{path}.href",
                        f"{table} {b0}..{b1 - 1} of {name!r} overlaps {owner!r} at "
                        f"{start}..{end - 1}",
                        "modbus_overlap",
                        {"point": name, "other": owner},
                    )
                )
            if b1 > end:
                end, owner, start = b1, name, b0


BINDING = FormBinding(
    name="modbus",
    prefixes=("modv:",),
    schemes=("modbus+tcp", "modbus"),
    hint="modv: terms or a modbus+tcp:// href (Modbus)",
    read=read,
    form_type=ModbusForm,
)
