"""The CSV of identifier records (``ids.history``): one line per entry with the values the
record held before, built line by line so an export streams in bounded memory."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import datetime

import orjson

from indunet.ids.history import Change

HEADER = ("id", "at", "node", "prefix", "handle", "action", "actor", "cut", "before")
#: Spreadsheet programs run a cell starting with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def lines(changes: Iterator[Change], when: Callable[[datetime], str]) -> Iterator[str]:
    """A header, then one line per entry; ``when`` writes a time (ISO 8601 with an offset);
    ``before`` is the JSON of the public values before (empty for a creation)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    yield out.getvalue()
    for c in changes:
        out.seek(0)
        out.truncate()
        before = "" if c.before is None else orjson.dumps(c.before).decode()
        writer.writerow(
            [
                c.id,
                when(c.at),
                cell(c.node),
                cell(c.prefix),
                cell(c.handle),
                c.action,
                cell(c.actor),
                "1" if c.cut else "",
                cell(before),
            ]
        )
        yield out.getvalue()
