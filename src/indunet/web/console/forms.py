"""Turning console form rows into the JSON the identifier services take.

A problem found here is a ``FormError`` carrying a catalogue key, so it reads in the page's
language; problems the services find arrive as ``IndunetError`` with their own message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from indunet.web.console.i18n import N_

TEMPLATE_INDEX = 1000


class FormError(Exception):
    """A form field the console itself cannot read; ``key`` is a catalogue key."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass
class ValueRow:
    """One (index, type, value) row of the registration form, as typed."""

    index: str = ""
    type: str = ""
    value: str = ""
    required: bool = False

    @property
    def blank(self) -> bool:
        """Whether the row was left empty."""
        return not (self.index.strip() or self.type.strip() or self.value.strip())


@dataclass
class ItemRow:
    """One item row of the template editor, as typed."""

    name: str = ""
    type: str = "string"
    index: str = ""
    required: bool = False
    min_length: str = ""
    max_length: str = ""
    pattern: str = ""

    @property
    def blank(self) -> bool:
        """Whether the row was left empty."""
        return not (self.name.strip() or self.index.strip() or self.pattern.strip())


@dataclass
class TemplateForm:
    """The template editor's fields, as typed."""

    prefix: str = ""
    name: str = ""
    version: str = ""
    industry_code: str = ""
    description: str = ""
    items: list[ItemRow] = field(default_factory=list)


def _column(form: FormData, name: str, rows: int) -> list[str]:
    got = [str(v) for v in form.getlist(name)]
    return got + [""] * (rows - len(got))


def value_rows(form: FormData) -> list[ValueRow]:
    """The value rows of a registration form (list fields ``index``, ``type``, ``value``)."""
    n = max(len(form.getlist(k)) for k in ("index", "type", "value"))
    cols = [_column(form, k, n) for k in ("index", "type", "value")]
    return [ValueRow(i, t, v) for i, t, v in zip(*cols, strict=True)]


def _whole(text: str, row: int, key: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise FormError(key, row=row, text=text) from None


def record_values(rows: list[ValueRow], template: str) -> list[dict[str, Any]]:
    """Values JSON for ``Node.put``: filled rows as strings, plus a ``TEMPLATE`` reference."""
    out: list[dict[str, Any]] = []
    for n, row in enumerate(rows, start=1):
        if row.blank:
            continue
        if not row.type.strip():
            raise FormError(N_("form.row_needs_type"), row=n)
        index = _whole(row.index, n, N_("form.index_not_whole"))
        data = {"format": "string", "value": row.value}
        out.append({"index": index, "type": row.type.strip(), "data": data})
    template = template.strip()
    if template and not any(v["type"] == "TEMPLATE" for v in out):
        used = {v["index"] for v in out}
        index = TEMPLATE_INDEX
        while index in used:
            index += 1
        out.append({"index": index, "type": "TEMPLATE", "data": template})
    if not out:
        raise FormError(N_("form.no_values"))
    return out


def template_form(form: FormData) -> TemplateForm:
    """The template editor's fields; each item row has a yes/no ``item_required`` choice."""
    keys = (
        "item_name",
        "item_type",
        "item_index",
        "item_required",
        "item_min",
        "item_max",
        "item_pattern",
    )
    n = max(len(form.getlist(k)) for k in keys)
    cols = [_column(form, k, n) for k in keys]
    items = [
        ItemRow(name, typ or "string", idx, req == "1", lo, hi, pat)
        for name, typ, idx, req, lo, hi, pat in zip(*cols, strict=True)
    ]
    return TemplateForm(
        prefix=str(form.get("prefix", "")).strip(),
        name=str(form.get("name", "")).strip(),
        version=str(form.get("version", "")).strip(),
        industry_code=str(form.get("industry_code", "")).strip().upper(),
        description=str(form.get("description", "")).strip(),
        items=items,
    )


def template_definition(tf: TemplateForm) -> dict[str, Any]:
    """The definition ``ids.parse_template`` takes, from the filled item rows."""
    items: list[dict[str, Any]] = []
    for n, row in enumerate(tf.items, start=1):
        if row.blank:
            continue
        item: dict[str, Any] = {
            "name": row.name.strip(),
            "type": row.type,
            "index": _whole(row.index, n, N_("form.index_not_whole")),
            "required": row.required,
        }
        if row.min_length.strip():
            item["min_length"] = _whole(row.min_length, n, N_("form.min_not_whole"))
        if row.max_length.strip():
            item["max_length"] = _whole(row.max_length, n, N_("form.max_not_whole"))
        if row.pattern.strip():
            item["pattern"] = row.pattern.strip()
        items.append(item)
    return {
        "name": tf.name,
        "version": tf.version,
        "industry_code": tf.industry_code,
        "description": tf.description,
        "items": items,
    }
