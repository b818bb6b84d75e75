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
from indunet.web.console.identifiers import managed_prefixes
from indunet.web.console.pages import error_text, render
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
BLANK_ITEMS = 3


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


@router.get("/ids/templates")
def templates_page(
    request: Request, state: StateDep, user: ConsoleUser, prefix: str = ""
) -> Response:
    """The templates of a prefix and the form for a new version."""
    chosen = prefix.strip() or next(iter(managed_prefixes(state, user)), "")
    return render(request, "data_templates.html", _context(state, user, _blank(chosen)))


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
