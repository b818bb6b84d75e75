"""Identifier records of a prefix: browse and search with paging, open one to edit it
pre-filled, delete it after a confirmation, and the history of its changes.

Who sees what follows ``core.access``: a prefix belongs to the enterprise it was allocated to
(the node's own prefix to no enterprise, so overseers only), and another tenant's prefix or
identifier is not found (404). Changes go through the node as the user's principal, after
``access.check_change`` (enterprise users may change their enterprise's identifiers, as they
may register them; regulators only read).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from indunet import ids
from indunet.core import IndunetError, NotFound, User, access
from indunet.ids import HandleValue
from indunet.ids.values import TEMPLATE_TYPE
from indunet.web.auth import principal_for_user
from indunet.web.console.forms import FormError, ValueRow, record_values, value_rows
from indunet.web.console.identifiers import hinted, stamps, visible_templates
from indunet.web.console.pages import error_text, render
from indunet.web.console.paging import PageOf, link, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.console.vlistform import (
    VlistRow,
    edited,
    vlist_edit_rows,
    vlist_rows,
    vlist_values,
)
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)

#: The longest identifier text the pages read from a query or form (the syntax allows less).
MAX_HANDLE_TEXT = 600
SECKEY = "HS_SECKEY"


@dataclass(frozen=True, slots=True)
class Owned:
    """A prefix as the user may see it: normalised, and the enterprise it belongs to."""

    prefix: str
    enterprise_id: int | None


def visible_prefixes(state: AppState, user: User) -> list[Owned]:
    """The prefixes whose identifiers ``user`` may see: overseers all (the allocated ones
    first, the node's own last), others their enterprise's."""
    if access.sees_all(user):
        front = state.hierarchy.front.prefix
        own = [Owned(front, None)] if front else []
        return [Owned(a.prefix, a.enterprise_id) for a in ids.list_allocations(state.engine)] + own
    if user.enterprise_id is None:
        return []
    mine = ids.list_allocations(state.engine, enterprise_id=user.enterprise_id)
    return [Owned(a.prefix, a.enterprise_id) for a in mine]


def owner_of(state: AppState, user: User, prefix: str) -> Owned:
    """The visible prefix ``prefix`` lies under (the nearest), or ``NotFound`` for a prefix
    that is malformed, unknown or another tenant's."""
    try:
        norm = ids.handle.normalise_prefix(ids.handle.validate_prefix(prefix))
    except IndunetError:
        norm = ""
    under = [
        o for o in visible_prefixes(state, user) if norm and ids.handle.is_under(norm, o.prefix)
    ]
    if not under:
        raise NotFound(
            f"no prefix {prefix[:128]}", reason="handles_no_prefix", params={"prefix": prefix[:128]}
        )
    best = max(under, key=lambda o: len(o.prefix))
    access.check_see(user, best.enterprise_id, f"prefix {norm}")
    return Owned(norm, best.enterprise_id)


def _handle(text: str) -> ids.handle.Handle:
    """The identifier named by a query or form field (malformed: not found)."""
    try:
        return ids.handle.parse(text.strip()[:MAX_HANDLE_TEXT])
    except IndunetError:
        raise NotFound(
            "no such identifier", reason="handles_no_handle", params={"handle": text[:100]}
        ) from None


def seen_handle(state: AppState, user: User, text: str) -> tuple[ids.handle.Handle, Owned]:
    """The identifier ``text`` and its prefix, if ``user`` may see that prefix."""
    h = _handle(text)
    return h, owner_of(state, user, h.prefix)


def _may_change(user: User, owned: Owned) -> bool:
    return access.can_change(user, owned.enterprise_id, users_too=True)


# -- the list ---------------------------------------------------------------------------------


def _list_context(state: AppState, user: User, request: Request, prefix: str) -> dict[str, Any]:
    prefixes = visible_prefixes(state, user)
    chosen = prefix.strip() or (prefixes[0].prefix if prefixes else "")
    paging = paging_of(request, sorts=("handle",), default_sort="handle")
    ctx: dict[str, Any] = {"prefixes": [o.prefix for o in prefixes], "prefix": chosen}
    if chosen:
        owned = owner_of(state, user, chosen)
        total, rows = state.hierarchy.front.browse(
            owned.prefix,
            search=paging.q,
            offset=paging.offset,
            limit=paging.limit,
            desc=paging.desc,
        )
        ctx.update(prefix=owned.prefix, listed=PageOf(rows, total, paging))
    return ctx


@router.get("/ids/handles")
def handles_page(
    request: Request, state: StateDep, user: ConsoleUser, prefix: str = "", deleted: str = ""
) -> Response:
    """The identifiers of one prefix the user may see, searched by suffix, a page at a time
    (without a prefix: the first the user may see, named in the address so links keep it)."""
    if not prefix.strip():
        first = next(iter(visible_prefixes(state, user)), None)
        if first is not None:
            return RedirectResponse(link(request, prefix=first.prefix), status_code=303)
    try:
        ctx = _list_context(state, user, request, prefix[:MAX_HANDLE_TEXT])
        ctx["deleted"] = _gone(state, user, deleted[:MAX_HANDLE_TEXT])
    except NotFound as exc:
        return _missing(request, exc)
    return render(request, "handles.html", ctx)


def _gone(state: AppState, user: User, text: str) -> str:
    """``text`` if it names an identifier the user may see that is no longer registered (the
    delete form leads to the list with it), else nothing."""
    if not text:
        return ""
    try:
        h, _ = seen_handle(state, user, text)
    except NotFound:
        return ""
    return h.text if state.hierarchy.front.record(h.text) is None else ""


def _missing(request: Request, exc: IndunetError) -> Response:
    return render(request, "handle_missing.html", {"error": error_text(request, exc)}, status=404)


# -- one identifier: its values and history ----------------------------------------------------


def _record_context(state: AppState, user: User, request: Request, text: str) -> dict[str, Any]:
    h, owned = seen_handle(state, user, text)
    node = state.hierarchy.front
    rec = node.record(h.text)
    paging = paging_of(request)
    total, changes = node.history(h.text, offset=paging.offset, limit=paging.limit)
    if rec is None and total == 0:
        raise NotFound(
            f"handle {h.text} is not registered",
            reason="handle_not_registered",
            params={"handle": h.text},
        )
    values = sorted((v for v in rec.values if v.public_read), key=lambda v: v.index) if rec else []
    return {
        "handle": rec.handle if rec else h.text,
        "prefix": owned.prefix,
        "record": rec,
        "values": values,
        "changes": PageOf(changes, total, paging),
        "may_change": rec is not None and _may_change(user, owned),
        "stored_value": stored_value,
        "stamp": stamps(request),
    }


def stored_value(raw: dict[str, Any]) -> HandleValue | None:
    """A value kept in the history (REST shape) as a ``HandleValue`` to show (or ``None``)."""
    try:
        return HandleValue.from_stored(raw)
    except (KeyError, TypeError):
        return None


@router.get("/ids/handles/record")
def record_page(
    request: Request, state: StateDep, user: ConsoleUser, handle: str = "", saved: str = ""
) -> Response:
    """One identifier: its values, what may be done with it, and its history of changes
    (``saved``: say that an edit was saved, as the edit form leads here)."""
    try:
        ctx = _record_context(state, user, request, handle)
    except NotFound as exc:
        return _missing(request, exc)
    ctx["saved"] = saved == "1" and ctx["record"] is not None
    return render(request, "handle.html", ctx)


# -- editing ------------------------------------------------------------------------------------


def editable(v: HandleValue) -> bool:
    """Whether a value is edited as a text row (others are kept as they are)."""
    return v.format == "string" and v.type != SECKEY and v.public_read


def edit_rows(values: list[HandleValue]) -> list[ValueRow]:
    """The register form's rows for a record's text values, plus one empty row."""
    rows = [ValueRow(str(v.index), v.type, str(v.value)) for v in values if editable(v)]
    return [*sorted(rows, key=lambda r: int(r.index)), ValueRow()]


def kept_values(values: list[HandleValue], *, groups_too: bool = True) -> list[dict[str, Any]]:
    """The values an edit keeps unchanged (admin, site, secret, binary, and the admin groups
    unless the edit gives them), in the API's shape."""
    return [
        v.to_json(with_permissions=True)
        for v in values
        if not editable(v) and (groups_too or not edited(v))
    ]


def save_edit(
    state: AppState,
    user: User,
    text: str,
    rows: list[ValueRow],
    groups: list[VlistRow] | None = None,
) -> str:
    """Replace the text values of ``text`` by ``rows`` and, when ``groups`` is given, its
    admin groups (HS_VLIST) by those rows, keeping its other values, as ``user``."""
    h, owned = seen_handle(state, user, text)
    access.check_change(user, owned.enterprise_id, f"identifier {h.text}", users_too=True)
    node = state.hierarchy.front
    rec = node.record(h.text)
    if rec is None:
        raise NotFound(
            f"handle {h.text} is not registered",
            reason="handle_not_registered",
            params={"handle": h.text},
        )
    old = {(v.index, v.type): v for v in rec.values}
    group_values = vlist_values(groups) if groups is not None else []
    try:
        values = record_values(rows, "") + group_values
    except FormError as exc:  # a group record may hold no text value
        if exc.key != "form.no_values" or not group_values:
            raise
        values = group_values
    for v in values:  # a row left as it was keeps its time to live, permissions, references
        before = old.get((v["index"], v["type"]))
        if before is not None and before.format == v["data"].get("format", "string"):
            kept = before.to_json(with_permissions=True)
            v.update({k: kept[k] for k in ("ttl", "permissions", "references") if k in kept})
    others = kept_values(rec.values, groups_too=groups is None)
    written, _ = node.put(rec.handle, [*values, *others], principal_for_user(state.engine, user))
    return written


def _edit_context(state: AppState, user: User, text: str) -> dict[str, Any]:
    h, owned = seen_handle(state, user, text)
    access.check_change(user, owned.enterprise_id, f"identifier {h.text}", users_too=True)
    rec = state.hierarchy.front.record(h.text)
    if rec is None:
        raise NotFound(
            f"handle {h.text} is not registered",
            reason="handle_not_registered",
            params={"handle": h.text},
        )
    kept = sorted(
        (v for v in rec.values if not editable(v) and not edited(v) and v.public_read),
        key=lambda v: v.index,
    )
    ref = next((str(v.value) for v in rec.values if v.type == TEMPLATE_TYPE), "")
    templates = visible_templates(state, user) if ref else []
    return {
        "handle": rec.handle,
        "prefix": owned.prefix,
        "template": ref,
        "templates": templates,
        "rows": hinted(edit_rows(rec.values), templates, ref),
        "groups": vlist_edit_rows(rec.values),
        "kept": kept,
    }


@router.get("/ids/handles/edit")
def edit_page(request: Request, state: StateDep, user: ConsoleUser, handle: str = "") -> Response:
    """The register form's value rows, pre-filled with the identifier's text values."""
    try:
        ctx = _edit_context(state, user, handle)
    except NotFound as exc:
        return _missing(request, exc)
    except IndunetError as exc:
        return render(
            request, "handle_missing.html", {"error": error_text(request, exc)}, status=exc.status
        )
    return render(request, "handle_edit.html", ctx)


@router.post("/ids/handles/edit")
async def edit(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Save the edited values; on an error show it next to the form and change nothing."""
    form = await request.form()
    text = str(form.get("handle", ""))[:MAX_HANDLE_TEXT]
    rows = value_rows(form)
    groups = vlist_rows(form)
    try:
        written = await run_in_threadpool(save_edit, state, user, text, rows, groups)
    except NotFound as exc:
        return _missing(request, exc)
    except (FormError, IndunetError) as exc:
        try:
            ctx = await run_in_threadpool(_edit_context, state, user, text)
        except IndunetError as again:
            return render(
                request,
                "handle_missing.html",
                {"error": error_text(request, again)},
                status=again.status,
            )
        ctx.update(rows=rows or ctx["rows"], groups=groups or ctx["groups"])
        ctx["error"] = error_text(request, exc)
        ctx["rows"] = hinted(ctx["rows"], ctx["templates"], ctx["template"])
        return render(request, "handle_edit.html", ctx, status=getattr(exc, "status", 400))
    return RedirectResponse(
        f"/ids/handles/record?{urlencode({'handle': written, 'saved': '1'})}", status_code=303
    )


# -- deleting -----------------------------------------------------------------------------------


@router.get("/ids/handles/delete")
def delete_page(request: Request, state: StateDep, user: ConsoleUser, handle: str = "") -> Response:
    """Ask before deleting: the identifier, its values, and a button that posts the delete."""
    try:
        ctx = _record_context(state, user, request, handle)
    except NotFound as exc:
        return _missing(request, exc)
    if ctx["record"] is None:
        return _missing(
            request,
            NotFound("gone", reason="handle_not_registered", params={"handle": ctx["handle"]}),
        )
    return render(request, "handle_delete.html", ctx)


def delete_record(state: AppState, user: User, text: str) -> tuple[str, str]:
    """Delete identifier ``text`` as ``user``; return its spelling and its prefix."""
    h, owned = seen_handle(state, user, text)
    access.check_change(user, owned.enterprise_id, f"identifier {h.text}", users_too=True)
    gone = state.hierarchy.front.delete(h.text, principal_for_user(state.engine, user))
    return gone, owned.prefix


@router.post("/ids/handles/delete")
async def delete(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Delete after the confirmation; back to the prefix's list, which says what was deleted."""
    form = await request.form()
    text = str(form.get("handle", ""))[:MAX_HANDLE_TEXT]
    try:
        gone, prefix = await run_in_threadpool(delete_record, state, user, text)
    except NotFound as exc:
        return _missing(request, exc)
    except IndunetError as exc:
        ctx = await run_in_threadpool(_record_context, state, user, request, text)
        ctx["error"] = error_text(request, exc)
        return render(request, "handle_delete.html", ctx, status=exc.status)
    query = urlencode({"prefix": prefix, "deleted": gone})
    return RedirectResponse(f"/ids/handles?{query}", status_code=303)
