"""Thing Model problems as a console reader sees them: each in their language
(``model.problem.<reason>`` filled with its params), at a readable place (``测点 temp ›
协议绑定 1 › href`` rather than a JSON path), or next to the form field it is about."""

from __future__ import annotations

import re
from typing import Any

from indunet.core import IndunetError
from indunet.devices import ModelInvalid
from indunet.web.console import model_form
from indunet.web.console.i18n import N_, Translator
from indunet.web.console.model_form import ModelForm

_STEP = re.compile(r"\.([^.\[]+)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]")
_SECTIONS = {
    "properties": N_("model.where.point"),
    "actions": N_("model.where.action"),
    "events": N_("model.where.event"),
}


def readable_path(t: Translator, path: str) -> str:
    """A problem's JSON path for people: ``测点 temp › 协议绑定 1 › href``."""
    steps: list[str | int] = []
    for m in _STEP.finditer(path[1:] if path.startswith("$") else path):
        steps.append(int(m[3]) if m[3] is not None else (m[1] if m[1] is not None else m[2]))
    if not steps:
        return t("model.where.document")
    out: list[str] = []
    i = 0
    while i < len(steps):
        step = steps[i]
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        if step in _SECTIONS and isinstance(nxt, str):
            out.append(t(_SECTIONS[step], name=nxt))
            i += 2
            continue
        if step == "forms" and isinstance(nxt, int):
            out.append(t("model.where.form", n=nxt + 1))
            i += 2
            continue
        if step == "version" and nxt == "model":
            out.append(t("model.where.version"))
            i += 2
            continue
        out.append(f"[{step + 1}]" if isinstance(step, int) else step)
        i += 1
    return " › ".join(out)


def problem_text(t: Translator, problem: dict[str, Any]) -> str:
    """One problem's text from the catalogue (``model.problem.<reason>``), else its message."""
    key = f"model.problem.{problem.get('reason', '')}"
    params = problem.get("params") or {}
    if t.has(key):
        try:
            return t.messages[key].format(**params)
        except (KeyError, IndexError, ValueError):
            pass
    return str(problem.get("message", ""))


def shown_problems(t: Translator, detail: Any) -> list[dict[str, str]]:
    """``ModelInvalid.detail`` as the page lists it: where (readable), the raw path, what."""
    if not isinstance(detail, list):
        return []
    return [
        {
            "where": readable_path(t, str(p.get("path", "$"))),
            "path": str(p.get("path", "$")),
            "text": problem_text(t, p),
        }
        for p in detail
        if isinstance(p, dict)
    ]


def form_problems(
    t: Translator, form: ModelForm, exc: IndunetError | None
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Problems by form field id, and those no field holds (with their readable place)."""
    by_field: dict[str, str] = {}
    general: list[dict[str, str]] = []
    for i in model_form.duplicate_names(form):
        by_field[f"p{i}.name"] = t("model.problem.duplicate_name", name=form.rows[i].name)
    if isinstance(exc, ModelInvalid) and isinstance(exc.detail, list):
        found: dict[str, list[tuple[bool, str]]] = {}
        for p in exc.detail:
            path = str(p.get("path", "$"))
            where = model_form.field_of(path, form)
            text = problem_text(t, p)
            if where is not None:
                found.setdefault(where, []).append((p.get("reason") == "schema", text))
            else:
                general.append({"where": readable_path(t, path), "path": path, "text": text})
        for where, texts in found.items():  # Indunet's own words before the schema's
            own = [text for schema, text in texts if not schema] or [text for _, text in texts]
            by_field[where] = " ".join([by_field[where], *own] if where in by_field else own)
    elif exc is not None:
        general.append({"where": "", "path": "", "text": error_text_of(t, exc)})
    return by_field, general


def error_text_of(t: Translator, exc: IndunetError) -> str:
    """A service error in the reader's language (``error.<reason>``), else its message."""
    key = f"error.{exc.reason}"
    if exc.reason and t.has(key):
        try:
            return t.messages[key].format(**exc.params)
        except (KeyError, IndexError, ValueError):
            pass
    return exc.message
