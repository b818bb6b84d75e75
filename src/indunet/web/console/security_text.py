"""Text the security pages share: an alert's and a case's title in the reader's language.

An alert keeps the English title its rule had when it fired; the pages show the rule's title in
the reader's language when the rule is still loaded (built-in and stored rules carry zh-CN and
English titles), else the stored one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request

from indunet.web.console.i18n import locale_of


def rule_titles(request: Request, state: Any) -> Callable[[str, str], str]:
    """``title(rule_id, stored_title)`` in the language of ``request``."""
    lang = locale_of(request)
    svc = state.services.get("security")
    detection = svc.part("detection") if svc is not None else None
    ruleset = getattr(getattr(detection, "engine", None), "ruleset", None)

    def title(rule_id: str, stored: str) -> str:
        rule = ruleset.get(rule_id) if ruleset is not None else None
        return str(rule.title_in(lang)) if rule is not None else stored

    return title


def case_titles(request: Request, state: Any) -> Callable[[Any], str]:
    """``title(case)`` in the language of ``request``: a case made from an alert keeps its
    rule's title (``title_rule``) and shows it as ``rule_titles`` does; a person's title as
    written. ``case`` is a ``Case`` or a row mapping."""
    rule_title = rule_titles(request, state)

    def title(case: Any) -> str:
        if isinstance(case, dict):
            stored, rule = str(case.get("title") or ""), case.get("title_rule")
        else:
            stored, rule = str(case.title), getattr(case, "title_rule", None)
        return rule_title(str(rule), stored) if rule else stored

    return title
