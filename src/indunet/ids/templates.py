"""Data templates (数据模板): per-prefix schemas that identifier records are checked against.

A template has a name, a version, a GB/T 4754 industry code and typed items. Each item names a
value type, the index it lives at (2000 or more), whether it is required, and constraints.
A record opts in with a ``TEMPLATE`` value whose data is ``name@version``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from indunet.core import Conflict, InvalidInput, NotFound, audit
from indunet.ids.errors import InvalidValue
from indunet.ids.owners import prefix_owner
from indunet.ids.syntax import handle as hdl
from indunet.ids.tables import templates
from indunet.ids.values import (
    MAX_INDEX,
    MAX_VALUE_BYTES,
    STANDARD_TYPES,
    TEMPLATE_TYPE,
    HandleValue,
)
from indunet.ids.valuetypes import reserved_parent, writable_parent

ITEM_TYPES = ("string", "integer", "number", "boolean", "date", "datetime", "url", "enum")
MIN_ITEM_INDEX = 2000
MAX_ITEMS = 200
MAX_CHOICES = 100
MAX_CHOICE_LEN = 100
MAX_PATTERN_LEN = 500
#: The reason a value that is not of its item's type is refused with, per type.
TYPE_REASONS = {t: f"template_value_{t}" for t in ITEM_TYPES}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}\Z")
_INDUSTRY = re.compile(r"[A-T](\d{2}(\d{1,2})?)?\Z")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


@dataclass(frozen=True, slots=True)
class TemplateItem:
    """One field of a template."""

    name: str
    type: str
    index: int
    required: bool = False
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    title: str = ""


@dataclass(frozen=True, slots=True)
class Template:
    """A versioned data template of a prefix."""

    prefix: str
    name: str
    version: str
    industry_code: str
    items: tuple[TemplateItem, ...]
    description: str = ""
    id: int | None = field(default=None, compare=False)

    @property
    def ref(self) -> str:
        """How a record names this template: ``name@version``."""
        return f"{self.name}@{self.version}"

    def to_json(self) -> dict[str, Any]:
        """API shape."""
        d = asdict(self)
        d["items"] = [
            {k: v for k, v in asdict(i).items() if v not in (None, (), "")} for i in self.items
        ]
        return d


def _bad_item(text: str, *, reason: str, **params: Any) -> InvalidInput:
    return InvalidInput(text, reason=reason, params=params)


def _choices(raw: Any, name: str) -> tuple[str, ...]:
    """An enum item's choices: a list of at most ``MAX_CHOICES`` distinct, short texts."""
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise _bad_item(
            f"item {name!r}: choices must be a list", reason="template_choices_list", item=name
        )
    if len(raw) > MAX_CHOICES:
        raise _bad_item(
            f"item {name!r}: at most {MAX_CHOICES} choices, got {len(raw)}",
            reason="template_choices_too_many",
            item=name,
            max=MAX_CHOICES,
            count=len(raw),
        )
    choices = tuple(str(c).strip() for c in raw)
    for c in choices:
        if not c or len(c) > MAX_CHOICE_LEN:
            raise _bad_item(
                f"item {name!r}: each choice must have 1-{MAX_CHOICE_LEN} characters",
                reason="template_choice_length",
                item=name,
                max=MAX_CHOICE_LEN,
            )
    if len(set(choices)) != len(choices):
        raise _bad_item(
            f"item {name!r}: choices repeat", reason="template_choices_repeat", item=name
        )
    return choices


