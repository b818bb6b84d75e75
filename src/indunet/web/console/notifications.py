"""Notification pages: channels (create, test-send, delete; secrets never shown back),
subscription rules (create, edit, delete) and the delivery log (search, filters, paging).

The ``notify`` service decides who may see and change what (``core.access``: another
tenant's channel or rule is not found); these routes parse forms, call it in worker threads
and render its answers, refusals in the reader's language.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from indunet import notify
from indunet.core import IndunetError, InvalidInput, Role, User
from indunet.notify.channels.dingtalk import MSGTYPES as DINGTALK_TYPES
from indunet.notify.channels.email import SECURITY
from indunet.notify.channels.feishu import MSGTYPES as FEISHU_TYPES
from indunet.notify.channels.wecom import MSGTYPES as WECOM_TYPES
from indunet.web.console import fleet
from indunet.web.console.i18n import Translator, locale_of, translator
from indunet.web.console.pages import error_text, page_zone, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import PathId, StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
BASE = "/platform/notifications"
#: Message formats each bot offers, for the channel form.
MSGTYPES = {"wecom": WECOM_TYPES, "dingtalk": DINGTALK_TYPES, "feishu": FEISHU_TYPES}
#: The longest text a channel form field may hold.
MAX_FORM_FIELD = 5000
#: Fields of a refused channel form shown again (never a secret or a URL), and how much of each.
SHOWN_FIELDS = ("name", "kind", "host", "port", "security", "username", "sender", "to")
MAX_SHOWN = 500


def dispatcher_of(state: AppState) -> notify.Dispatcher:
    """The notify subsystem's service, or the platform pages' "not running here" answer."""
    dispatcher = state.services.get("notify")
    if not isinstance(dispatcher, notify.Dispatcher):
        raise fleet.NoPlatform()
    return dispatcher


def service(state: AppState) -> notify.Notifications:
    """The notify subsystem's store (channels, rules, the delivery log)."""
    return dispatcher_of(state).store


def may_manage(user: User) -> bool:
    """Whether channel forms are offered (the service checks again)."""
    return user.role in (Role.PLATFORM_ADMIN, Role.ENTERPRISE_ADMIN)


