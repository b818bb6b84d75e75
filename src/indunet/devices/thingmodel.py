"""Reading a W3C WoT Thing Model (JSON) into a ``ThingModel``, reporting every problem found.

A document is first checked against W3C's Thing Model JSON Schema (vendored in ``schema/``),
then against Indunet's rules: a model id and a semantic version, scalar point types, sane
ranges, snake_case names, and protocol forms Indunet can bind (``forms.py``). All problems
are collected and raised together as ``ModelInvalid`` with a JSON path for each, and a
stable ``reason`` with ``params`` (``forms.Problem``) that the console shows in the reader's
language as ``model.problem.<reason>``; ``detail`` holds them as
``{"path", "message", "reason", "params"}``.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

from indunet.core import IndunetError
from indunet.devices.forms import FormReader, Problem, Problems, json_path, overlaps
from indunet.devices.models import Action, DataType, Event, Form, Point, ThingModel

SCHEMA_PATH = Path(__file__).parent / "schema" / "tm-json-schema.json"
MODEL_ID_KEY = "indunet:modelId"
POINT_TYPES: tuple[DataType, ...] = ("number", "integer", "boolean", "string")
_MODEL_ID = re.compile(r"[a-z][a-z0-9-]{0,31}:[a-z0-9][a-z0-9._-]{0,63}\Z")
_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)\Z")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")
_MAX_MESSAGE = 240


class ModelInvalid(IndunetError):
    """A Thing Model breaks the W3C schema or Indunet's rules; ``detail`` lists every problem."""

    code = "model_invalid"
    status = 422


@functools.cache
def _validator() -> Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft7Validator(schema)


def semver_key(version: str) -> tuple[int, int, int]:
    """Sort key of a ``major.minor.patch`` version."""
    major, minor, patch = (int(x) for x in version.split("."))
    return major, minor, patch


def parse_model(doc: Any, *, schema: bool = True) -> ThingModel:
    """Validate a Thing Model document and build its typed view; raise ``ModelInvalid``.

    ``schema=False`` skips the W3C JSON Schema (the slow part, about 0.2 s a model) for
    documents that passed it before, such as those read back from the registry.
    """
    if not isinstance(doc, dict):
        raise invalid([Problem("$", "a Thing Model must be a JSON object", "not_object")])
    problems: Problems = []
    if schema:
        for err in sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.path))):
            message = _short(err.message)
            problems.append(
                Problem(json_path(*err.absolute_path), message, "schema", {"message": message})
            )
    model = _Reader(doc, problems).model()
    if problems:
        raise invalid(problems)
    return model


def problem_dict(p: Problem) -> dict[str, Any]:
    """One problem as ``ModelInvalid.detail`` lists it."""
    return {"path": p.path, "message": p.message, "reason": p.reason, "params": p.params or {}}