def parse_item(raw: Any, pos: int) -> TemplateItem:
    """Validate one item definition from API input."""
    if not isinstance(raw, dict):
        raise _bad_item(f"item {pos}: must be an object", reason="template_item_object", pos=pos)
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _bad_item(
            f"item {pos}: name must start with a letter and use letters, digits, _ . -",
            reason="template_item_name",
            pos=pos,
        )
    if name.upper() in STANDARD_TYPES:
        raise _bad_item(
            f"item {name!r}: {name} is a standard handle type and cannot be an item",
            reason="template_item_standard",
            item=name,
        )
    itype = raw.get("type", "string")
    if itype not in ITEM_TYPES:
        raise _bad_item(
            f"item {name!r}: type {itype!r} is not one of {', '.join(ITEM_TYPES)}",
            reason="template_item_type",
            item=name,
            type=str(itype),
            types=", ".join(ITEM_TYPES),
        )
    try:
        index = int(raw["index"])
    except (KeyError, TypeError, ValueError):
        raise _bad_item(
            f"item {name!r}: needs an integer index of {MIN_ITEM_INDEX} or more",
            reason="template_item_no_index",
            item=name,
            min=MIN_ITEM_INDEX,
        ) from None
    if not MIN_ITEM_INDEX <= index <= MAX_INDEX:
        raise _bad_item(
            f"item {name!r}: index {index} is below {MIN_ITEM_INDEX}"
            if index < MIN_ITEM_INDEX
            else f"item {name!r}: index {index} is above {MAX_INDEX}",
            reason="template_item_index",
            item=name,
            index=index,
            min=MIN_ITEM_INDEX,
            max=MAX_INDEX,
        )
    pattern = raw.get("pattern")
    if pattern is not None:
        if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN_LEN:
            raise _bad_item(
                f"item {name!r}: pattern must be text of at most {MAX_PATTERN_LEN} characters",
                reason="template_pattern_length",
                item=name,
                max=MAX_PATTERN_LEN,
            )
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _bad_item(
                f"item {name!r}: pattern is not a valid regular expression: {exc}",
                reason="template_pattern_invalid",
                item=name,
                error=str(exc),
            ) from None
    choices = _choices(raw.get("choices"), name)
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise _bad_item(
            f"item {name!r}: required must be true or false",
            reason="template_item_required",
            item=name,
        )
    if itype == "enum" and not choices:
        raise _bad_item(
            f"item {name!r}: an enum item needs choices",
            reason="template_enum_no_choices",
            item=name,
        )

    def num(key: str) -> float | None:
        v = raw.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise _bad_item(
                f"item {name!r}: {key} must be a number",
                reason="template_item_not_number",
                item=name,
                key=key,
            )
        return float(v)

    def length(key: str) -> int | None:
        v = raw.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_VALUE_BYTES:
            raise _bad_item(
                f"item {name!r}: {key} must be a whole number from 0 to {MAX_VALUE_BYTES}",
                reason="template_item_not_length",
                item=name,
                key=key,
                max=MAX_VALUE_BYTES,
            )
        return v

    min_length, max_length = length("min_length"), length("max_length")
    if min_length is not None and max_length is not None and min_length > max_length:
        raise _bad_item(
            f"item {name!r}: min_length {min_length} is above max_length {max_length}",
            reason="template_length_order",
            item=name,
            min=min_length,
            max=max_length,
        )
    minimum, maximum = num("minimum"), num("maximum")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise _bad_item(
            f"item {name!r}: minimum {minimum:g} is above maximum {maximum:g}",
            reason="template_range_order",
            item=name,
            min=f"{minimum:g}",
            max=f"{maximum:g}",
        )
    return TemplateItem(
        name=name,
        type=itype,
        index=index,
        required=required,
        min_length=min_length,
        max_length=max_length,
        pattern=pattern,
        minimum=minimum,
        maximum=maximum,
        choices=choices,
        title=str(raw.get("title", ""))[:MAX_CHOICE_LEN],
    )


def parse_template(prefix: str, raw: Any) -> Template:
    """Validate a whole template definition from API input."""
    if not isinstance(raw, dict):
        raise InvalidInput("a template must be an object", reason="template_object")
    hdl.validate_prefix(prefix)
    name, version = raw.get("name"), str(raw.get("version", ""))
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            "template name must start with a letter and use letters, digits, _ . -",
            reason="template_name",
        )
    if not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z.-]{0,31}", version):
        raise InvalidInput(
            "template version must be 1-32 letters, digits, '.' or '-', e.g. 1.0",
            reason="template_version",
        )
    industry = str(raw.get("industry_code", ""))
    if not _INDUSTRY.match(industry):
        raise InvalidInput(
            f"industry code {industry!r} is not a GB/T 4754 category: a section letter A-T, "
            "optionally followed by 2-4 digits (e.g. C, C34, C3421)",
            reason="template_industry",
            params={"code": industry},
        )
    raw_items = raw.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise InvalidInput("a template needs at least one item", reason="template_no_items")
    if len(raw_items) > MAX_ITEMS:
        raise InvalidInput(
            f"a template has at most {MAX_ITEMS} items",
            reason="template_too_many_items",
            params={"max": MAX_ITEMS},
        )
    items = tuple(parse_item(it, pos) for pos, it in enumerate(raw_items, 1))
    names = [it.name for it in items]
    indices = [it.index for it in items]
    for n in names:
        if names.count(n) > 1:
            raise InvalidInput(
                f"two items share the name {n!r}", reason="template_same_name", params={"item": n}
            )
    for i in indices:
        if indices.count(i) > 1:
            raise InvalidInput(
                f"two items share the index {i}", reason="template_same_index", params={"index": i}
            )
    return Template(
        prefix=hdl.normalise_prefix(prefix),
        name=name,
        version=version,
        industry_code=industry,
        items=items,
        description=str(raw.get("description", ""))[:500],
    )


