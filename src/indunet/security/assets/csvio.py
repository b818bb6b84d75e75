"""The inventory as CSV: import (all or nothing) and export.

Import: UTF-8 with or without a byte-order mark, else GB 18030 (what Excel saves on a
Chinese Windows); a header row naming the columns (``COLUMNS``; unknown columns are refused,
missing ones are left alone); at most ``MAX_BYTES`` and ``MAX_ROWS`` rows. Every row is
checked before anything is written; a file with bad rows is refused whole, each bad row named
by line and column (``InvalidInput.detail``, the first ``MAX_PROBLEMS``). Good rows merge into
the inventory like any source (``csv`` outranks the platform and the sensor).

Export: the same columns, lists joined with ``;``, UTF-8 with a byte-order mark; a cell that a
spreadsheet would run as a formula is prefixed with ``'`` (and the import takes it off).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from indunet.core import InvalidInput, User, access, audit
from indunet.security.assettables import assets, zones

from .attributes import LIST_FIELDS, check_spec
from .observe import Observation, apply, owned
from .store import Assets, to_asset

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_PROBLEMS = 100
EXPORT_ROWS = 100_000
COLUMNS = (
    "name",
    "asset_type",
    "role",
    "vendor",
    "model",
    "model_numbers",
    "firmware",
    "serial",
    "hostname",
    "ips",
    "macs",
    "protocols",
    "ports",
    "accounts",
    "location",
    "zone",
    "criticality",
    "logging",
    "device_id",
    "identifier",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (a BOM dropped), else GB 18030; neither is refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise InvalidInput(
            "the file is neither UTF-8 nor GBK text", reason="asset_csv_encoding", params={}
        ) from None


def _problem(
    line: int,
    column: str,
    message: str,
    reason: str,
    params: dict[str, Any] | None = None,
    value: str = "",
) -> dict[str, Any]:
    """One bad row: where, the English message, and ``error.<reason>`` with its params for
    the console; ``value`` the cell as read (cut)."""
    return {
        "line": line,
        "column": column,
        "message": message,
        "reason": reason,
        "params": {k: str(v) for k, v in (params or {}).items()},
        "value": value[:60],
    }


def parse(data: bytes) -> list[tuple[int, dict[str, Any], str]]:
    """Checked rows ``(line, attributes, zone name)``; ``InvalidInput`` naming every bad row."""
    if len(data) > MAX_BYTES:
        raise InvalidInput(
            f"the file is over {MAX_BYTES // 1024 // 1024} MiB",
            reason="asset_csv_size",
            params={"limit": f"{MAX_BYTES // 1024 // 1024} MiB"},
        )
    text = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        header = []
    names = [h.strip().lower() for h in header]
    if not any(names):
        raise InvalidInput("the file has no header row", reason="asset_csv_header", params={})
    unknown = [n for n in names if n not in COLUMNS]
    if unknown or len(set(names)) != len(names):
        column = unknown[0] if unknown else next(n for n in names if names.count(n) > 1)
        raise InvalidInput(
            f"line 1: column {column!r} is unknown or repeated; columns are {', '.join(COLUMNS)}",
            reason="asset_csv_column",
            params={"column": column[:40]},
        )
    rows: list[tuple[int, dict[str, Any], str]] = []
    problems: list[dict[str, Any]] = []
    try:
        for cells in reader:
            line = reader.line_num
            if len(rows) + len(problems) >= MAX_ROWS:
                raise InvalidInput(
                    f"the file has more than {MAX_ROWS:,} rows",
                    reason="asset_csv_rows",
                    params={"limit": str(MAX_ROWS)},
                )
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(names):
                problems.append(
                    _problem(
                        line,
                        "",
                        f"{len(cells)} cells for {len(names)} columns",
                        "asset_csv_cells",
                        {"count": len(cells), "columns": len(names)},
                    )
                )
                continue
            spec = {n: _unquote(c) for n, c in zip(names, cells, strict=False)}
            zone = str(spec.pop("zone", "") or "").strip()
            try:
                rows.append((line, check_spec(spec), zone))
            except InvalidInput as exc:
                column = str(exc.params.get("field", ""))
                cell = str(spec.get(column, ""))
                reason = exc.reason or "asset_field"
                problems.append(_problem(line, column, exc.message, reason, exc.params, cell))
    except csv.Error as exc:
        problems.append(_problem(reader.line_num, "", f"not CSV: {exc}", "asset_csv_syntax"))
    if problems:
        first = problems[0]
        raise InvalidInput(
            f"{len(problems)} bad rows; the first: line {first['line']}, column "
            f"{first['column'] or '-'}: {first['message']}",
            reason="asset_csv_invalid",
            params={
                "count": str(len(problems)),
                "line": str(first["line"]),
                "column": first["column"] or "-",
            },
            detail=problems[:MAX_PROBLEMS],
        )
    return rows


def _unquote(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:2] in _FORMULA else cell


def import_csv(store: Assets, user: User, enterprise_id: int | None, data: bytes) -> dict[str, int]:
    """Check the whole file, then merge every row in one transaction; return counts."""
    eid = access.change_scope(user, enterprise_id, "import assets")
    rows = parse(data)
    problems: list[dict[str, Any]] = []
    for line, values, _ in rows:
        try:
            store.check_device(eid, values)
        except InvalidInput as exc:
            problems.append(
                _problem(
                    line,
                    "device_id",
                    exc.message,
                    "asset_field",
                    exc.params,
                    str(values.get("device_id") or ""),
                )
            )
    if problems:
        raise InvalidInput(
            f"line {problems[0]['line']}: {problems[0]['message']}",
            reason="asset_csv_invalid",
            params={
                "count": str(len(problems)),
                "line": str(problems[0]["line"]),
                "column": "device_id",
            },
            detail=problems[:MAX_PROBLEMS],
        )
    created = merged = 0
    with store.engine.begin() as conn:
        names = dict(
            conn.execute(sa.select(zones.c.name, zones.c.id).where(owned(zones, eid))).all()
        )
        bad = [(line, z) for line, _, z in rows if z and z not in names]
        if bad:
            raise InvalidInput(
                f"line {bad[0][0]}: no zone named {bad[0][1]!r}",
                reason="asset_csv_invalid",
                params={"count": str(len(bad)), "line": str(bad[0][0]), "column": "zone"},
                detail=[
                    _problem(
                        line, "zone", f"no zone named {z!r}", "asset_zone_name", {"name": z}, z
                    )
                    for line, z in bad
                ][:MAX_PROBLEMS],
            )
        for _, values, zone in rows:
            if zone:
                values["zone_id"] = names[zone]
            _, new = apply(conn, Observation(eid, "csv", values), user.actor)
            created += new
            merged += not new
        audit.record(
            conn,
            user.actor,
            "security.asset.import",
            f"enterprise:{eid}",
            {"rows": len(rows), "created": created, "merged": merged},
            enterprise_id=eid,
        )
    return {"rows": len(rows), "created": created, "merged": merged}


def _cell(value: Any) -> str:
    text = ";".join(str(v) for v in value) if isinstance(value, list) else str(value or "")
    return "'" + text if text.startswith(_FORMULA) else text


def export_csv(store: Assets, user: User, enterprise_id: int | None = None) -> Iterator[str]:
    """The assets ``user`` may see as CSV text, in chunks (a BOM first)."""
    eid = access.scope(user, enterprise_id)
    q = sa.select(assets).order_by(assets.c.name, assets.c.id).limit(EXPORT_ROWS)
    if eid is not None:
        q = q.where(assets.c.enterprise_id == eid)
    with store.engine.connect() as conn:
        zone_names = dict(conn.execute(sa.select(zones.c.id, zones.c.name)).all())
        found = [to_asset(r) for r in conn.execute(q).mappings()]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    yield "\ufeff" + out.getvalue()
    for a in found:
        out.seek(0)
        out.truncate()
        row = [
            _cell(zone_names.get(a.zone_id, "") if c == "zone" else getattr(a, c)) for c in COLUMNS
        ]
        writer.writerow(row)
        yield out.getvalue()


assert set(LIST_FIELDS) <= set(COLUMNS)