def invalid(problems: Problems) -> ModelInvalid:
    """``ModelInvalid`` listing ``problems`` (reason ``model_invalid``, their count)."""
    first = "; ".join(f"{p.path}: {p.message}" for p in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return ModelInvalid(
        f"the Thing Model has {len(problems)} problem(s): {first}{more}",
        detail=[problem_dict(p) for p in problems],
        reason="model_invalid",
        params={"count": len(problems)},
    )


def _short(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"


def titles_of(obj: dict[str, Any]) -> dict[str, str]:
    """``{"zh": ..., "en": ...}`` from ``titles`` (language tags folded to zh/en) and ``title``."""
    out: dict[str, str] = {}
    raw = obj.get("titles")
    if isinstance(raw, dict):
        for lang, text in raw.items():
            if isinstance(text, str):
                key = lang.split("-")[0].lower() if lang.lower().startswith(("zh", "en")) else lang
                out.setdefault(key, text)
    title = obj.get("title")
    if isinstance(title, str):
        out.setdefault("en", title)
    return out


class _Reader:
    """One pass over a document: builds the model and appends problems."""

    def __init__(self, doc: dict[str, Any], problems: Problems) -> None:
        self.doc = doc
        self.problems = problems
        base = doc.get("base")
        self.forms = FormReader(problems, base if isinstance(base, str) else "")

    def problem(self, path: str, message: str, reason: str = "other", **params: Any) -> None:
        self.problems.append(Problem(path, message, reason, params))

    def model(self) -> ThingModel:
        doc = self.doc
        model_id = doc.get(MODEL_ID_KEY)
        if not isinstance(model_id, str) or not _MODEL_ID.match(model_id):
            self.problem(
                json_path(MODEL_ID_KEY),
                "needs a model id like 'acme:press-200': a lowercase namespace, ':', then "
                "lowercase letters, digits, '.', '_' or '-'",
                "model_id",
            )
            model_id = ""
        version = doc.get("version")
        semver = version.get("model") if isinstance(version, dict) else None
        if not isinstance(semver, str) or not _SEMVER.match(semver):
            self.problem(
                json_path("version", "model"),
                'needs a semantic version such as {"model": "1.0.0"} (major.minor.patch)',
                "model_version",
            )
            semver = ""
        self._no_references()
        points = self._points()
        actions = self._actions()
        events = self._events()
        overlaps(self.problems, [(json_path("properties", n), p) for n, p in points.items()])
        return ThingModel(
            id=model_id,
            version=semver,
            title=titles_of(doc),
            points=points,
            actions=actions,
            events=events,
            document=copy.deepcopy(doc),
        )

    def _no_references(self) -> None:
        links = self.doc.get("links")
        if isinstance(links, list):
            for i, link in enumerate(links):
                if isinstance(link, dict) and link.get("rel") == "tm:extends":
                    self.problem(
                        json_path("links", i),
                        "tm:extends is not supported: import the model with its parent merged in",
                        "no_extends",
                    )
        for kind in ("properties", "actions", "events"):
            section = self.doc.get(kind)
            if isinstance(section, dict):
                for name, aff in section.items():
                    if isinstance(aff, dict) and "tm:ref" in aff:
                        self.problem(
                            json_path(kind, name, "tm:ref"),
                            "tm:ref is not supported: copy the referenced definition in",
                            "no_ref",
                        )

    def _section(self, kind: str) -> dict[str, dict[str, Any]]:
        section = self.doc.get(kind)
        if not isinstance(section, dict):
            return {}
        out: dict[str, dict[str, Any]] = {}
        for name, aff in section.items():
            if not _NAME.match(name):
                self.problem(
                    json_path(kind, name),
                    f"name {name!r} must be snake_case: a lowercase letter, then lowercase "
                    "letters, digits or '_' (at most 64)",
                    "name",
                    name=name[:64],
                )
            if isinstance(aff, dict):
                out[name] = aff
        return out

    def _points(self) -> dict[str, Point]:
        points: dict[str, Point] = {}
        for name, prop in self._section("properties").items():
            path = json_path("properties", name)
            raw_type = prop.get("type")
            ptype: DataType = "number"
            if raw_type in POINT_TYPES:
                ptype = raw_type
            else:
                self.problem(
                    json_path("properties", name, "type"),
                    f"a point needs a type of {', '.join(POINT_TYPES)}, not {raw_type!r}",
                    "point_type",
                    value=str(raw_type)[:32],
                )
            minimum, maximum = self._range(path, prop)
            read_only = prop.get("readOnly", False)
            if not isinstance(read_only, bool):
                self.problem(
                    json_path("properties", name, "readOnly"),
                    "must be true or false",
                    "not_boolean",
                )
                read_only = True
            writable = not read_only
            forms = self._forms(path, prop, ptype=ptype, writable=writable, name=name)
            unit = prop.get("unit")
            points[name] = Point(
                name=name,
                type=ptype,
                title=titles_of(prop),
                unit=unit if isinstance(unit, str) else None,
                minimum=minimum,
                maximum=maximum,
                writable=writable,
                forms=forms,
            )
        return points

    def _range(self, path: str, prop: dict[str, Any]) -> tuple[float | None, float | None]:
        def num(key: str) -> float | None:
            v = prop.get(key)
            if v is None:
                return None
            if isinstance(v, bool) or not isinstance(v, int | float):
                self.problem(f"{path}.{key}", "must be a number", "not_number")
                return None
            return float(v)

        minimum, maximum = num("minimum"), num("maximum")
        if minimum is not None and maximum is not None and minimum > maximum:
            self.problem(
                f"{path}.minimum",
                f"minimum {minimum:g} is above maximum {maximum:g}",
                "min_above_max",
                minimum=f"{minimum:g}",
                maximum=f"{maximum:g}",
            )
        return minimum, maximum

    def _forms(
        self, path: str, aff: dict[str, Any], *, ptype: DataType | None, writable: bool, name: str
    ) -> tuple[Form, ...]:
        raw = aff.get("forms")
        if not isinstance(raw, list):
            return ()
        out: list[Form] = []
        for i, form in enumerate(raw):
            if not isinstance(form, dict):
                continue
            parsed = self.forms.read(
                f"{path}.forms[{i}]", form, ptype=ptype, writable=writable, name=name
            )
            if parsed is not None:
                out.append(parsed)
        return tuple(out)

    def _actions(self) -> dict[str, Action]:
        actions: dict[str, Action] = {}
        for name, act in self._section("actions").items():
            path = json_path("actions", name)
            raw_input = act.get("input")
            actions[name] = Action(
                name=name,
                title=titles_of(act),
                input=raw_input if isinstance(raw_input, dict) else None,
                forms=self._forms(path, act, ptype=None, writable=True, name=name),
            )
        return actions

    def _events(self) -> dict[str, Event]:
        events: dict[str, Event] = {}
        for name, ev in self._section("events").items():
            data = ev.get("data")
            events[name] = Event(
                name=name, title=titles_of(ev), data=data if isinstance(data, dict) else None
            )
        return events