def _broken(
    item: TemplateItem, ref: str, text: str, *, reason: str, whole: bool = False, **params: Any
) -> InvalidValue:
    """An ``InvalidValue`` naming the template item a value breaks (params: item, index,
    template); ``text`` follows "template <ref>: item '<name>' (index <n>): " unless ``whole``."""
    where = f"template {ref}: item {item.name!r} (index {item.index})"
    return InvalidValue(
        text if whole else f"{where}: {text}",
        reason=reason,
        params={"item": item.title or item.name, "index": item.index, "template": ref, **params},
    )


def _check_item(item: TemplateItem, v: HandleValue, ref: str) -> None:
    if v.format != "string" or not isinstance(v.value, str):
        raise _broken(item, ref, "must be a string value", reason="template_value_text")
    text = v.value
    if item.min_length is not None and len(text) < item.min_length:
        raise _broken(
            item,
            ref,
            f"{len(text)} characters, fewer than min_length {item.min_length}",
            reason="template_value_short",
            length=len(text),
            min=item.min_length,
        )
    if item.max_length is not None and len(text) > item.max_length:
        raise _broken(
            item,
            ref,
            f"{len(text)} characters, more than max_length {item.max_length}",
            reason="template_value_long",
            length=len(text),
            max=item.max_length,
        )
    if item.pattern is not None and not re.fullmatch(item.pattern, text):
        raise _broken(
            item,
            ref,
            f"{text!r} does not match pattern {item.pattern!r}",
            reason="template_value_pattern",
            value=text,
            pattern=item.pattern,
        )
    if item.type == "enum" and text not in item.choices:
        raise _broken(
            item,
            ref,
            f"{text!r} is not one of {', '.join(item.choices)}",
            reason="template_value_choice",
            value=text,
            choices="、".join(item.choices),
        )
    number: float | None = None
    try:
        if item.type == "integer":
            if not _INTEGER.fullmatch(text):
                raise ValueError
            number = int(text)
        elif item.type == "number":
            if not _NUMBER.fullmatch(text):
                raise ValueError
            number = float(text)
        elif item.type == "boolean" and text not in ("true", "false"):
            raise ValueError
        elif item.type == "date":
            date.fromisoformat(text)
        elif item.type == "datetime":
            datetime.fromisoformat(text)
        elif item.type == "url" and (
            not text.startswith(("http://", "https://")) or not urlsplit(text).hostname
        ):
            raise ValueError
    except ValueError:
        raise _broken(
            item,
            ref,
            f"{text!r} is not a valid {item.type}",
            reason=TYPE_REASONS[item.type],
            value=text,
        ) from None
    if number is not None:
        if item.minimum is not None and number < item.minimum:
            raise _broken(
                item,
                ref,
                f"{text} is below minimum {item.minimum:g}",
                reason="template_value_below",
                value=text,
                min=f"{item.minimum:g}",
            )
        if item.maximum is not None and number > item.maximum:
            raise _broken(
                item,
                ref,
                f"{text} is above maximum {item.maximum:g}",
                reason="template_value_above",
                value=text,
                max=f"{item.maximum:g}",
            )


def check_record(template: Template, values: Sequence[HandleValue]) -> None:
    """Raise ``InvalidValue`` naming the item and rule a record breaks."""
    for item in template.items:
        found = [v for v in values if v.type == item.name]
        if not found and item.required:
            raise _broken(
                item,
                template.ref,
                f"template {template.ref}: required item {item.name!r} is missing",
                reason="template_value_missing",
                whole=True,
            )
        for v in found:
            if v.index != item.index:
                raise _broken(
                    item,
                    template.ref,
                    f"template {template.ref}: item {item.name!r} must be at index "
                    f"{item.index}, not {v.index}",
                    reason="template_value_index",
                    whole=True,
                    got=v.index,
                )
            _check_item(item, v, template.ref)


