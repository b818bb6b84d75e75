"""Grading rule tables (分类分级规则表): data, not code, by edition.

A table names, for each enterprise type (``industrial`` 联网工业企业, ``platform`` 平台企业,
``identifier`` 标识解析企业), its factors; each factor has options, each option points and,
optionally, a level it sets at least (a decisive factor: a designated critical information
infrastructure is level 3 whatever its points). The level is the highest whose ``min`` the
sum of points reaches, raised to any decisive option's level. The table also says what each
level obliges (``obligations``): the protection checklist and its days, the months between
conformity evaluations and between risk assessments (0: none required).

The shipped edition (``rules/2024-68-v1.json``) is Indunet's reading of MIIT's 《工业互联网
企业网络安全分类分级管理办法》(工信部网安〔2024〕68号) and the 2020 guide; a national or
provincial instance may publish another (``check`` validates it) that flows down to its
children (docs/regulation/grading.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from indunet.core.errors import InvalidInput

TYPES = ("industrial", "platform", "identifier")
LEVELS = (1, 2, 3)
SHIPPED = Path(__file__).parent / "rules" / "2024-68-v1.json"
MAX_TABLE_BYTES = 128 * 1024
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.")


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, reason="regulation_rules", params={"problem": message})


def _id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 40 or not set(value) <= _ID_CHARS:
        raise _refuse(f"{what} must be 1 to 40 characters of a-z 0-9 _ - .")
    return value


def _label(value: Any, what: str) -> dict[str, str]:
    if (
        not isinstance(value, dict)
        or not {"zh-CN", "en"} <= set(value)
        or not all(isinstance(v, str) and 0 < len(v) <= 300 for v in value.values())
    ):
        raise _refuse(f"{what} needs zh-CN and en texts of 1 to 300 characters")
    return {"zh-CN": value["zh-CN"], "en": value["en"]}


def _int(value: Any, what: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _refuse(f"{what} must be a whole number from {low} to {high}")
    return value


def check(table: Any) -> dict[str, Any]:
    """The table, validated (every field named, every number bounded); else 400
    ``regulation_rules`` naming the first problem."""
    if not isinstance(table, dict):
        raise _refuse("a rule table is a JSON object")
    _id(table.get("edition"), "edition")
    _label(table.get("title"), "title")
    types = table.get("types")
    if not isinstance(types, dict) or set(types) != set(TYPES):
        raise _refuse(f"types must be exactly {', '.join(TYPES)}")
    for name, spec in types.items():
        if not isinstance(spec, dict):
            raise _refuse(f"type {name} is an object")
        _label(spec.get("title"), f"type {name}'s title")
        factors = spec.get("factors")
        if not isinstance(factors, list) or not 0 < len(factors) <= 30:
            raise _refuse(f"type {name} has 1 to 30 factors")
        seen: set[str] = set()
        for f in factors:
            if not isinstance(f, dict):
                raise _refuse(f"a factor of {name} is an object")
            fid = _id(f.get("id"), f"a factor id of {name}")
            if fid in seen:
                raise _refuse(f"factor {fid} of {name} appears twice")
            seen.add(fid)
            _label(f.get("title"), f"factor {fid}'s title")
            options = f.get("options")
            if not isinstance(options, list) or not 1 < len(options) <= 12:
                raise _refuse(f"factor {fid} of {name} has 2 to 12 options")
            values: set[str] = set()
            for o in options:
                if not isinstance(o, dict):
                    raise _refuse(f"an option of {fid} is an object")
                values.add(_id(o.get("value"), f"an option of {fid}"))
                _label(o.get("label"), f"option {o.get('value')} of {fid}")
                _int(o.get("points"), f"points of {fid}={o.get('value')}", 0, 1000)
                if "level" in o:
                    _int(o["level"], f"level of {fid}={o.get('value')}", 1, 3)
            if len(values) != len(options):
                raise _refuse(f"factor {fid} of {name} repeats an option")
        levels = spec.get("levels")
        if not isinstance(levels, list) or sorted(
            _int(x.get("level") if isinstance(x, dict) else None, "a level", 1, 3) for x in levels
        ) != list(LEVELS):
            raise _refuse(f"type {name} gives a minimum for each of the levels 1, 2, 3")
        for x in levels:
            _int(x.get("min"), f"minimum of level {x['level']}", 0, 100_000)
    duties = table.get("obligations")
    if not isinstance(duties, dict) or set(duties) != {"1", "2", "3"}:
        raise _refuse('obligations are given for the levels "1", "2" and "3"')
    for lv, d in duties.items():
        if not isinstance(d, dict):
            raise _refuse(f"obligations of level {lv} are an object")
        _int(d.get("evaluation_months"), f"evaluation_months of level {lv}", 0, 120)
        _int(d.get("risk_assessment_months"), f"risk_assessment_months of level {lv}", 0, 120)
        _int(d.get("protection_days"), f"protection_days of level {lv}", 1, 3650)
        items = d.get("protection")
        if not isinstance(items, list) or len(items) > 100:
            raise _refuse(f"protection of level {lv} is a list of at most 100 items")
        for it in items:
            if not isinstance(it, dict):
                raise _refuse(f"a protection item of level {lv} is an object")
            _id(it.get("id"), f"a protection item id of level {lv}")
            _label(it.get("title"), f"protection item {it.get('id')} of level {lv}")
    return table


def parse(text: str | bytes) -> dict[str, Any]:
    """A table from JSON text, bounded and validated."""
    if len(text) > MAX_TABLE_BYTES:
        raise _refuse(f"a rule table has at most {MAX_TABLE_BYTES:,} bytes")
    try:
        return check(orjson.loads(text))
    except orjson.JSONDecodeError as exc:
        raise _refuse(f"not JSON: {exc}") from None


@functools.cache
def shipped() -> dict[str, Any]:
    """The edition that ships with Indunet."""
    return parse(SHIPPED.read_bytes())


@dataclass(frozen=True, slots=True)
class Scoring:
    """A proposed level and how it was reached."""

    points: int
    level: int
    lines: tuple[dict[str, Any], ...]  # factor, value, points, level set (if any)
    decisive: str | None  # the factor whose option set the level, if one did

    def as_dict(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "level": self.level,
            "lines": list(self.lines),
            "decisive": self.decisive,
        }


def score(table: dict[str, Any], etype: str, answers: Any) -> Scoring:
    """Score a self-assessment: every factor of ``etype`` answered with one of its options,
    nothing else; else 400 ``regulation_answer`` naming the factor."""
    if etype not in TYPES:
        raise InvalidInput(
            f"enterprise type must be one of {', '.join(TYPES)}",
            reason="regulation_type",
            params={"types": ", ".join(TYPES)},
        )
    spec = table["types"][etype]
    if not isinstance(answers, dict):
        raise InvalidInput("answers are an object: factor → option", reason="regulation_answers")
    factors = {f["id"]: f for f in spec["factors"]}
    for fid in answers:
        if fid not in factors:
            raise InvalidInput(
                f"{str(fid)[:40]!r} is no factor of {etype} in edition {table['edition']}",
                reason="regulation_answer",
                params={"factor": str(fid)[:40]},
            )
    points, floor, decisive, lines = 0, 1, None, []
    for fid, f in factors.items():
        value = answers.get(fid)
        option = next((o for o in f["options"] if o["value"] == value), None)
        if option is None:
            raise InvalidInput(
                f"factor {fid} is answered with one of "
                + ", ".join(o["value"] for o in f["options"]),
                reason="regulation_answer",
                params={"factor": fid},
            )
        points += option["points"]
        line = {"factor": fid, "value": value, "points": option["points"]}
        if "level" in option:
            line["level"] = option["level"]
            if option["level"] > floor:
                floor, decisive = option["level"], fid
        lines.append(line)
    by_points = max(x["level"] for x in spec["levels"] if points >= x["min"])
    level = max(by_points, floor)
    return Scoring(points, level, tuple(lines), decisive if floor > by_points else None)


def duties(table: dict[str, Any], level: int) -> dict[str, Any]:
    """What ``level`` obliges under ``table``."""
    return dict(table["obligations"][str(level)])
