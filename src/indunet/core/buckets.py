"""Counting rows into time buckets inside the database, the same way on SQLite and PostgreSQL.

Trend charts (devices online, alarms by severity) cut a window into equal buckets and let the
database count per bucket, so no rows are carried into Python however many there are.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa


def bucket_starts(start: int, end: int, step: int) -> list[int]:
    """Bucket starts of ``[start, end)``."""
    return list(range(start, end, max(1, step)))


def bucket_index(column: Any, edges: list[Any]) -> Any:
    """The index of the bucket ``column`` falls in, computed by the database (a ``CASE`` over
    the bucket edges works alike in SQLite and PostgreSQL, for numbers and times)."""
    return sa.case(*((column < edge, i) for i, edge in enumerate(edges)), else_=len(edges))


def within(column: Any, scope: Collection[int] | None) -> list[sa.ColumnElement[bool]]:
    """Conditions keeping rows whose ``column`` is in ``scope`` (``None``: every row; an empty
    scope: none)."""
    if scope is None:
        return []
    return [column.in_(list(scope))] if scope else [sa.false()]
