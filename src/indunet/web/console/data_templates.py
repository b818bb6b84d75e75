"""The data template editor (数据模板): list a prefix's templates and publish a new version."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from indunet import ids
from indunet.core import IndunetError, User
from indunet.ids import Template
from indunet.ids.templates import ITEM_TYPES
from indunet.web.auth import template_manager
from indunet.web.console.forms import (
    FormError,
    ItemRow,
    TemplateForm,
    template_definition,
    template_form,
)
from indunet.web.console.i18n import locale_of, translator
from indunet.web.console.identifiers import managed_prefixes
from indunet.web.console.pages import error_text, render
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
BLANK_ITEMS = 3
MAX_PREFIX_TEXT = 128
MAX_REF_TEXT = 100


def t_missing(request: Request, ref: str) -> str:
    """The page's text for a template ``ref`` that is not there to edit."""
    return translator(locale_of(request))("templates.edit_missing", ref=ref[:MAX_REF_TEXT])


def prefix_templates(state: AppState, prefix: str) -> list[Template]:
    """Templates usable under ``prefix`` (its own and its parents'), or none for a bad prefix."""
    try:
        norm = ids.handle.normalise_prefix(ids.handle.validate_prefix(prefix))
    except IndunetError:
        return []
    return state.hierarchy.front.templates.for_prefix(norm)


def publish(state: AppState, user: User, tf: TemplateForm) -> Template:
    """Check ``user`` manages the prefix, validate the definition, and store it."""
    principal = template_manager(state.engine, user, tf.prefix)
    template = ids.parse_template(tf.prefix, template_definition(tf))
    with state.engine.begin() as conn:
        return state.hierarchy.front.templates.add(conn, template, actor=principal.actor)


def _context(state: AppState, user: User, tf: TemplateForm, **extra: object) -> dict[str, object]:
    ctx: dict[str, object] = {
        "form": tf,
        "prefixes": managed_prefixes(state, user),
        "listed": prefix_templates(state, tf.prefix) if tf.prefix else [],
        "item_types": ITEM_TYPES,
    }
    ctx.update(extra)
    return ctx


def _blank(prefix: str) -> TemplateForm:
    return TemplateForm(prefix=prefix, items=[ItemRow() for _ in range(BLANK_ITEMS)])


def _next_version(version: str) -> str:
    """A suggestion for the version after ``version``: its last number plus one (1.0 -> 1.1)."""
    head, dot, last = version.rpartition(".")
    if last.isdigit():
        return f"{head}{dot}{int(last) + 1}"
    return ""


def edit_form(state: AppState, prefix: str, ref: str) -> TemplateForm | None:
    """The form pre-filled from template ``ref`` usable under ``prefix``, for its next version."""
    chosen = next((t for t in prefix_templates(state, prefix) if t.ref == ref), None)
    if chosen is None:
        return None
    return TemplateForm(
        prefix=chosen.prefix,
        name=chosen.name,
        version=_next_version(chosen.version),
        industry_code=chosen.industry_code,
        description=chosen.description,
        items=[ItemRow.of(i) for i in chosen.items] + [ItemRow()],
    )


@router.get("/ids/templates")
def templates_page(
    request: Request, state: StateDep, user: ConsoleUser, prefix: str = "", edit: str = ""
) -> Response:
    """The templates of a prefix and the form for a new version (``edit``: pre-filled from
    the published version ``name@version``)."""
    chosen = prefix.strip()[:MAX_PREFIX_TEXT] or next(iter(managed_prefixes(state, user)), "")
    form = edit_form(state, chosen, edit.strip()[:MAX_REF_TEXT]) if edit.strip() else None
    if edit.strip() and form is None:
        ctx = _context(state, user, _blank(chosen), error=t_missing(request, edit))
        return render(request, "data_templates.html", ctx, status=404)
    return render(request, "data_templates.html", _context(state, user, form or _blank(chosen)))


@router.get("/ids/templates/item")
def item_row(request: Request, user: ConsoleUser) -> Response:
    """HTMX: one more empty item row."""
    return render(request, "_item_rows.html", {"items": [ItemRow()], "item_types": ITEM_TYPES})


@router.post("/ids/templates")
async def create_template(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Publish a template version; errors are shown next to the form and nothing is stored."""
    tf = template_form(await request.form())
    try:
        created = await run_in_threadpool(publish, state, user, tf)
    except (FormError, IndunetError) as exc:
        ctx = await run_in_threadpool(_context, state, user, tf, error=error_text(request, exc))
        return render(request, "data_templates.html", ctx, status=400)
    ctx = await run_in_threadpool(_context, state, user, _blank(tf.prefix), created=created)
    return render(request, "data_templates.html", ctx)