def _fields(form: FormData, names: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in names:
        value = form.get(name)
        text = value if isinstance(value, str) else ""
        if len(text) > MAX_FORM_FIELD:
            raise InvalidInput(
                f"{name} is too long",
                reason="notify_field_long",
                params={"field": name, "limit": MAX_FORM_FIELD},
            )
        out[name] = text
    return out


def _enterprise(form: FormData, user: User) -> int | None:
    text = str(form.get("enterprise_id") or "").strip()
    if user.role != Role.PLATFORM_ADMIN or not text:
        return None if user.role == Role.PLATFORM_ADMIN else user.enterprise_id
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput("choose an enterprise", reason="notify_bad_enterprise", params={})
    return int(text)


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 18 else None


# --- channels ---------------------------------------------------------------------------------


def _channels_context(state: AppState, user: User, request: Request) -> dict[str, Any]:
    store = service(state)
    paging = paging_of(request)
    kind = request.query_params.get("kind", "")
    kind = kind if kind in notify.KINDS else ""
    items, total = store.channels(
        user, q=paging.q, kind=kind, offset=paging.offset, limit=paging.limit
    )
    names = fleet.enterprise_names(state, user, [c.enterprise_id for c in items])
    return {
        "tab": "channels",
        "result": PageOf(items, total, paging),
        "kind": kind,
        "kinds": tuple(notify.KINDS),
        "msgtypes": MSGTYPES,
        "securities": SECURITY,
        "may_manage": may_manage(user),
        "names": names,
        "enterprise_choices": names if user.role == Role.PLATFORM_ADMIN else {},
        "form": {},
    }


#: The delivery of the last test send, read once by the channels page after the redirect.
TESTED_COOKIE = "notify_tested"


@router.get(BASE)
def channels_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The channels of the user's enterprise (all, for overseers), with the create form and,
    once after a test send (the ``TESTED_COOKIE`` names its delivery), whether it went out."""
    ctx = _channels_context(state, user, request)
    tested = _int(request.cookies.get(TESTED_COOKIE))
    delivery = service(state).delivery(user, tested) if tested is not None else None
    if delivery is not None and delivery.kind == "test":
        t = translator(locale_of(request))
        if delivery.status == "sent":
            ctx["tested"] = delivery.channel_name
        else:
            why = failure_text(t, delivery)
            ctx["test_failed"] = t("notify.test_failed", name=delivery.channel_name, why=why)
    response = render(request, "notifications.html", ctx)
    if tested is not None:
        response.delete_cookie(TESTED_COOKIE, path=BASE)  # shown once: a reload does not
    return response


@router.post(f"{BASE}/channels")
async def create_channel(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Create a channel; a refusal shows the form again with what was typed (not secrets)."""
    store = service(state)
    form = await request.form()
    kind = str(form.get("kind") or "")
    try:
        fields = _fields(
            form, ("name", "kind", *notify.KINDS.get(kind, notify.KINDS["webhook"]).fields)
        )
        enterprise = _enterprise(form, user)
        await run_in_threadpool(
            store.create_channel, user, enterprise, fields["name"], kind, fields
        )
    except IndunetError as exc:
        ctx = await run_in_threadpool(_channels_context, state, user, request)
        shown = {k: str(form.get(k) or "")[:MAX_SHOWN] for k in SHOWN_FIELDS}
        ctx |= {"error": error_text(request, exc), "form": shown}
        return render(request, "notifications.html", ctx, status=exc.status)
    return RedirectResponse(f"{BASE}?made=1", status_code=303)


@router.post(f"{BASE}/channels/{{channel_id}}/test")
async def test_channel(
    request: Request, state: StateDep, user: ConsoleUser, channel_id: PathId
) -> Response:
    """Send a test message now, then redirect to the channels page, which shows once whether
    it went out (or why not, from its row of the delivery log): a reload sends nothing."""
    store = service(state)
    try:
        await run_in_threadpool(store.changeable_channel, user, channel_id)
    except IndunetError as exc:
        ctx = await run_in_threadpool(_channels_context, state, user, request)
        return render(
            request,
            "notifications.html",
            ctx | {"error": error_text(request, exc)},
            status=exc.status,
        )
    delivery = await notify.send_test(store, channel_id, locale_of(request))
    response = RedirectResponse(BASE, status_code=303)
    response.set_cookie(
        TESTED_COOKIE, str(delivery), max_age=300, path=BASE, httponly=True, samesite="lax"
    )
    return response


def failure_text(t: Translator, delivery: notify.Delivery) -> str:
    """Why ``delivery`` failed in the reader's language (its English text for rows logged
    before reasons were kept, or a reason this catalogue lacks)."""
    key = f"error.{delivery.reason}"
    if delivery.reason and t.has(key):
        return t(key, **(delivery.params or {}))
    return delivery.error or ""


# --- rules ------------------------------------------------------------------------------------


def _rule_form(form: FormData) -> dict[str, object]:
    kinds = [k for k in form.getlist("kinds") if isinstance(k, str)][: len(notify.EVENT_KINDS)]
    fields: dict[str, object] = dict(
        _fields(
            form,
            (
                "name",
                "devices_mode",
                "devices",
                "min_severity",
                "quiet_start",
                "quiet_end",
                "zone",
                "lang",
                "enabled",
            ),
        )
    )
    fields["kinds"] = kinds
    return fields


def _rules_context(
    state: AppState, user: User, request: Request, editing: notify.Rule | None = None
) -> dict[str, Any]:
    store = service(state)
    paging = paging_of(request)
    items, total = store.rules(user, q=paging.q, offset=paging.offset, limit=paging.limit)
    channels, _ = store.channels(user, limit=500)
    return {
        "tab": "rules",
        "result": PageOf(items, total, paging),
        "channels": channels,
        "editing": editing,
        "event_kinds": notify.EVENT_KINDS,
        "severities": notify.SEVERITIES,
        "device_modes": notify.DEVICE_MODES,
        "languages": notify.LANGUAGES,
        "default_zone": page_zone(request).name,
        "may_personal": user.role != Role.REGULATOR,
        "may_manage": may_manage(user),
        "user_id": user.id,
        "window": round(dispatcher_of(state).pacing.window),
    }


@router.get(f"{BASE}/rules")
def rules_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Subscription rules with the create form."""
    return render(request, "notifications_rules.html", _rules_context(state, user, request))


@router.get(f"{BASE}/rules/{{notify_rule_id}}")
def rule_page(
    request: Request, state: StateDep, user: ConsoleUser, notify_rule_id: PathId
) -> Response:
    """One rule's edit form, filled in."""
    rule = service(state).rule(user, notify_rule_id)
    return render(
        request, "notifications_rules.html", _rules_context(state, user, request, editing=rule)
    )


async def _save_rule(
    request: Request, state: AppState, user: User, rule_id: int | None
) -> Response:
    store = service(state)
    form = await request.form()
    channel = _int(str(form.get("channel_id") or ""))
    editing = None
    try:
        if rule_id is not None:
            editing = await run_in_threadpool(store.rule, user, rule_id)
        if channel is None:
            raise InvalidInput("choose a channel", reason="notify_no_channel", params={})
        fields = _rule_form(form)
        if rule_id is None:
            personal = form.get("personal") == "1"
            await run_in_threadpool(store.create_rule, user, channel, fields, personal=personal)
        else:
            await run_in_threadpool(store.update_rule, user, rule_id, channel, fields)
    except IndunetError as exc:
        ctx = await run_in_threadpool(_rules_context, state, user, request, editing)
        ctx["error"] = error_text(request, exc)
        return render(request, "notifications_rules.html", ctx, status=exc.status)
    return RedirectResponse(f"{BASE}/rules", status_code=303)


@router.post(f"{BASE}/rules")
async def create_rule(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Create a rule (personal when asked: the user's own subscription)."""
    return await _save_rule(request, state, user, None)


@router.post(f"{BASE}/rules/{{notify_rule_id}}")
async def update_rule(
    request: Request, state: StateDep, user: ConsoleUser, notify_rule_id: PathId
) -> Response:
    """Save a rule's edit form."""
    return await _save_rule(request, state, user, notify_rule_id)


@router.post(f"{BASE}/rules/{{notify_rule_id}}/delete")
def delete_rule(
    request: Request, state: StateDep, user: ConsoleUser, notify_rule_id: PathId
) -> Response:
    """Delete a rule."""
    try:
        service(state).delete_rule(user, notify_rule_id)
    except IndunetError as exc:
        ctx = _rules_context(state, user, request) | {"error": error_text(request, exc)}
        return render(request, "notifications_rules.html", ctx, status=exc.status)
    return RedirectResponse(f"{BASE}/rules", status_code=303)


# --- delivery log -----------------------------------------------------------------------------


@router.get(f"{BASE}/log")
def log_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The delivery log, newest first: search (subject, device, channel), status, event kind
    and channel filters, paging."""
    store = service(state)
    paging = paging_of(request)
    params = request.query_params
    status = params.get("status", "")
    status = status if status in notify.STATUSES else ""
    kind = params.get("kind", "")
    kind = kind if kind in (*notify.EVENT_KINDS, "test") else ""
    channel = _int(params.get("channel_id"))
    if channel is not None:
        store.channel(user, channel)  # another enterprise's channel is not found (404)
    items, total = store.deliveries(
        user,
        q=paging.q,
        status=status,
        kind=kind,
        channel_id=channel,
        offset=paging.offset,
        limit=paging.limit,
    )
    channels, _ = store.channels(user, limit=500)
    ctx = {
        "tab": "log",
        "result": PageOf(items, total, paging),
        "filters": {"status": status, "kind": kind, "channel": channel},
        "statuses": notify.STATUSES,
        "log_kinds": (*notify.EVENT_KINDS, "test"),
        "channels": channels,
        "failure_text": failure_text,
    }
    return render(request, "notifications_log.html", ctx)


# Declared last: route walkers (tests/web/isolation.py) delete a channel after its rules.
@router.post(f"{BASE}/channels/{{channel_id}}/delete")
def delete_channel(
    request: Request, state: StateDep, user: ConsoleUser, channel_id: PathId
) -> Response:
    """Delete a channel and its rules."""
    store = service(state)
    try:
        store.delete_channel(user, channel_id)
    except IndunetError as exc:
        ctx = _channels_context(state, user, request) | {"error": error_text(request, exc)}
        return render(request, "notifications.html", ctx, status=exc.status)
    return RedirectResponse(BASE, status_code=303)
