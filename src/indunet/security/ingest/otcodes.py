"""Industrial function codes named as the sensor names them, for events from other tools.

Zeek writes a Modbus function as ``READ_HOLDING_REGISTERS``, Suricata as ``RdHoldRegs`` with
``function_raw: 3``, the sensor as ``read_holding_registers`` with ``function: 3``. The
rules read ``action``, ``fields.function`` and ``fields.write`` (docs/security/rules.md), so
every source's industrial transaction is given the sensor's names: the code when the tool
wrote it (a number, or a ``0x``-hex or decimal text), else the code of the name when the
sensor's table knows the name. A function neither way is kept as the tool named it, with no
code (no ``fields.function``; allow-list rules leave it alone rather than guess).
"""

from __future__ import annotations

from typing import Any

from ..sensor import dnp3, enip, modbus, s7comm

# protocol -> its code tables, each (code -> name, the codes that change the device)
_TABLES: dict[str, tuple[tuple[dict[int, str], frozenset[int]], ...]] = {
    "modbus": ((modbus.FUNCTIONS, modbus.WRITES),),
    "dnp3": ((dnp3.FUNCTIONS, dnp3.WRITES),),
    "s7comm": ((s7comm.JOBS, s7comm.WRITES),),
    # CIP services, then the encapsulation commands (whose codes overlap the services', so
    # an EtherNet/IP function is known by its name only)
    "enip": ((enip.SERVICES, enip.WRITES), (enip.COMMANDS, frozenset())),
}
# names without their underscores: ``ListIdentity`` and ``list_identity`` read alike
_CODES = {
    (p, n): {name.replace("_", ""): code for code, name in table[0].items()}
    for p, tables in _TABLES.items()
    for n, table in enumerate(tables)
}
_FOUND: dict[tuple[str, Any, str | None], tuple[int | None, str | None, bool | None]] = {}


def function_of(
    protocol: str, code: Any, name: str | None
) -> tuple[int | None, str | None, bool | None]:
    """``(code, action, write)`` of one transaction: the sensor's code and name and whether
    the function changes the device; ``(None, name, None)`` for a protocol or a function the
    tables do not know."""
    if code is not None and not isinstance(code, int | str):
        code = None  # a list or an object where a code belongs: not a code
    key = (protocol, code, name)
    found = _FOUND.get(key)
    if found is None:
        found = _lookup(protocol, code, name)
        if len(_FOUND) >= 4_096:
            _FOUND.clear()
        _FOUND[key] = found
    return found


def _lookup(
    protocol: str, code: Any, name: str | None
) -> tuple[int | None, str | None, bool | None]:
    tables = _TABLES.get(protocol)
    if tables is None:
        return None, name, None
    number = _number(code) if len(tables) == 1 else None
    if number is not None:
        names, writes = tables[0]
        return number, names.get(number, name or f"function_{number}"), number in writes
    if name is None:
        return None, None, None
    squashed = name.replace("_", "")
    for n, (names, writes) in enumerate(tables):
        number = _CODES[protocol, n].get(squashed)
        if number is not None:
            return number, names[number], number in writes
    return None, name, None


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= 0xFFFF else None
    if isinstance(value, str) and 0 < len(value) <= 6:
        try:
            number = int(value, 16) if value[:2].lower() == "0x" else int(value)
        except ValueError:
            return None
        return number if 0 <= number <= 0xFFFF else None
    return None
