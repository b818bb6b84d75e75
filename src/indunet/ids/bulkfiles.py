"""Reading bulk registration files: CSV and JSON Lines rows with their line numbers.

The formats are described in :mod:`indunet.ids.bulk`. A file-level problem (unknown suffix,
bad CSV header, not UTF-8) raises ``InvalidInput`` before anything is written; a row-level
problem travels with the row, so the import can report it with its line number.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from indunet.core import InvalidInput
from indunet.ids.errors import InvalidValue
from indunet.ids.values import MAX_INDEX, MAX_VALUE_BYTES, MAX_VALUES, HandleValue, parse_value

SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
#: A cell of at most this many characters cannot exceed the value size limit in UTF-8.
_SHORT = MAX_VALUE_BYTES // 4


@dataclass(slots=True)
class Row:
    """One data row: its line, the identifier text, and its values (or why it is unusable).

    JSON Lines rows carry ``raw`` values still to be parsed; CSV rows carry parsed ``values``.
    """

    line: int
    handle: str
    raw: Any
    problem: str = ""
    values: list[HandleValue] | None = None


#: The longest file name most file systems take (bytes of UTF-8).
MAX_NAME_BYTES = 255


def upload_name(filename: str | None) -> str:
    """The last part of an uploaded file's name, if it can name a file here; else ``InvalidInput``.

    Browsers and curl send a bare name, some clients a Windows path: both separators are cut.
    """
    name = (filename or "upload").replace("\\", "/").rsplit("/", 1)[-1]
    if name in ("", ".", ".."):
        raise InvalidInput(
            f"the uploaded file's name {filename!r} names no file; send e.g. ids.csv"
        )
    if "\x00" in name:
        raise InvalidInput("the uploaded file's name holds a NUL character")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput("the uploaded file's name is not Unicode text") from None
    if size > MAX_NAME_BYTES:
        raise InvalidInput(
            f"the uploaded file's name is {size} bytes long; the limit is {MAX_NAME_BYTES}"
        )
    return name


def file_kind(path: Path) -> str:
    """``csv`` or ``jsonl``, from the suffix; anything else is refused."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InvalidInput(
            f"cannot tell the format of {path.name!r} from its suffix {path.suffix or '(none)'!r}: "
            "use .csv, .jsonl or .ndjson"
        )
    return kind


def _columns(header: list[str]) -> list[tuple[int, str]]:
    """``["handle", "URL:1", "DESC"]`` -> ``[(1, "URL"), (2, "DESC")]``."""
    if not header or header[0].strip().lower() != "handle":
        raise InvalidInput("the CSV header must start with a 'handle' column")
    specs: list[tuple[int | None, str]] = []
    for pos, cell in enumerate(header[1:], start=2):
        vtype, sep, index = cell.strip().partition(":")
        if not vtype:
            raise InvalidInput(f"CSV header column {pos} has no value type")
        if not sep:
            specs.append((None, vtype))
            continue
        if not index.isdigit() or not 0 < int(index) <= MAX_INDEX:
            raise InvalidInput(
                f"CSV header column {pos} ({cell!r}): the index after ':' must be a whole "
                f"number from 1 to {MAX_INDEX}"
            )
        specs.append((int(index), vtype))
    if len(specs) > MAX_VALUES:
        raise InvalidInput(
            f"a record holds at most {MAX_VALUES} values; the header has {len(specs)}"
        )
    used = [i for i, _ in specs if i is not None]
    dupes = sorted({i for i in used if used.count(i) > 1})
    if dupes:
        raise InvalidInput(f"CSV header names index {dupes[0]} twice")
    taken, nxt, out = set(used), 1, []
    for given, vtype in specs:
        if given is None:
            while nxt in taken:
                nxt += 1
            given = nxt
            taken.add(nxt)
        out.append((given, vtype))
    return out


def _probes(cols: list[tuple[int, str]], ts: str) -> list[HandleValue]:
    """Check each column as ``parse_value`` checks a value, once; the cells only add their text."""
    out = []
    for pos, (index, vtype) in enumerate(cols, start=2):
        raw = {"index": index, "type": vtype, "data": {"format": "string", "value": ""}}
        try:
            out.append(parse_value(raw, timestamp=ts))
        except InvalidValue as exc:
            raise InvalidInput(f"CSV header column {pos} ({vtype}): {exc.message}") from None
    return out


def _cell_value(p: HandleValue, cell: str, ts: str) -> HandleValue:
    if len(cell) > _SHORT:  # may break the size limit: let parse_value decide and word it
        raw = {"index": p.index, "type": p.type, "data": {"format": "string", "value": cell}}
        return parse_value(raw, timestamp=ts)
    return HandleValue(p.index, p.type, "string", cell, p.ttl, ts, p.permissions)


def _csv_rows(f: IO[str], ts: str) -> Iterator[Row]:
    reader = csv.reader(f)
    header = next(reader, [])
    probes = _probes(_columns(header), ts)
    width = len(probes) + 1
    end = reader.line_num
    for cells in reader:
        line, end = end + 1, reader.line_num
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        handle = cells[0].strip()
        if len(cells) > width:
            yield Row(line, handle, None, f"row has {len(cells)} cells; the header has {width}")
            continue
        try:
            values = [
                _cell_value(p, cell, ts) for p, cell in zip(probes, cells[1:], strict=False) if cell
            ]
        except InvalidValue as exc:
            yield Row(line, handle, None, exc.message)
            continue
        yield Row(line, handle, None, values=values)


def _jsonl_rows(f: IO[str]) -> Iterator[Row]:
    for line, text in enumerate(f, start=1):
        if not text.strip():
            continue
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield Row(line, "", None, f"not valid JSON: {exc}")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("handle"), str):
            yield Row(line, "", None, 'each line must be an object {"handle": …, "values": […]}')
            continue
        yield Row(line, obj["handle"].strip(), obj.get("values"))


def _open(path: Path) -> IO[str]:
    return path.open(encoding="utf-8-sig", newline="")


def rows(path: Path, kind: str, timestamp: str) -> Iterator[Row]:
    """Every data row of the file, in order, with its line number."""
    with _open(path) as f:
        yield from (_csv_rows(f, timestamp) if kind == "csv" else _jsonl_rows(f))


def _count(f: IO[str], kind: str) -> int:
    if kind == "jsonl":
        return sum(1 for text in f if text.strip())
    reader = csv.reader(f)
    _probes(_columns(next(reader, [])), "")
    return sum(1 for cells in reader if cells and (len(cells) > 1 or cells[0].strip()))


def scan(path: Path, kind: str) -> tuple[str, int]:
    """The file's SHA-256 and its number of data rows; a file that cannot be read is refused."""
    if not path.is_file():
        raise InvalidInput(f"file {str(path)!r} does not exist")
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        for chunk in iter(lambda: raw.read(1 << 20), b""):
            digest.update(chunk)
    try:
        with _open(path) as f:
            total = _count(f, kind)
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path.name} is not UTF-8 text: {exc}") from None
    except csv.Error as exc:
        raise InvalidInput(f"{path.name} is not valid CSV: {exc}") from None
    return digest.hexdigest(), total
