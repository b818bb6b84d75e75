"""CSV files of devices: one device per row, with a header naming the columns.

Required columns: ``id``, ``name``, ``model``. Optional: ``protocol``, ``manufacturer``,
``serial``, ``tags`` (separated by ``;``), ``site``, ``address``, ``latitude``, ``longitude``,
the connection settings (every name of ``connections.MODBUS`` and ``connections.OPCUA``:
``host``, ``port``, ``unit``, ``timeout``, ``endpoint``, ``username``, ``password``, ...),
``secret`` and ``prefix``. Empty cells are left out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from indunet.core import InvalidInput
from indunet.devices.connections import CSV_COLUMNS

REQUIRED = ("id", "name", "model")
PLAIN = ("id", "name", "model", "protocol", "manufacturer", "serial", "tags", "secret", "prefix")
LOCATION = ("site", "address", "latitude", "longitude")
CONNECTION = CSV_COLUMNS
COLUMNS = PLAIN + LOCATION + CONNECTION
MAX_ERRORS = 10_000


@dataclass
class ImportReport:
    """What a CSV import did: counts, errors by line, and the secrets of created devices."""

    total: int = 0
    created: int = 0
    failed: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)

    def fail(self, line: int, device_id: str, message: str) -> None:
        """Count a failed row (the first 10,000 messages are kept)."""
        self.failed += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append((line, device_id, message))

    def to_json(self) -> dict[str, Any]:
        """API shape; ``devices`` carries each new device's one-time secret."""
        return {
            "total": self.total,
            "created": self.created,
            "failed": self.failed,
            "errors": [{"line": ln, "id": i, "message": m} for ln, i, m in self.errors],
            "devices": [{"id": i, "secret": s} for i, s in self.secrets.items()],
        }


def read_rows(text: str) -> Iterator[tuple[int, dict[str, Any], str | None]]:
    """``(line, spec, error)`` per data row; a bad header raises ``InvalidInput`` up front."""
    # newline="": a bare CR ends a line, as in the identifier bulk reader (csv.Error otherwise).
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header: list[str] | None = None
    for row in reader:
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        header = [c.strip().lower() for c in row]
        break
    if header is None:
        raise InvalidInput("the CSV file is empty; it needs a header line such as id,name,model")
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise InvalidInput(
            f"line {reader.line_num}: unknown column(s) {', '.join(unknown)}; "
            f"known: {', '.join(COLUMNS)}"
        )
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InvalidInput(f"line {reader.line_num}: the header lacks {', '.join(missing)}")
    if len(set(header)) != len(header):
        raise InvalidInput(f"line {reader.line_num}: a column is named twice")
    while True:
        try:
            got = next(reader, None)
        except csv.Error as exc:
            raise InvalidInput(f"line {reader.line_num}: not valid CSV: {exc}") from None
        if got is None:
            break
        row = got
        line = reader.line_num
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        if len(row) > len(header):
            yield line, {}, f"{len(row)} cells but the header names {len(header)} columns"
            continue
        cells = {k: v.strip() for k, v in zip(header, row, strict=False) if v.strip()}
        yield line, _spec(cells), None


def _spec(cells: dict[str, str]) -> dict[str, Any]:
    spec: dict[str, Any] = {k: cells[k] for k in PLAIN if k in cells}
    location = {k: cells[k] for k in LOCATION if k in cells}
    if location:
        spec["location"] = location
    connection = {k: cells[k] for k in CONNECTION if k in cells}
    if connection:
        spec["connection"] = connection
    return spec
