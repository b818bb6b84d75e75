"""Data templates: definitions, every item constraint, versions, and the registry."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from indunet import core
from indunet.ids import InvalidValue, TemplateRegistry, parse_template, parse_values
from indunet.ids.templates import check_record

DEFINITION: dict[str, Any] = {
    "name": "machine",
    "version": "1.0",
    "industry_code": "C342",
    "items": [
        {
            "name": "serial",
            "type": "string",
            "index": 2000,
            "required": True,
            "min_length": 3,
            "max_length": 8,
            "pattern": "[A-Z0-9-]+",
        },
        {"name": "power_kw", "type": "number", "index": 2001, "minimum": 0.5, "maximum": 90},
        {"name": "axes", "type": "integer", "index": 2002, "minimum": 2, "maximum": 9},
        {"name": "cnc", "type": "boolean", "index": 2003},
        {"name": "made_on", "type": "date", "index": 2004},
        {"name": "tested_at", "type": "datetime", "index": 2005},
        {"name": "manual", "type": "url", "index": 2006},
        {"name": "grade", "type": "enum", "index": 2007, "choices": ["A", "B"]},
    ],
}


def _template(**changes: Any) -> Any:
    return parse_template("88.100.1", {**DEFINITION, **changes})


def _record(*items: tuple[int, str, str]) -> list[Any]:
    raw = [{"index": 1, "type": "TEMPLATE", "data": "machine@1.0"}]
    raw += [{"index": i, "type": t, "data": d} for i, t, d in items]
    return parse_values(raw)


def _violation(*items: tuple[int, str, str]) -> str:
    with pytest.raises(InvalidValue) as err:
        check_record(_template(), _record(*items))
    return err.value.message


def test_definition_is_parsed() -> None:
    t = _template()
    assert (t.prefix, t.ref, t.industry_code) == ("88.100.1", "machine@1.0", "C342")
    assert [i.name for i in t.items][:2] == ["serial", "power_kw"]
    assert t.items[0].required and t.items[7].choices == ("A", "B")


def test_a_complying_record_passes() -> None:
    check_record(
        _template(),
        _record(
            (2000, "serial", "CNC-01"),
            (2001, "power_kw", "7.5"),
            (2002, "axes", "5"),
            (2003, "cnc", "true"),
            (2004, "made_on", "2026-03-01"),
            (2005, "tested_at", "2026-03-01T08:00:00+08:00"),
            (2006, "manual", "https://example.cn/m.pdf"),
            (2007, "grade", "A"),
        ),
    )


@pytest.mark.parametrize(
    ("items", "fragment"),
    [
        ((), "required item 'serial' is missing"),
        (
            ((2000, "serial", "AB"),),
            "item 'serial' (index 2000): 2 characters, fewer than min_length 3",
        ),
        (((2000, "serial", "ABCDEFGHI"),), "9 characters, more than max_length 8"),
        (((2000, "serial", "cnc-1"),), "'cnc-1' does not match pattern '[A-Z0-9-]+'"),
        (((2000, "serial", "CNC-1\n"),), "does not match pattern"),
        (((2001, "serial", "CNC-1"),), "item 'serial' must be at index 2000, not 2001"),
        (
            ((2000, "serial", "CNC"), (2001, "power_kw", "0.1")),
            "item 'power_kw' (index 2001): 0.1 is below minimum 0.5",
        ),
        (((2000, "serial", "CNC"), (2001, "power_kw", "91")), "91 is above maximum 90"),
        (((2000, "serial", "CNC"), (2001, "power_kw", "fast")), "'fast' is not a valid number"),
        (((2000, "serial", "CNC"), (2001, "power_kw", "nan")), "'nan' is not a valid number"),
        (((2000, "serial", "CNC"), (2001, "power_kw", "inf")), "'inf' is not a valid number"),
        (((2000, "serial", "CNC"), (2002, "axes", "2.5")), "'2.5' is not a valid integer"),
        (((2000, "serial", "CNC"), (2002, "axes", "1_0")), "'1_0' is not a valid integer"),
        (((2000, "serial", "CNC"), (2002, "axes", " 5")), "' 5' is not a valid integer"),
        (((2000, "serial", "CNC"), (2002, "axes", "١")), "is not a valid integer"),
        (((2000, "serial", "CNC"), (2002, "axes", "1")), "1 is below minimum 2"),
        (((2000, "serial", "CNC"), (2003, "cnc", "yes")), "'yes' is not a valid boolean"),
        (
            ((2000, "serial", "CNC"), (2004, "made_on", "2026-02-30")),
            "'2026-02-30' is not a valid date",
        ),
        (
            ((2000, "serial", "CNC"), (2005, "tested_at", "tuesday")),
            "'tuesday' is not a valid datetime",
        ),
        (((2000, "serial", "CNC"), (2006, "manual", "ftp://x")), "'ftp://x' is not a valid url"),
        (((2000, "serial", "CNC"), (2006, "manual", "http://")), "'http://' is not a valid url"),
        (((2000, "serial", "CNC"), (2007, "grade", "C")), "'C' is not one of A, B"),
    ],
)
def test_each_violation_names_item_and_rule(
    items: tuple[tuple[int, str, str], ...], fragment: str
) -> None:
    message = _violation(*items)
    assert message.startswith("template machine@1.0: ")
    assert fragment in message


def test_a_second_value_of_an_item_type_is_checked_too() -> None:
    message = _violation((2100, "serial", "bad value"), (2000, "serial", "CNC"))
    assert "item 'serial' must be at index 2000, not 2100" in message


def test_non_string_item_value_is_refused() -> None:
    raw = [
        {"index": 1, "type": "TEMPLATE", "data": "machine@1.0"},
        {"index": 2000, "type": "serial", "data": {"format": "hex", "value": "00"}},
    ]
    with pytest.raises(
        InvalidValue, match="item 'serial' \\(index 2000\\): must be a string value"
    ):
        check_record(_template(), parse_values(raw))


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        (
            {"items": [{"name": "x", "type": "blob", "index": 2000}]},
            "item 'x': type 'blob' is not one of string, integer",
        ),
        ({"items": [{"name": "x", "index": 1999}]}, "item 'x': index 1999 is below 2000"),
        ({"items": [{"name": "x"}]}, "item 'x': needs an integer index of 2000 or more"),
        (
            {"items": [{"name": "URL", "index": 2000}]},
            "URL is a standard handle type and cannot be an item",
        ),
        ({"items": [{"name": "1x", "index": 2000}]}, "item 1: name must start with a letter"),
        (
            {"items": [{"name": "x", "index": 2000, "pattern": "("}]},
            "item 'x': pattern is not a valid regular expression",
        ),
        (
            {"items": [{"name": "x", "type": "enum", "index": 2000}]},
            "item 'x': an enum item needs choices",
        ),
        (
            {"items": [{"name": "x", "type": "enum", "index": 2000, "choices": "AB"}]},
            "item 'x': choices must be a list",
        ),
        (
            {"items": [{"name": "x", "index": 2000, "minimum": "1"}]},
            "item 'x': minimum must be a number",
        ),
        (
            {"items": [{"name": "x", "index": 2000, "max_length": -1}]},
            "item 'x': max_length must be a whole number",
        ),
        (
            {"items": [{"name": "x", "index": 2000, "min_length": 5, "max_length": 2}]},
            "item 'x': min_length 5 is above max_length 2",
        ),
        (
            {"items": [{"name": "x", "index": 2000, "minimum": 5, "maximum": 2}]},
            "item 'x': minimum 5 is above maximum 2",
        ),
        (
            {"items": [{"name": "x", "index": 2000, "required": "no"}]},
            "item 'x': required must be true or false",
        ),
        (
            {"items": [{"name": "x", "index": 2000}, {"name": "x", "index": 2001}]},
            "two items share the name 'x'",
        ),
        (
            {"items": [{"name": "x", "index": 2000}, {"name": "y", "index": 2000}]},
            "two items share the index 2000",
        ),
        ({"items": []}, "a template needs at least one item"),
        ({"industry_code": "Z99"}, "industry code 'Z99' is not a GB/T 4754 category"),
        ({"industry_code": "C3"}, "is not a GB/T 4754 category"),
        ({"version": ""}, "template version must be 1-32 letters"),
        ({"version": "1 0"}, "template version must be"),
        ({"name": "机床"}, "template name must start with a letter"),
    ],
)
def test_bad_definitions_are_refused(changes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(core.InvalidInput) as err:
        _template(**changes)
    assert fragment in err.value.message


@pytest.mark.parametrize("code", ["C", "C34", "C342", "C3421", "A01", "T"])
def test_industry_codes_follow_gb_t_4754(code: str) -> None:
    assert _template(industry_code=code).industry_code == code


def _add(
    engine: sa.Engine, registry: TemplateRegistry, prefix: str = "88.100.1", **changes: Any
) -> Any:
    with engine.begin() as conn:
        return registry.add(
            conn, parse_template(prefix, {**DEFINITION, **changes}), actor="user:op"
        )


def test_versions_are_published_not_overwritten(engine: sa.Engine) -> None:
    registry = TemplateRegistry(engine)
    first = _add(engine, registry)
    assert first.id is not None
    with pytest.raises(
        core.Conflict,
        match=r"template machine@1.0 already exists for prefix 88.100.1; publish a new version",
    ):
        _add(engine, registry)
    _add(engine, registry, version="1.1", items=[{"name": "serial", "index": 2000}])
    assert {t.ref for t in registry.for_prefix("88.100.1")} == {"machine@1.0", "machine@1.1"}
    assert registry.find("88.100.1", "machine@1.1").items[0].required is False
    with engine.connect() as conn:
        actions = [e.action for e in core.audit.entries(conn, actor="user:op")]
    assert actions == ["template.create", "template.create"]


def test_templates_are_stored_and_seen_by_a_new_registry(engine: sa.Engine) -> None:
    _add(engine, TemplateRegistry(engine))
    fresh = TemplateRegistry(engine)
    assert fresh.find("88.100.1", "machine@1.0") == _template()


def test_templates_of_an_ancestor_prefix_apply_below_it(engine: sa.Engine) -> None:
    registry = TemplateRegistry(engine)
    _add(engine, registry, prefix="88.100")
    assert registry.find("88.100.1.2", "machine@1.0").prefix == "88.100"
    assert "serial" in registry.known_types("88.100.7")
    with pytest.raises(
        InvalidValue,
        match=r"record names template 'machine@1.0', which prefix 88.200 does not have",
    ):
        registry.find("88.200", "machine@1.0")


def test_validate_refuses_unknown_types_and_checks_the_named_template(engine: sa.Engine) -> None:
    registry = TemplateRegistry(engine)
    plain = parse_values(
        [
            {"index": 1, "type": "URL", "data": "https://x"},
            {"index": 5, "type": "0.TYPE/custom", "data": "x"},
        ]
    )
    registry.validate("88.100.1", plain)
    unknown = parse_values([{"index": 2000, "type": "serial", "data": "CNC"}])
    with pytest.raises(InvalidValue, match="value 2000: unknown type 'serial'"):
        registry.validate("88.100.1", unknown)
    _add(engine, registry)
    registry.validate("88.100.1", unknown)  # an item type of the prefix's template
    with pytest.raises(InvalidValue, match="required item 'serial' is missing"):
        registry.validate(
            "88.100.1", parse_values([{"index": 1, "type": "TEMPLATE", "data": "machine@1.0"}])
        )
    with pytest.raises(InvalidValue, match=r"which prefix 88.100.1 does not have"):
        registry.validate(
            "88.100.1", parse_values([{"index": 1, "type": "TEMPLATE", "data": "machine@9"}])
        )


def test_remove_a_version(engine: sa.Engine) -> None:
    registry = TemplateRegistry(engine)
    _add(engine, registry)
    with engine.begin() as conn:
        registry.remove(conn, "88.100.1", "machine@1.0", actor="user:op")
    assert registry.for_prefix("88.100.1") == []
    assert "serial" not in registry.known_types("88.100.1")
    with (
        pytest.raises(core.NotFound, match=r"no template machine@1.0 for prefix 88.100.1"),
        engine.begin() as conn,
    ):
        registry.remove(conn, "88.100.1", "machine@1.0", actor="user:op")


def test_to_json_round_trips_through_the_definition() -> None:
    t = _template()
    shape = t.to_json()
    assert shape["items"][0] == {
        "name": "serial", "type": "string", "index": 2000, "required": True,
        "min_length": 3, "max_length": 8, "pattern": "[A-Z0-9-]+",
    }  # fmt: skip
    assert parse_template("88.100.1", shape) == t
