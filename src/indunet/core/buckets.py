"""Counting rows into time buckets inside the database, the same way on SQLite and PostgreSQL.

Trend charts (devices online, alarms by severity) cut a window into equal buckets and let the
database count per bucket, so no rows are carried into Python however many there are. The
buckets are a small table of their bounds (``edges``: ``k``, ``lo``, ``hi``) and each bucket's
figure is a correlated subquery over one index range (``lo <= column < hi``): the database
reads index entries only, and sorts nothing. The statements are built once per number of
buckets (``lru_cache`` in the callers) with the bounds as parameters (``edge_values``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import sqlalchemy as sa

SCOPE = "scope"
"""The name of the parameter holding the enterprises of a scoped statement (``scoped``)."""


def bucket_starts(start: int, end: int, step: int) -> list[int]:
    """Bucket starts of ``[start, end)``."""
    return list(range(start, end, max(1, step)))


def edge_table(n: int, bound: sa.types.TypeEngine[Any]) -> sa.CTE:
    """``edges(k, lo, hi)``: ``n`` buckets whose bounds are the parameters ``lo<k>`` and
    ``hi<k>`` of type ``bound`` (see ``edge_values``)."""
    return sa.union_all(
        *(
            sa.select(
                sa.literal_column(str(k), sa.Integer).label("k"),
                sa.bindparam(f"lo{k}", type_=bound).label("lo"),
                sa.bindparam(f"hi{k}", type_=bound).label("hi"),
            )
            for k in range(n)
        )
    ).cte("edges")


def edge_values(
    start: int, end: int, step: int, bound: Callable[[int], Any]
) -> tuple[list[int], dict[str, Any]]:
    """Bucket starts of ``[start, end)`` (ms) and the parameters of their ``edge_table``: each
    bucket is ``[b, min(b + step, end))``, its bounds given as ``bound(ms)``."""
    starts = bucket_starts(start, end, step)
    values: dict[str, Any] = {}
    for k, b in enumerate(starts):
        values[f"lo{k}"] = bound(b)
        values[f"hi{k}"] = bound(min(b + step, end))
    return starts, values


def scoped(column: Any, scope: bool) -> list[sa.ColumnElement[bool]]:
    """Keep rows whose ``column`` is in the parameter ``SCOPE`` (a list), if ``scope``."""
    return [column.in_(sa.bindparam(SCOPE, expanding=True))] if scope else []


def within(column: Any, scope: Collection[int] | None) -> list[sa.ColumnElement[bool]]:
    """Conditions keeping rows whose ``column`` is in ``scope`` (``None``: every row; an empty
    scope: none)."""
    if scope is None:
        return []
    return [column.in_(list(scope))] if scope else [sa.false()]
