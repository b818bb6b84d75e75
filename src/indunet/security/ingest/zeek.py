"""Zeek logs, as Zeek writes them: TSV with its ``#`` headers, or one JSON object a line.

TSV (``LogAscii`` defaults): ``#separator \\x09`` first, then ``#set_separator``,
``#empty_field``, ``#unset_field``, ``#path``, ``#open``, ``#fields``, ``#types``; each data
line has exactly one value per field. Values: the unset mark (``-``) is a missing value, the
empty mark (``(empty)``) an empty set or vector; separators inside values are escaped
(``\\x09``, ``\\x2c``) as are backslashes; ``set[...]``/``vector[...]`` are split on the set
separator. A data line whose field count or types do not match its header is a ``BadLine``;
the header stays in force for the lines after it (rotated files start with a new header).

JSON (``LogAscii::use_json=T``): one object a line, field names as in TSV (``id.orig_h``),
``ts`` in seconds or ISO 8601; the log's path comes from a ``_path`` field when the writer
adds one, else from the file's name (``modbus_detailed.log``,
``conn.00:00:00-01:00:00.log.gz`` → ``conn``).

Both give ``(path, record)``: ``record`` maps field names to Python values; ``zeekmap`` makes
the event.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import PurePath
from typing import Any

import orjson

from .common import BadLine

_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|\\)")


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return _ESCAPE.sub(lambda m: "\\" if m.group(1) == "\\" else chr(int(m.group(1)[1:], 16)), text)


def _time(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _bool(text: str) -> bool:
    if text == "T":
        return True
    if text == "F":
        return False
    raise ValueError(text)


_SCALARS: dict[str, Callable[[str], Any]] = {
    "time": _time,
    "interval": float,
    "double": float,
    "count": _count,
    "int": int,
    "port": _count,
    "bool": _bool,
}


def path_of_file(file_name: str) -> str:
    """The Zeek log path a file name stands for: ``conn.log`` and rotated
    ``conn.2024-01-01-00-00-00.log`` or ``conn.00:00:00-01:00:00.log.gz`` → ``conn``."""
    return PurePath(file_name).name.split(".", 1)[0]


class ZeekTsv:
    """A TSV log read line by line: the header lines set how the data lines read."""

    def __init__(self, path: str = "") -> None:
        self.separator = "\t"
        self.set_separator = ","
        self.empty = "(empty)"
        self.unset = "-"
        self.path = path
        self.fields: list[str] = []
        self.readers: list[Callable[[str], Any]] = []

    def line(self, text: str) -> tuple[str, dict[str, Any]] | None:
        """The record of a data line; None for a header or blank line."""
        if not text:
            return None
        if text.startswith("#"):
            self._header(text)
            return None
        if not self.fields:
            raise BadLine("a data line before the #fields header")
        values = text.split(self.separator)
        if len(values) != len(self.fields):
            raise BadLine(f"{len(values)} values where the #fields header names {len(self.fields)}")
        record: dict[str, Any] = {}
        for field, reader, raw in zip(self.fields, self.readers, values, strict=True):
            if raw == self.unset:
                continue
            try:
                record[field] = reader(raw)
            except (ValueError, OverflowError):
                raise BadLine(f"field {field}: {raw[:60]!r} does not read as its type") from None
        return self.path, record

    def _header(self, text: str) -> None:
        if text.startswith("#separator"):
            # "#separator \x09": the one header whose own separator is a space.
            value = text[len("#separator") :].strip()
            self.separator = _unescape(value) or "\t"
            return
        key, _, rest = text[1:].partition(self.separator)
        if key == "set_separator":
            self.set_separator = _unescape(rest)
        elif key == "empty_field":
            self.empty = rest
        elif key == "unset_field":
            self.unset = rest
        elif key == "path":
            self.path = rest
        elif key == "fields":
            self.fields = rest.split(self.separator)
            self.readers = [_unescape] * len(self.fields)
        elif key == "types":
            types = rest.split(self.separator)
            if len(types) != len(self.fields):
                count = len(self.fields)
                self.fields, self.readers = [], []
                raise BadLine(f"#types names {len(types)} types for {count} fields")
            self.readers = [self._reader(t) for t in types]

    def _reader(self, zeek_type: str) -> Callable[[str], Any]:
        for kind in ("set[", "vector["):
            if zeek_type.startswith(kind) and zeek_type.endswith("]"):
                item = self._reader(zeek_type[len(kind) : -1])
                return lambda raw: self._container(raw, item)
        scalar = _SCALARS.get(zeek_type)
        if scalar is None:
            return _unescape
        return scalar

    def _container(self, raw: str, item: Callable[[str], Any]) -> list[Any]:
        if raw == self.empty:
            return []
        return [item(_unescape(part)) for part in raw.split(self.set_separator)]


def zeek_json(text: str, path: str = "") -> tuple[str, dict[str, Any]]:
    """A Zeek JSON line's ``(path, record)``; ``BadLine`` when it is not one."""
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadLine(f"not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise BadLine("not a JSON object")
    found = record.pop("_path", None)
    if isinstance(found, str) and found:
        path = found
    ts = record.get("ts")
    if isinstance(ts, str):
        try:
            record["ts"] = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise BadLine(f"ts {ts[:40]!r} is not a time") from None
    elif isinstance(ts, bool) or not isinstance(ts, int | float):
        raise BadLine("no ts field (seconds or ISO 8601)")
    return path, record
