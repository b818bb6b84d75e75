"""Data the benchmarks need, made with Indunet's own public API before any server starts.

Identifiers are ``88.100.1/BENCH-0000001`` … under prefix ``88.100.1``, allocated on the
secondary node ``88.100`` with a known secret; each record has a URL and a DESC value.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from indunet import ids
from indunet.core import Settings
from indunet.web import open_database

ENTERPRISE_PREFIX = "88.100.1"
SECRET = "bench-secret-key-0001"
USERNAME = f"300:0.NA/{ENTERPRISE_PREFIX}"


def handle_text(i: int) -> str:
    """The ``i``-th benchmark identifier."""
    return f"{ENTERPRISE_PREFIX}/BENCH-{i:07d}"


def values(i: int) -> list[dict[str, object]]:
    """The values registered for identifier ``i`` (REST input shape)."""
    return [
        {
            "index": 1,
            "type": "URL",
            "data": {"format": "string", "value": f"https://factory.example/products/{i:07d}"},
        },
        {"index": 2, "type": "DESC", "data": {"format": "string", "value": f"CNC spindle {i}"}},
    ]


def engine_for(data_dir: Path, database_url: str | None = None) -> sa.Engine:
    """The migrated database of a data directory (or of ``database_url``)."""
    return open_database(Settings(data_dir=data_dir, database_url=database_url))


def node(engine: sa.Engine, role: ids.NodeRole, prefix: str | None) -> ids.Node:
    """A node of this database, as a node process would build it."""
    return ids.single(engine, role, prefix).front


def allocate(parent: ids.Node, prefix: str, secret: str) -> None:
    """Allocate ``prefix`` below ``parent`` with a known secret (idempotent for reruns)."""
    ids.allocate(parent, prefix, None, actor="bench", secret=secret)


def register(secondary: ids.Node, start: int, stop: int) -> None:
    """Register identifiers ``start`` … ``stop - 1`` one by one, as their prefix admin."""
    principal = secondary.authenticate(USERNAME, SECRET)
    for i in range(start, stop):
        secondary.put(handle_text(i), values(i), principal)


def paths_file(path: Path, texts: list[str], base: str = "") -> Path:
    """Write one request path per line (``{base}/api/handles/<handle>``)."""
    path.write_text("".join(f"{base}/api/handles/{t}\n" for t in texts))
    return path