class TemplateRegistry:
    """Templates of the prefixes a node holds, kept in memory and in the database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._by_ref: dict[tuple[str, str], Template] = {}
        self._types: dict[str, set[str]] = {}
        self._loaded_at = 0.0
        self.reload()

    def reload(self) -> None:
        """Read every template from the database."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(templates)).mappings().all()
        self._by_ref.clear()
        self._types.clear()
        self._loaded_at = time.monotonic()
        for r in rows:
            self._remember(_from_row(r))

    def _remember(self, t: Template) -> None:
        self._by_ref[(t.prefix, t.ref)] = t
        self._types.setdefault(t.prefix, set()).update(i.name for i in t.items)

    def add(self, conn: sa.Connection, t: Template, *, actor: str) -> Template:
        """Store a new template version; an existing name and version is refused."""
        if (t.prefix, t.ref) in self._by_ref:
            raise Conflict(
                f"template {t.ref} already exists for prefix {t.prefix}; publish a new version",
                reason="template_exists",
                params={"template": t.ref, "prefix": t.prefix},
            )
        new_id = conn.execute(
            templates.insert()
            .values(
                prefix=t.prefix,
                name=t.name,
                version=t.version,
                industry_code=t.industry_code,
                description=t.description,
                items=t.to_json()["items"],
                created_at=datetime.now(UTC),
            )
            .returning(templates.c.id)
        ).scalar_one()
        audit.record(
            conn,
            actor,
            "template.create",
            f"template:{t.prefix}/{t.ref}",
            enterprise_id=prefix_owner(conn, t.prefix),
        )
        t = Template(
            t.prefix, t.name, t.version, t.industry_code, t.items, t.description, int(new_id)
        )
        self._remember(t)
        return t

    def remove(self, conn: sa.Connection, prefix: str, ref: str, *, actor: str) -> None:
        """Delete a template version; records already registered keep their values."""
        prefix = hdl.normalise_prefix(prefix)
        name, _, version = ref.partition("@")
        res = conn.execute(
            templates.delete().where(
                templates.c.prefix == prefix,
                templates.c.name == name,
                templates.c.version == version,
            )
        )
        if not res.rowcount:
            raise NotFound(
                f"no template {ref} for prefix {prefix}",
                reason="template_not_found",
                params={"template": ref, "prefix": prefix},
            )
        audit.record(
            conn,
            actor,
            "template.delete",
            f"template:{prefix}/{ref}",
            enterprise_id=prefix_owner(conn, prefix),
        )
        self._by_ref.pop((prefix, ref), None)
        self._types.pop(prefix, None)
        for t in self._by_ref.values():
            if t.prefix == prefix:
                self._types.setdefault(prefix, set()).update(i.name for i in t.items)

    def for_prefix(self, prefix: str) -> list[Template]:
        """Templates usable under ``prefix`` (its own and its ancestors'), newest last."""
        return [t for (p, _), t in self._by_ref.items() if hdl.is_under(prefix, p)]

    def _refresh(self) -> None:
        """Re-read the table (at most once a second): another process may have added templates."""
        now = time.monotonic()
        if now - self._loaded_at >= 1.0:
            self.reload()

    def find(self, prefix: str, ref: str) -> Template:
        """The template ``name@version`` visible under ``prefix``."""
        if not any((p, ref) in self._by_ref for p in _ancestors(prefix)):
            self._refresh()
        for p in _ancestors(prefix):
            t = self._by_ref.get((p, ref))
            if t is not None:
                return t
        raise InvalidValue(
            f"record names template {ref!r}, which prefix {prefix} does not have",
            reason="template_unknown",
            params={"template": ref, "prefix": prefix},
        )

    def known_types(self, prefix: str) -> set[str]:
        """Item names of every template visible under ``prefix``."""
        out: set[str] = set()
        for p in _ancestors(prefix):
            out |= self._types.get(p, set())
        return out

    def validate(self, prefix: str, values: Sequence[HandleValue]) -> None:
        """Check value types are known and, if the record names a template, that it complies."""
        known: set[str] | None = None
        for v in values:
            if (
                v.type in STANDARD_TYPES
                or "/" in v.type
                or writable_parent(v.type, STANDARD_TYPES) is not None
            ):
                continue
            if known is None:
                known = self.known_types(prefix)
            if v.type not in known:
                self._refresh()
                known = self.known_types(prefix)
            reserved = reserved_parent(v.type) if v.type not in known else None
            if reserved is not None:
                raise InvalidValue(
                    f"value {v.index}: type {v.type!r} would be a subtype of {reserved}; "
                    "HS_ types have no subtypes here (their meaning is fixed)",
                    reason="value_reserved_subtype",
                    params={"index": v.index, "type": v.type, "parent": reserved},
                )
            if v.type not in known:
                raise InvalidValue(
                    f"value {v.index}: unknown type {v.type!r}; use a standard type "
                    "(URL, EMAIL, DESC, …) or an item of one of the prefix's data templates",
                    reason="value_unknown_type",
                    params={"index": v.index, "type": v.type},
                )
        for v in values:
            if v.type == TEMPLATE_TYPE:
                check_record(self.find(prefix, str(v.value)), values)


def _ancestors(prefix: str) -> Iterable[str]:
    p = prefix
    while p:
        yield p
        p = hdl.parent_prefix(p)


def _from_row(r: Any) -> Template:
    items = tuple(TemplateItem(**{**i, "choices": tuple(i.get("choices", ()))}) for i in r["items"])
    return Template(
        r["prefix"], r["name"], r["version"], r["industry_code"], items, r["description"], r["id"]
    )
