"""Identifier pages: resolve a handle (with its referral path) and register one from a form."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from indunet import ids
from indunet.core import IndunetError, User
from indunet.ids import Node, Template, TemplateItem, licence, schemekeys
from indunet.web.auth import principal_for_user
from indunet.web.console.forms import FormError, ValueRow, record_values, value_rows
from indunet.web.console.pages import error_text, is_htmx, page_zone, render
from indunet.web.console.session import ConsoleUser, MaybeUser
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)

#: Types offered while typing a value row (secret and site values are not typed by hand).
SUGGESTED_TYPES = ("URL", "DESC", "NAME", "EMAIL", "CHECKSUM", "10320/LOC")
BLANK_ROWS = [ValueRow("1", "URL"), ValueRow("2", "DESC"), ValueRow()]
#: The longest identifier text the pages read (the syntax allows less).
MAX_HANDLE_TEXT = 600


def stamps(request: Request) -> Callable[[str], str]:
    """What turns a value's timestamp (ISO 8601 UTC, as stored) into the page's zone; text
    that is not a timestamp shows as it is."""
    zone = page_zone(request)

    def stamp(text: str) -> str:
        try:
            return zone.clock(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except (TypeError, ValueError):
            return text

    return stamp


def resolving_node(state: AppState) -> Node:
    """The node that resolves anything: the recursive node if this process runs one."""
    return state.hierarchy.nodes.get("recursive") or state.hierarchy.front


def managed_prefixes(state: AppState, user: User) -> list[str]:
    """Prefixes ``user`` may register under (all allocated ones, for a platform admin)."""
    principal = principal_for_user(state.engine, user)
    if principal.is_superuser:
        front = state.hierarchy.front.prefix
        allocated = [a.prefix for a in ids.list_allocations(state.engine)]
        return ([front] if front else []) + allocated
    return sorted(principal.prefixes or ())


def visible_templates(state: AppState, user: User) -> list[Template]:
    """Data templates usable under any prefix ``user`` manages, each once."""
    seen: dict[tuple[str, str], Template] = {}
    for prefix in managed_prefixes(state, user):
        for t in state.hierarchy.front.templates.for_prefix(prefix):
            seen.setdefault((t.prefix, t.ref), t)
    return sorted(seen.values(), key=lambda t: (t.prefix, t.name, t.version))


def template_rows(templates: list[Template], ref: str) -> list[ValueRow]:
    """Form rows for a chosen template: a URL row, then one row per template item."""
    chosen = next((t for t in templates if t.ref == ref), None)
    if chosen is None:
        return list(BLANK_ROWS)
    items = [
        ValueRow(str(i.index), i.name, "", i.required, i.choices, item_hint(i))
        for i in chosen.items
    ]
    return [ValueRow("1", "URL"), *items]


def item_hint(item: TemplateItem) -> str:
    """What a template item's row shows it expects: its title and its range, if any."""
    low = "" if item.minimum is None else f"{item.minimum:g}"
    high = "" if item.maximum is None else f"{item.maximum:g}"
    span = f"{low}–{high}" if low or high else ""
    return " · ".join(x for x in (item.title, span) if x)


def write_record(state: AppState, user: User, handle: str, values: list[dict[str, object]]) -> str:
    """Create or replace ``handle`` on the front node as ``user``; return its spelling."""
    principal = principal_for_user(state.engine, user)
    written, _created = state.hierarchy.front.put(handle, values, principal)
    return written


@router.get("/ids/resolve")
async def resolve_page(
    request: Request, state: StateDep, user: MaybeUser, handle: str = ""
) -> Response:
    """Resolve ``handle`` recursively; HTMX gets only the answer, a browser the whole page."""
    answer, error, said = None, None, None
    handle = handle[:MAX_HANDLE_TEXT]
    text = handle.strip()
    if text:
        node = resolving_node(state)
        s = state.settings
        try:
            text = schemekeys.handle_of(text, s.oid_prefixes, s.ecode_prefixes)  # oid:, ecode:
            node.scheme.target(text)
        except IndunetError as exc:  # what is malformed, in the reader's words
            said = error_text(request, exc)
        try:
            answer = await node.resolve(text, recurse=True)
        except IndunetError as exc:
            error = error_text(request, exc)
        if said is None and answer is not None and answer.reason:  # in the reader's words
            why = IndunetError(answer.message, reason=answer.reason, params=dict(answer.params))
            said = error_text(request, why)
    name = "_answer.html" if is_htmx(request) else "resolve.html"
    ctx = {"handle": handle, "answer": answer, "error": error, "answer_message": said}
    return render(request, name, {**ctx, **licence_context(state), "stamp": stamps(request)})


def licence_context(state: AppState) -> dict[str, object]:
    """What the public page shows of the operator's licence (``ids.licence``)."""
    found = licence.licence_of(state.settings)
    today = licence.today()
    return {
        "licence": found,
        "licence_status": found.status(today) if found else None,
        "licence_left": found.days_left(today) if found else None,
    }


def _register_context(state: AppState, user: User, **extra: object) -> dict[str, object]:
    templates = visible_templates(state, user)
    types = {*SUGGESTED_TYPES, *(i.name for t in templates for i in t.items)}
    ctx: dict[str, object] = {
        "templates": templates,
        "type_choices": sorted(types),
        "prefixes": managed_prefixes(state, user),
        "handle": "",
        "template": "",
        "rows": list(BLANK_ROWS),
    }
    ctx.update(extra)
    rows, ref = ctx["rows"], ctx["template"]
    if isinstance(rows, list) and isinstance(ref, str) and ref:
        ctx["rows"] = hinted(rows, templates, ref)
    return ctx


def hinted(rows: list[ValueRow], templates: list[Template], ref: str) -> list[ValueRow]:
    """``rows`` as typed, those of template ``ref``'s items with the item's choices and hint
    again (a refused form comes back as it was typed, and as helpful as it was)."""
    chosen = next((t for t in templates if t.ref == ref), None)
    items = {i.name: i for i in chosen.items} if chosen else {}
    out = []
    for row in rows:
        item = items.get(row.type.strip())
        if item is not None:
            row = replace(row, required=item.required, choices=item.choices, hint=item_hint(item))
        out.append(row)
    return out


@router.get("/ids/register")
def register_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The registration form."""
    return render(request, "register.html", _register_context(state, user))


@router.get("/ids/register/rows")
def register_rows(
    request: Request, state: StateDep, user: ConsoleUser, template: str = "", add: bool = False
) -> Response:
    """HTMX: the value rows for a chosen template, or (``add``) one more empty row."""
    rows = [ValueRow()] if add else template_rows(visible_templates(state, user), template)
    return render(request, "_value_rows.html", {"rows": rows})


@router.post("/ids/register")
async def register(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Write the record; on any error show it next to the form and write nothing."""
    form = await request.form()
    handle = str(form.get("handle", "")).strip()
    template = str(form.get("template", "")).strip()
    rows = value_rows(form)
    try:
        values = record_values(rows, template)
        written = await run_in_threadpool(write_record, state, user, handle, values)
    except (FormError, IndunetError) as exc:
        ctx = await run_in_threadpool(
            _register_context,
            state,
            user,
            handle=handle,
            template=template,
            rows=rows or list(BLANK_ROWS),
        )
        ctx["error"] = error_text(request, exc)
        return render(request, "register.html", ctx, status=400)
    ctx = await run_in_threadpool(
        _register_context, state, user, written=written, template=template
    )
    if template:
        known = await run_in_threadpool(visible_templates, state, user)
        ctx["rows"] = template_rows(known, template)
    return render(request, "register.html", ctx)
