"""Turning console form rows into the JSON the identifier services take.

A problem found here is a ``FormError`` carrying a catalogue key, so it reads in the page's
language; problems the services find arrive as ``IndunetError`` with their own message.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from indunet.ids import TemplateItem
from indunet.ids.templates import MAX_ITEMS, MIN_ITEM_INDEX
from indunet.ids.values import TEMPLATE_INDEX
from indunet.web.console.i18n import N_

#: Item rows one template form may carry: one more than the service takes, so that a form
#: with too many items is refused by the service with its message, and no more is read.
MAX_ITEM_ROWS = MAX_ITEMS + 1
#: Characters of an enum item's choices field (100 choices of up to 100 characters).
MAX_CHOICES_TEXT = 12_000
#: Characters of a refused field repeated in an error message.
MAX_SHOWN = 40


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
    choices: tuple[str, ...] = ()  # an enum item's choices: the row offers them to pick
    hint: str = ""  # what a template item expects (its title, its range)

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
    title: str = ""
    minimum: str = ""
    maximum: str = ""
    choices: str = ""

    @property
    def blank(self) -> bool:
        """Whether the row was left empty."""
        return not (
            self.name.strip() or self.index.strip() or self.pattern.strip() or self.choices.strip()
        )

    @classmethod
    def of(cls, item: TemplateItem) -> ItemRow:
        """The row that edits ``item`` (a published template's item, for its next version)."""

        def text(x: float | int | None) -> str:
            return "" if x is None else f"{x:g}"

        return cls(
            name=item.name,
            type=item.type,
            index=str(item.index),
            required=item.required,
            min_length=text(item.min_length),
            max_length=text(item.max_length),
            pattern=item.pattern or "",
            title=item.title,
            minimum=text(item.minimum),
            maximum=text(item.maximum),
            choices="\n".join(item.choices),
        )


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
        raise FormError(key, row=row, text=text[:MAX_SHOWN]) from None


def _number(text: str, row: int, key: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise FormError(key, row=row, text=text[:MAX_SHOWN]) from None
    if not math.isfinite(value):
        raise FormError(key, row=row, text=text[:MAX_SHOWN])
    return value


def choice_list(text: str, row: int) -> list[str]:
    """An enum item's choices as typed: one per line, or separated by commas (, ， 、)."""
    if len(text) > MAX_CHOICES_TEXT:
        raise FormError(N_("form.choices_too_long"), row=row, max=MAX_CHOICES_TEXT)
    parts = text.splitlines() if "\n" in text.strip() else re.split(r"[,，、]", text)
    return [p.strip() for p in parts if p.strip()]


def record_values(rows: list[ValueRow], template: str) -> list[dict[str, Any]]:
    """Values JSON for ``Node.put``: rows with a value, as strings, plus a ``TEMPLATE``
    reference. A row without a value is left out, as a template's optional items are when
    left empty (a required one is then named by the template check)."""
    out: list[dict[str, Any]] = []
    for n, row in enumerate(rows, start=1):
        if row.blank or not row.value.strip():
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
        "item_title",
        "item_minimum",
        "item_maximum",
        "item_choices",
    )
    n = min(max(len(form.getlist(k)) for k in keys), MAX_ITEM_ROWS)
    cols = [_column(form, k, n)[:n] for k in keys]
    items = [
        ItemRow(name, typ or "string", idx, req == "1", lo, hi, pat, title, low, high, choices)
        for name, typ, idx, req, lo, hi, pat, title, low, high, choices in zip(*cols, strict=True)
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
    """The definition ``ids.parse_template`` takes, from the filled item rows. An item whose
    index is left empty (the field shows 2000 as its placeholder) takes the lowest index from
    2000 up that no other item uses."""
    items: list[dict[str, Any]] = []
    rows = [(n, row) for n, row in enumerate(tf.items, start=1) if not row.blank]
    given = {
        n: _whole(row.index, n, N_("form.index_not_whole")) for n, row in rows if row.index.strip()
    }
    used = set(given.values())
    free = MIN_ITEM_INDEX
    for n, row in rows:
        if n not in given:
            while free in used:
                free += 1
            given[n] = free
            used.add(free)
        item: dict[str, Any] = {
            "name": row.name.strip(),
            "type": row.type,
            "index": given[n],
            "required": row.required,
        }
        if row.min_length.strip():
            item["min_length"] = _whole(row.min_length, n, N_("form.min_not_whole"))
        if row.max_length.strip():
            item["max_length"] = _whole(row.max_length, n, N_("form.max_not_whole"))
        if row.pattern.strip():
            item["pattern"] = row.pattern.strip()
        if row.title.strip():
            item["title"] = row.title.strip()
        if row.minimum.strip():
            item["minimum"] = _number(row.minimum, n, N_("form.minimum_not_number"))
        if row.maximum.strip():
            item["maximum"] = _number(row.maximum, n, N_("form.maximum_not_number"))
        if row.choices.strip():
            item["choices"] = choice_list(row.choices, n)
        items.append(item)
    return {
        "name": tf.name,
        "version": tf.version,
        "industry_code": tf.industry_code,
        "description": tf.description,
        "items": items,
    }
