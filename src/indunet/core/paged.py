"""One page of a table's rows and how many rows match, for the lists the console pages.

``page_of_rows`` runs the page query and the count the same way for every list: the page is
cut with ``offset``/``limit`` (at most ``MAX_ROWS``); when ``scan`` says the filter makes the
database read the table anyway (a ``LIKE`` search), the page's rows carry the count of every
match from the same pass (``COUNT(*) OVER ()``), otherwise a page past the end or an indexed
filter counts on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

MAX_ROWS = 500
_MATCHES = "matches"


def page_of_rows(
    conn: sa.Connection,
    table: sa.FromClause,
    columns: Sequence[Any],
    where: Sequence[sa.ColumnElement[bool]],
    order_by: Sequence[Any],
    *,
    offset: int,
    limit: int,
    scan: bool,
) -> tuple[list[dict[str, Any]], int]:
    """The rows (as mappings, without the count column) of one page and the total."""
    counted = [sa.func.count().over().label(_MATCHES)] if scan else []
    rows = conn.execute(
        sa.select(*columns, *counted)
        .select_from(table)
        .where(*where)
        .order_by(*order_by)
        .offset(max(0, offset))
        .limit(max(1, min(limit, MAX_ROWS)))
    ).all()
    if rows and scan:
        total = rows[0]._mapping[_MATCHES]
    else:
        total = conn.execute(
            sa.select(sa.func.count()).select_from(table).where(*where)
        ).scalar_one()
    found = [{k: v for k, v in r._mapping.items() if k != _MATCHES} for r in rows]
    return found, int(total)


def contains(column: Any, q: str) -> sa.ColumnElement[bool]:
    """``column`` holds ``q`` anywhere, case-insensitively (its ``LIKE`` wildcards escaped):
    a list's search."""
    text = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result: sa.ColumnElement[bool] = column.ilike(f"%{text}%", escape="\\")
    return result
