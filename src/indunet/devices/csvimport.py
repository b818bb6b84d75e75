"""CSV files of devices: one device per row, with a header naming the columns.

Required columns: ``id``, ``name``, ``model``. Optional: ``protocol``, ``manufacturer``,
``serial``, ``tags`` (separated by ``;``), ``site``, ``address``, ``latitude``, ``longitude``,
the connection settings (every name of ``connections.MODBUS`` and ``connections.OPCUA``:
``host``, ``port``, ``unit``, ``timeout``, ``endpoint``, ``username``, ``password``, ...),
``secret`` and ``prefix``. Empty cells are left out.

Errors carry a ``reason`` and ``params`` (the console shows them in the reader's language);
a failed row keeps its error's reason beside its English message.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from indunet.core import IndunetError, InvalidInput
from indunet.devices.connections import CSV_COLUMNS
from indunet.devices.device import Device

REQUIRED = ("id", "name", "model")
PLAIN = ("id", "name", "model", "protocol", "manufacturer", "serial", "tags", "secret", "prefix")
LOCATION = ("site", "address", "latitude", "longitude")
CONNECTION = CSV_COLUMNS
COLUMNS = PLAIN + LOCATION + CONNECTION
MAX_ERRORS = 10_000


@dataclass(frozen=True)
class RowProblem:
    """Why a row failed, for a reader: the error's ``reason`` and ``params`` (None: only the
    English message exists)."""

    reason: str | None
    params: dict[str, Any]


@dataclass
class ImportReport:
    """What a CSV import did: counts, errors by line, and the secrets of created devices.

    ``errors`` holds ``(line, device id, English message)``; ``problems`` the same rows'
    reasons, in the same order.
    """

    total: int = 0
    created: int = 0
    failed: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)

    def fail(self, line: int, device_id: str, error: str | IndunetError) -> None:
        """Count a failed row (the first 10,000 messages are kept)."""
        self.failed += 1
        if len(self.errors) < MAX_ERRORS:
            message = error if isinstance(error, str) else error.message
            self.errors.append((line, device_id, message))
            if isinstance(error, IndunetError):
                self.problems.append(RowProblem(error.reason, error.params))
            else:
                self.problems.append(RowProblem(None, {}))

    def to_json(self) -> dict[str, Any]:
        """API shape; ``devices`` carries each new device's one-time secret."""
        errors = []
        for (line, did, message), why in zip(self.errors, self.problems, strict=True):
            row: dict[str, Any] = {"line": line, "id": did, "message": message}
            if why.reason is not None:
                row |= {"reason": why.reason, "params": why.params}
            errors.append(row)
        return {
            "total": self.total,
            "created": self.created,
            "failed": self.failed,
            "errors": errors,
            "devices": [{"id": i, "secret": s} for i, s in self.secrets.items()],
        }


def import_rows(text: str, create: Callable[[dict[str, Any]], tuple[Device, str]]) -> ImportReport:
    """``create`` a device per row of ``text``; a bad row is reported by line and the others
    are kept. A bad header raises ``InvalidInput`` before anything is created."""
    report = ImportReport()
    for line, spec, error in read_rows(text):
        report.total += 1
        if error is not None:
            report.fail(line, str(spec.get("id", "")), error)
            continue
        try:
            device, secret = create(spec)
        except IndunetError as exc:
            report.fail(line, str(spec.get("id", "")), exc)
            continue
        report.created += 1
        report.secrets[device.id] = secret
    return report


def read_rows(text: str) -> Iterator[tuple[int, dict[str, Any], InvalidInput | None]]:
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
        raise InvalidInput(
            "the CSV file is empty; it needs a header line such as id,name,model",
            reason="device_csv_empty",
        )
    at = reader.line_num
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise InvalidInput(
            f"line {at}: unknown column(s) {', '.join(unknown)}; known: {', '.join(COLUMNS)}",
            reason="device_csv_unknown_columns",
            params={"line": at, "columns": ", ".join(unknown), "known": ", ".join(COLUMNS)},
        )
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InvalidInput(
            f"line {at}: the header lacks {', '.join(missing)}",
            reason="device_csv_header_lacks",
            params={"line": at, "columns": ", ".join(missing)},
        )
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise InvalidInput(
            f"line {at}: a column is named twice ({', '.join(twice)})",
            reason="device_csv_column_twice",
            params={"line": at, "columns": ", ".join(twice)},
        )
    while True:
        try:
            got = next(reader, None)
        except csv.Error as exc:
            raise InvalidInput(
                f"line {reader.line_num}: not valid CSV: {exc}",
                reason="device_csv_invalid",
                params={"line": reader.line_num, "error": str(exc)},
            ) from None
        if got is None:
            break
        row = got
        line = reader.line_num
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        if len(row) > len(header):
            yield (
                line,
                {},
                InvalidInput(
                    f"{len(row)} cells but the header names {len(header)} columns",
                    reason="device_csv_too_many_cells",
                    params={"cells": len(row), "columns": len(header)},
                ),
            )
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
