"""Alarm rule pages: the list (search, device, enabled and severity filters, paged), a form to
create and edit a rule (pre-filled on edit), enabling and disabling, deleting after a
confirmation page, and trying a condition on a device's recent samples without raising
anything, with the expression language's help (operators, functions, the device's points).

The rule engine checks every rule and who may change it (``core.access``: platform admins and
the enterprise's admins); the pages show its refusals in the reader's language.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from indunet.core import IndunetError, InvalidInput, User, access
from indunet.core import enterprises as core_enterprises
from indunet.devices import ThingModel
from indunet.telemetry import RuleEngine, ruletrial
from indunet.telemetry import expr as expressions
from indunet.telemetry import rules as rulespec
from indunet.telemetry.rules import Rule
from indunet.web.console import fleet
from indunet.web.console.alarms import SEVERITY_KEYS
from indunet.web.console.fleet import SEVERITIES
from indunet.web.console.forms import FormError
from indunet.web.console.pages import error_text, is_htmx, render
from indunet.web.console.paging import page_of, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import PathId, StateDep
from indunet.web.platform import Platform
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)

MAX_FIELD = 1000
"""Longest text field read from a form (the engine's own limits are smaller and named)."""
ENABLED_FILTERS = ("", "1", "0")
MAX_CHOICES = 500
"""Most enterprises the rule form offers in a list."""


def _engine(platform: Platform) -> RuleEngine:
    engine: RuleEngine | None = platform.rules
    if engine is None:
        raise fleet.NoPlatform()
    return engine


def _names(state: AppState, ids: list[int]) -> dict[int, str]:
    """Names of the enterprises of one page of rules (not of every enterprise)."""
    with state.engine.connect() as conn:
        return core_enterprises.names_of(conn, ids)


def _choices(state: AppState) -> dict[int, str] | None:
    """Enterprises an overseer picks a model rule's from, by name; ``None`` when there are
    more than ``MAX_CHOICES`` (the form then takes the enterprise's number)."""
    with state.engine.connect() as conn:
        found, total = core_enterprises.page_enterprises(conn, limit=MAX_CHOICES)
    return {e.id: e.name for e in found} if total <= MAX_CHOICES else None


def may_manage(user: User) -> bool:
    """Whether the page offers creating and changing rules (the engine checks again)."""
    return user.role in access.CHANGERS


# -- the list -----------------------------------------------------------------------------


@router.get("/platform/rules")
def rules_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Rules the user may see, searched and filtered, one page at a time."""
    return render(request, "rules.html", _list_context(request, state, user))


def _list_context(request: Request, state: AppState, user: User) -> dict[str, Any]:
    platform = fleet.platform_of(state)
    params = request.query_params
    device = params.get("device", "").strip()[:200]
    severity = params.get("severity", "")
    severity = severity if severity in SEVERITIES else ""
    enabled = params.get("enabled", "")
    enabled = enabled if enabled in ENABLED_FILTERS else ""
    if device and not access.sees_all(user):
        platform.devices.visible(user, device)  # another enterprise's device: not found
    paging = paging_of(request, sorts=("name",), default_sort="name")
    found = _engine(platform).find(
        user,
        device_id=device or None,
        severity=severity or None,
        enabled=None if not enabled else enabled == "1",
        text=paging.q,
    )
    result = page_of(found, paging)
    ctx = {
        "rules": result.items,
        "result": result,
        "paging": paging,
        "filters": {"device": device, "severity": severity, "enabled": enabled},
        "severities": SEVERITIES,
        "severity_keys": SEVERITY_KEYS,
        "may_manage": may_manage(user),
        "enterprises": _names(state, [r.enterprise_id for r in result.items])
        if access.sees_all(user)
        else {},
        "deleted": params.get("deleted") == "1",
    }
    return ctx


# -- trying a condition, and the help beside it --------------------------------------------


def _model_for(platform: Platform, user: User, device_id: str, model_id: str) -> ThingModel | None:
    """The model whose points the help lists: the device's, else the named model's."""
    if device_id:
        platform.devices.visible(user, device_id)
        model: ThingModel | None = platform.devices.model_of(device_id)
        return model
    if model_id:
        found: ThingModel = platform.models.visible(user, model_id)
        return found
    return None


def _help(platform: Platform, user: User, values: dict[str, Any]) -> dict[str, Any]:
    device = values["device_id"] if values.get("target") != "model" else ""
    try:
        model = _model_for(platform, user, device, values.get("model_id", ""))
    except IndunetError:
        model = None
    return {
        "help_model": model,
        "operators": expressions.OPERATORS,
        "functions": expressions.FUNCTIONS,
    }


@router.get("/platform/rules/help")
def rule_help(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """HTMX: the expression help for a device (or a model): operators, functions, points."""
    platform = fleet.platform_of(state)
    params = request.query_params
    values = {
        "target": params.get("target", "device"),
        "device_id": params.get("device_id", "").strip()[:200],
        "model_id": params.get("model_id", "").strip()[:200],
    }
    if values["device_id"] and values["target"] != "model":
        platform.devices.visible(user, values["device_id"])
    return render(request, "_rule_help.html", _help(platform, user, values))


@router.get("/platform/rules/test")
def test_rule(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Try a condition on a device's samples of the last window (``15m``, ``1h``, ``6h``,
    ``24h``): when it would have raised and cleared alarms. Nothing is raised."""
    platform = fleet.platform_of(state)
    params = request.query_params
    device_id = params.get("device_id", "").strip()[:200]
    window = params.get("window", "1h")
    ctx: dict[str, Any] = {"device_id": device_id, "window": window}
    if device_id:
        platform.devices.visible(user, device_id)  # another enterprise's device: not found
    try:
        ctx["trial"] = _trial(platform, user, device_id, window, params)
    except (IndunetError, FormError) as exc:
        ctx["error"] = error_text(request, exc)
        status = exc.status if isinstance(exc, IndunetError) else 400
        return render(request, "_rule_trial.html", ctx, status=200 if is_htmx(request) else status)
    return render(request, "_rule_trial.html", ctx)


def _trial(
    platform: Platform, user: User, device_id: str, window: str, params: Any
) -> ruletrial.Trial:
    if not device_id:
        raise FormError("rules.test.no_device")
    if window not in ruletrial.WINDOWS_MS:
        raise FormError("rules.test.bad_window", window=window[:20])
    device = platform.devices.visible(user, device_id)
    model = platform.devices.model_of(device_id)
    if model is None:
        raise InvalidInput(f"no model for device {device_id}")
    try:
        duration = float(params.get("duration_s") or "0")
    except ValueError:
        raise FormError(
            "rules.form.bad_duration", value=str(params.get("duration_s"))[:50]
        ) from None
    spec = {
        "name": "trial",
        "enterprise_id": device.enterprise_id,
        "device_id": device_id,
        "condition": str(params.get("condition", ""))[:MAX_FIELD],
        "clear_condition": str(params.get("clear_condition", ""))[:MAX_FIELD] or None,
        "duration_s": duration,
    }
    compiled = rulespec.check(spec, model)
    end = fleet.now_ms()
    start = end - ruletrial.WINDOWS_MS[window]
    return ruletrial.replay(platform.store, compiled, device_id, start, end)


# -- the form -----------------------------------------------------------------------------


def _blank() -> dict[str, Any]:
    return {
        "name": "",
        "target": "device",
        "device_id": "",
        "model_id": "",
        "enterprise_id": "",
        "condition": "",
        "clear_condition": "",
        "duration_s": "0",
        "severity": "major",
        "message": "",
        "enabled": True,
    }


def _values_of(rule: Rule) -> dict[str, Any]:
    duration = rule.duration_s
    return {
        "name": rule.name,
        "target": "device" if rule.device_id else "model",
        "device_id": rule.device_id or "",
        "model_id": rule.model_id or "",
        "enterprise_id": str(rule.enterprise_id),
        "condition": rule.condition,
        "clear_condition": rule.clear_condition or "",
        "duration_s": f"{duration:g}",
        "severity": rule.severity.value,
        "message": rule.message,
        "enabled": rule.enabled,
    }


def _values_from(form: FormData) -> dict[str, Any]:
    def text(name: str) -> str:
        return str(form.get(name) or "").strip()[:MAX_FIELD]

    values: dict[str, Any] = {k: text(k) for k in _blank() if k != "enabled"}
    values["target"] = "model" if values["target"] == "model" else "device"
    values["enabled"] = form.get("enabled") == "1"
    return values


def _spec(values: dict[str, Any], user: User, *, creating: bool) -> dict[str, Any]:
    """The engine's fields from the form's values; ``FormError`` for what the form reads."""
    try:
        duration = float(values["duration_s"] or "0")
    except ValueError:
        raise FormError("rules.form.bad_duration", value=values["duration_s"][:50]) from None
    if not math.isfinite(duration):
        raise FormError("rules.form.bad_duration", value=values["duration_s"][:50])
    spec: dict[str, Any] = {
        "name": values["name"],
        "condition": values["condition"],
        "clear_condition": values["clear_condition"] or None,
        "duration_s": duration,
        "severity": values["severity"] or "major",
        "message": values["message"],
        "enabled": values["enabled"],
    }
    if values["target"] == "model":
        spec |= {"model_id": values["model_id"] or None, "device_id": None}
        if creating and values["enterprise_id"]:  # another enterprise's: not found
            try:
                spec["enterprise_id"] = int(values["enterprise_id"])
            except ValueError:
                raise FormError("rules.form.bad_enterprise") from None
    else:
        spec |= {"device_id": values["device_id"] or None, "model_id": None}
    if not spec["model_id" if values["target"] == "model" else "device_id"]:
        raise FormError("rules.form.no_target")
    if creating:
        spec = {k: v for k, v in spec.items() if v is not None or k == "clear_condition"}
    return spec


def _form_context(
    state: AppState, platform: Platform, user: User, values: dict[str, Any], rule: Rule | None
) -> dict[str, Any]:
    return {
        "rule": rule,
        "values": values,
        "severities": SEVERITIES,
        "severity_keys": SEVERITY_KEYS,
        "may_manage": may_manage(user),
        "overseer": access.sees_all(user),
        "enterprises": _choices(state) if access.sees_all(user) else None,
        "models": [m.id for m in platform.models.list_for(user)],
        "windows": tuple(ruletrial.WINDOWS_MS),
        **_help(platform, user, values),
    }


@router.get("/platform/rules/new")
def new_rule(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """An empty rule form (a device may be given: ``?device=cnc-0001``)."""
    platform = fleet.platform_of(state)
    values = _blank()
    device = request.query_params.get("device", "").strip()[:200]
    if device:
        platform.devices.visible(user, device)
        values["device_id"] = device
    return render(request, "rule.html", _form_context(state, platform, user, values, None))


@router.post("/platform/rules/new")
async def create_rule(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Create a rule from the form; on a refusal, the form again with what was typed."""
    platform = fleet.platform_of(state)
    values = _values_from(await request.form())
    try:
        rule = await _engine(platform).create(user, _spec(values, user, creating=True))
    except (IndunetError, FormError) as exc:
        return await _form_again(request, state, platform, user, values, None, exc)
    return RedirectResponse(f"/platform/rules/{rule.id}?saved=1", status_code=303)


@router.get("/platform/rules/{rule_id}")
def edit_rule(request: Request, state: StateDep, user: ConsoleUser, rule_id: PathId) -> Response:
    """A rule's form, pre-filled, with its trial and the expression help."""
    platform = fleet.platform_of(state)
    rule = _engine(platform).get(user, rule_id)
    ctx = _form_context(state, platform, user, _values_of(rule), rule)
    ctx["saved"] = request.query_params.get("saved") == "1"
    return render(request, "rule.html", ctx)


@router.post("/platform/rules/{rule_id}")
async def update_rule(
    request: Request, state: StateDep, user: ConsoleUser, rule_id: PathId
) -> Response:
    """Save the form's changes to a rule."""
    platform = fleet.platform_of(state)
    engine = _engine(platform)
    rule = await run_in_threadpool(engine.get, user, rule_id)
    values = _values_from(await request.form())
    try:
        await engine.update(user, rule_id, _spec(values, user, creating=False))
    except (IndunetError, FormError) as exc:
        return await _form_again(request, state, platform, user, values, rule, exc)
    return RedirectResponse(f"/platform/rules/{rule_id}?saved=1", status_code=303)


async def _form_again(
    request: Request,
    state: AppState,
    platform: Platform,
    user: User,
    values: dict[str, Any],
    rule: Rule | None,
    exc: Exception,
) -> Response:
    ctx = await run_in_threadpool(_form_context, state, platform, user, values, rule)
    status = exc.status if isinstance(exc, IndunetError) else 400
    return render(request, "rule.html", ctx | {"error": error_text(request, exc)}, status=status)


@router.post("/platform/rules/{rule_id}/enabled")
async def set_enabled(
    request: Request, state: StateDep, user: ConsoleUser, rule_id: PathId
) -> Response:
    """Enable (``enabled=1``) or disable a rule, then back to the list."""
    platform = fleet.platform_of(state)
    form = await request.form()
    engine = _engine(platform)
    try:
        await engine.update(user, rule_id, {"enabled": form.get("enabled") == "1"})
    except IndunetError as exc:
        if exc.status == 404:
            raise
        return await _list_error(request, state, user, exc)
    back = str(form.get("next") or "/platform/rules")
    return RedirectResponse(back if back.startswith("/platform/rules") else "/platform/rules", 303)


async def _list_error(request: Request, state: AppState, user: User, exc: IndunetError) -> Response:
    ctx = await run_in_threadpool(_list_context, request, state, user)
    return render(
        request, "rules.html", ctx | {"error": error_text(request, exc)}, status=exc.status
    )


@router.get("/platform/rules/{rule_id}/delete")
def confirm_delete(
    request: Request, state: StateDep, user: ConsoleUser, rule_id: PathId
) -> Response:
    """Ask before deleting a rule."""
    platform = fleet.platform_of(state)
    rule = _engine(platform).get(user, rule_id)
    return render(request, "rule_delete.html", {"rule": rule})


@router.post("/platform/rules/{rule_id}/delete")
async def delete_rule(
    request: Request, state: StateDep, user: ConsoleUser, rule_id: PathId
) -> Response:
    """Delete a rule (its open alarms clear; its alarms stay as history); only the
    confirmation page's form (``confirm=yes``) deletes."""
    platform = fleet.platform_of(state)
    engine = _engine(platform)
    form = await request.form()
    try:
        if form.get("confirm") != "yes":
            rule = await run_in_threadpool(engine.get, user, rule_id)
            ctx = {
                "rule": rule,
                "error": error_text(request, FormError("rules.delete_unconfirmed")),
            }
            return render(request, "rule_delete.html", ctx, status=400)
        await engine.delete(user, rule_id)
    except IndunetError as exc:
        if exc.status == 404:
            raise
        rule = await run_in_threadpool(engine.get, user, rule_id)
        ctx = {"rule": rule, "error": error_text(request, exc)}
        return render(request, "rule_delete.html", ctx, status=exc.status)
    return RedirectResponse("/platform/rules?deleted=1", status_code=303)
