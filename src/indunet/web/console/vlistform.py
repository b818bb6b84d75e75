"""The record editor's admin groups: HS_VLIST values as typed in the console, one member per
line in Handle.Net's ``index:handle`` notation (``300:88.100.1/admin-zhang``), into the JSON
``Node.put`` takes.

Each list is checked here, so a mistake is named in the page's language with its row and line:
a line that is not ``index:handle``, an index outside 0 (any index of the handle) to
``MAX_INDEX``, a malformed handle, a member listed twice, more than ``MAX_VLIST_MEMBERS``
members. The text of one list is bounded before it is split, and at most ``MAX_VALUES`` rows
are read. Who may write the record, and whether the indexes clash with its other values, is
the node's rule (``Node.put``), as for every other value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from indunet.core import IndunetError
from indunet.ids.syntax import handle as hdl
from indunet.ids.values import (
    MAX_INDEX,
    MAX_REFERENCE_HANDLE_LEN,
    MAX_VALUES,
    MAX_VLIST_MEMBERS,
    VLIST_TYPE,
    HandleValue,
)
from indunet.web.console.forms import MAX_SHOWN, FormError
from indunet.web.console.i18n import N_

#: The hidden field that says the form carries the admin group editor.
EDITOR_FIELD = "vlist_editor"
#: Characters one list's text may have: its most members, each a longest handle and index.
MAX_VLIST_TEXT = MAX_VLIST_MEMBERS * (MAX_REFERENCE_HANDLE_LEN + 12)


@dataclass
class VlistRow:
    """One admin group row of the editor, as typed: its index and members, one per line."""

    index: str = ""
    members: str = ""
    remove: bool = False

    @property
    def blank(self) -> bool:
        """Whether the row was left empty (the editor's row for a new group)."""
        return not (self.index.strip() or self.members.strip())


def edited(v: HandleValue) -> bool:
    """Whether the editor shows ``v`` as an admin group row (a public HS_VLIST value)."""
    return v.type == VLIST_TYPE and v.format == "vlist" and v.public_read


def vlist_edit_rows(values: list[HandleValue]) -> list[VlistRow]:
    """The editor's group rows for a record's HS_VLIST values, plus an empty one."""
    rows = [
        VlistRow(str(v.index), "\n".join(f"{m['index']}:{m['handle']}" for m in v.value))
        for v in sorted(values, key=lambda v: v.index)
        if edited(v) and isinstance(v.value, list)
    ]
    return [*rows, VlistRow()]


def vlist_rows(form: FormData) -> list[VlistRow] | None:
    """The group rows of an edit form (list fields ``vlist_index`` and ``vlist_members``;
    ``vlist_remove`` holds the row numbers, from 1, whose removal was ticked), or ``None``
    for a form without the editor (``vlist_editor``), whose groups then stay as they are."""
    if form.get(EDITOR_FIELD) != "1":
        return None
    indexes = [str(v) for v in form.getlist("vlist_index")][: MAX_VALUES + 1]
    members = [str(v) for v in form.getlist("vlist_members")][: len(indexes)]
    members += [""] * (len(indexes) - len(members))
    removed = {str(v) for v in form.getlist("vlist_remove")[: MAX_VALUES + 1]}
    return [
        VlistRow(i, m, str(n) in removed)
        for n, (i, m) in enumerate(zip(indexes, members, strict=True), start=1)
    ]


def _member(line: str, row: int, number: int) -> tuple[int, str, str]:
    """``line`` as (index, handle as typed, the handle's lookup key)."""
    index_text, colon, handle = line.partition(":")
    if not colon or not index_text.strip() or not handle.strip():
        raise FormError(N_("form.vlist_member_syntax"), row=row, line=number, text=line[:MAX_SHOWN])
    try:
        index = int(index_text.strip())
    except ValueError:
        raise FormError(
            N_("form.vlist_member_syntax"), row=row, line=number, text=line[:MAX_SHOWN]
        ) from None
    if not 0 <= index <= MAX_INDEX:
        raise FormError(N_("form.vlist_member_index"), row=row, line=number, max=MAX_INDEX)
    handle = handle.strip()
    try:
        if len(handle) > MAX_REFERENCE_HANDLE_LEN:
            raise FormError(N_("form.vlist_member_handle"), row=row, line=number, text="…")
        key = hdl.parse(handle).key
    except IndunetError:
        raise FormError(
            N_("form.vlist_member_handle"), row=row, line=number, text=handle[:MAX_SHOWN]
        ) from None
    return index, handle, key


def vlist_values(rows: list[VlistRow]) -> list[dict[str, Any]]:
    """HS_VLIST values for ``Node.put`` from the rows kept (not blank, not ticked for removal),
    or ``FormError`` naming the first mistake."""
    if len(rows) > MAX_VALUES:
        raise FormError(N_("form.vlist_too_many_rows"), max=MAX_VALUES)
    out: list[dict[str, Any]] = []
    for n, row in enumerate(rows, start=1):
        if row.remove or row.blank:
            continue
        try:
            index = int(row.index.strip())
        except ValueError:
            raise FormError(
                N_("form.vlist_index_not_whole"), row=n, text=row.index[:MAX_SHOWN]
            ) from None
        if len(row.members) > MAX_VLIST_TEXT:
            raise FormError(N_("form.vlist_too_many"), row=n, max=MAX_VLIST_MEMBERS)
        lines = [line.strip() for line in row.members.splitlines()]
        numbered = [(k, line) for k, line in enumerate(lines, start=1) if line]
        if not numbered:
            raise FormError(N_("form.vlist_empty"), row=n)
        if len(numbered) > MAX_VLIST_MEMBERS:
            raise FormError(N_("form.vlist_too_many"), row=n, max=MAX_VLIST_MEMBERS)
        members: dict[tuple[int, str], str] = {}  # by (index, lookup key): the handle typed
        for k, line in numbered:
            index_of, handle, key = _member(line, n, k)
            if (index_of, key) in members:
                raise FormError(N_("form.vlist_member_twice"), row=n, line=k, text=line[:MAX_SHOWN])
            members[(index_of, key)] = handle
        listed = [{"index": i, "handle": h} for (i, _), h in members.items()]
        data = {"format": "vlist", "value": listed}
        out.append({"index": index, "type": VLIST_TYPE, "data": data})
    return out
