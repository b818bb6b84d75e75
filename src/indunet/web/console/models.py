"""Model pages: the model library and enterprise models (searched and paged), one model's
points, the JSON editor and the form editor (``model_form``) that import a model or a new
version through the same service, each problem shown in the reader's language where it is
(a readable JSON path, or the form field), validation as the user types, and export."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from indunet.core import IndunetError, NotFound, PermissionDenied, Role, User, access
from indunet.devices import (
    ModbusForm,
    ModelInvalid,
    MqttForm,
    OpcUaForm,
    Point,
    ThingModel,
    parse_model,
)
from indunet.web.console import fleet, model_form
from indunet.web.console.i18n import N_, locale_of, translator
from indunet.web.console.model_form import ModelForm
from indunet.web.console.model_problems import form_problems, shown_problems
from indunet.web.console.pages import error_text, is_htmx, render
from indunet.web.console.paging import page_of, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.platform import Platform
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
LIBRARY_NAMESPACE = "indunet:"
MAX_DOCUMENT = 1024 * 1024


@dataclass(frozen=True)
class ModelRow:
    """One model in the list: its latest version, owner and size."""

    model: ThingModel
    versions: list[str]
    owner: str  # "library", "platform" or "enterprise"
    enterprise_id: int | None


def visible_models(platform: Platform, user: User) -> list[ThingModel]:
    """Latest version of every model ``user`` may see (as ``GET /api/v1/models``)."""
    models: list[ThingModel] = platform.models.list_for(user)
    return models


def model_rows(platform: Platform, user: User) -> list[ModelRow]:
    """The model list, library models first."""
    rows = []
    for m in visible_models(platform, user):
        owner = platform.models.owner(m.id)
        kind = (
            "library"
            if m.id.startswith(LIBRARY_NAMESPACE)
            else ("platform" if owner is None else "enterprise")
        )
        rows.append(ModelRow(m, platform.models.versions(m.id, read=False), kind, owner))
    return sorted(rows, key=lambda r: (r.owner != "library", r.model.id))


def visible_model(platform: Platform, user: User, model_id: str, version: str | None) -> ThingModel:
    """A model version ``user`` may see (``NotFound`` for an unknown or another tenant's)."""
    model: ThingModel = platform.models.visible(user, model_id, version or None)
    return model


def may_import(user: User) -> bool:
    """Platform admins import platform models; enterprise admins their enterprise's."""
    return user.role in access.CHANGERS


def binding(point: Point) -> str:
    """Where a point is read, in one short line per protocol."""
    parts: list[str] = []
    for f in point.forms:
        if isinstance(f, ModbusForm):
            parts.append(f"Modbus {f.table}@{f.address} {f.datatype}")
        elif isinstance(f, OpcUaForm):
            parts.append(f"OPC UA {f.node_id}")
        elif isinstance(f, MqttForm):
            parts.append(f"MQTT {f.topic} {f.json_path}")
    return " · ".join(parts)


def parse_document(text: str) -> dict[str, Any]:
    """The editor's text as JSON, or ``ModelInvalid`` with the line and column of the mistake."""
    if len(text.encode()) > MAX_DOCUMENT:
        raise too_large()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        where = {"line": exc.lineno, "column": exc.colno}
        raise _one_problem(msg, "not_json", where) from None
    if not isinstance(doc, dict):
        raise _one_problem("a Thing Model must be a JSON object", "not_object", {})
    return doc


def _one_problem(msg: str, reason: str, params: dict[str, Any]) -> ModelInvalid:
    problem = {"path": "$", "message": msg, "reason": reason, "params": params}
    return ModelInvalid(msg, detail=[problem], reason="model_invalid", params={"count": 1})


def too_large() -> ModelInvalid:
    """The refusal of a document (or form) over ``MAX_DOCUMENT``."""
    kib = MAX_DOCUMENT // 1024
    return _one_problem(f"the document is larger than {kib} KiB", "too_large", {"kib": kib})


def import_model(platform: Platform, user: User, text: str) -> ThingModel:
    """Validate and store the document as the user's enterprise's (or the platform's) model."""
    return import_document(platform, user, parse_document(text))


def import_document(platform: Platform, user: User, doc: dict[str, Any]) -> ThingModel:
    """Validate and store a Thing Model document for the user's enterprise (or the platform)."""
    if not may_import(user):
        raise PermissionDenied(
            f"{user.username} ({user.role}) may not import models; that needs a platform "
            "admin or an enterprise admin",
            reason="model_import_denied",
            params={},
        )
    enterprise = None if user.role == Role.PLATFORM_ADMIN else user.enterprise_id
    model: ThingModel = platform.models.add(doc, enterprise_id=enterprise, actor=user.actor)
    return model


SORTS = ("id", "owner", "points")


def _list_context(request: Request, state: AppState, user: User, **extra: Any) -> dict[str, Any]:
    """The model list (searched by id and title, sorted, one page) and the JSON editor."""
    platform = fleet.platform_of(state)
    paging = paging_of(request, sorts=SORTS, default_sort="owner")
    kind = request.query_params.get("owner", "")
    rows = [
        r
        for r in model_rows(platform, user)
        if paging.matches(r.model.id, *r.model.title.values()) and kind in ("", r.owner)
    ]
    if paging.sort == "id":
        rows.sort(key=lambda r: r.model.id, reverse=paging.desc)
    elif paging.sort == "points":
        rows.sort(key=lambda r: len(r.model.points), reverse=paging.desc)
    elif paging.desc:
        rows.reverse()
    result = page_of(rows, paging)
    ctx: dict[str, Any] = {
        "result": result,
        "owner_filter": kind,
        "owner_keys": OWNER_KEYS,
        "names": fleet.enterprise_names(state, user, [r.enterprise_id for r in result.items]),
        "may_import": may_import(user),
        "title_in": fleet.title_in,
        "document": "",
        "problems": [],
    }
    ctx.update(extra)
    return ctx


@router.get("/platform/models")
def models_page(
    request: Request, state: StateDep, user: ConsoleUser, base: str = "", version: str = ""
) -> Response:
    """The model list and the editor (``base`` prefills it with a model to make a new version)."""
    if base:  # a base that is missing or another tenant's: the list, its error, and 404
        try:
            model = visible_model(fleet.platform_of(state), user, base, version or None)
        except IndunetError as exc:
            ctx = _list_context(request, state, user, error=error_text(request, exc))
            return render(request, "models.html", ctx, status=exc.status)
        document = json.dumps(model.document, ensure_ascii=False, indent=2)
        ctx = _list_context(request, state, user, document=document)
        return render(request, "models.html", ctx)
    return render(request, "models.html", _list_context(request, state, user))


@router.post("/platform/models")
async def add_model(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Import a model (or a new version); on error list each problem where it is."""
    form = await request.form()
    text = str(form.get("document", ""))
    platform = fleet.platform_of(state)
    t = translator(locale_of(request))
    try:
        model = await run_in_threadpool(import_model, platform, user, text)
    except IndunetError as exc:
        problems = shown_problems(t, exc.detail) if isinstance(exc, ModelInvalid) else []
        ctx = await run_in_threadpool(
            _list_context,
            request,
            state,
            user,
            document=text,
            problems=problems,
            error=error_text(request, exc),
        )
        return render(request, "models.html", ctx, status=exc.status)
    ctx = await run_in_threadpool(_list_context, request, state, user, added=model)
    return render(request, "models.html", ctx)


# -- the form editor --------------------------------------------------------------------
PROTOCOL_KEYS = {
    "": N_("modelform.protocol.none"),
    "modbus": N_("modelform.protocol.modbus"),
    "opcua": N_("modelform.protocol.opcua"),
    "mqtt": N_("modelform.protocol.mqtt"),
}
TABLE_KEYS = {
    "holding": N_("modelform.table.holding"),
    "input": N_("modelform.table.input"),
    "coil": N_("modelform.table.coil"),
    "discrete": N_("modelform.table.discrete"),
}
FORM_FIELDS_MAX = model_form.MAX_ROWS * len(model_form.ROW_FIELDS) + 20


def next_version(version: str) -> str:
    """The version after ``version`` (its minor raised), for a new version's form."""
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version)
    return f"{m[1]}.{int(m[2]) + 1}.0" if m else "1.0.0"


def _base_document(
    platform: Platform, user: User, base: str, version: str
) -> dict[str, Any] | None:
    if not base:
        return None
    document: dict[str, Any] = visible_model(platform, user, base, version or None).document
    return document


def checked_form(
    platform: Platform, user: User, form: ModelForm, base: str, base_version: str
) -> tuple[dict[str, Any], IndunetError | None]:
    """The form's document and what ``parse_model`` says of it (None: it is valid)."""
    doc = model_form.document_of(form, _base_document(platform, user, base, base_version))
    try:
        parse_model(doc)
    except ModelInvalid as exc:
        return doc, exc
    if model_form.duplicate_names(form):
        return doc, ModelInvalid("two points have the same name", detail=[])
    return doc, None


def _form_context(
    request: Request,
    form: ModelForm,
    base: str = "",
    base_version: str = "",
    exc: IndunetError | None = None,
    *,
    checked: bool = True,
) -> dict[str, Any]:
    t = translator(locale_of(request))
    by_field, general = form_problems(t, form, exc)
    return {
        "form": form,
        "base": base,
        "base_version": base_version,
        "by_field": by_field,
        "general": general,
        "field_ids": model_form.field_ids(form),
        "type_options": [(k, t(f"itemtype.{k}")) for k in model_form.TYPES],
        "protocol_options": [(k, t(PROTOCOL_KEYS[k])) for k in model_form.PROTOCOLS],
        "table_options": [(k, t(TABLE_KEYS[k])) for k in model_form.TABLES],
        "datatype_options": [(k, k) for k in model_form.DATATYPES],
        "checked": checked and exc is None,  # "valid" is said only after a check
    }


async def _read_model_form(request: Request) -> tuple[ModelForm, str, str, str]:
    """The posted form (bounded: ``MAX_DOCUMENT`` bytes, ``MAX_ROWS`` points), its base model
    and version, and the action asked for."""
    body = await request.body()
    if len(body) > MAX_DOCUMENT:
        raise too_large()
    form = await request.form(max_files=0, max_fields=FORM_FIELDS_MAX)
    base = str(form.get("base", ""))[:200]
    base_version = str(form.get("base_version", ""))[:32]
    return model_form.read_form(form), base, base_version, str(form.get("action", ""))[:32]


@router.get("/platform/models/form")
def model_form_page(
    request: Request, state: StateDep, user: ConsoleUser, base: str = "", version: str = ""
) -> Response:
    """The form editor: empty for a new model, or prefilled from ``base`` for a new version
    (another tenant's base is not found, before the role is looked at)."""
    t = translator(locale_of(request))
    model = None
    if base:
        try:
            model = visible_model(fleet.platform_of(state), user, base[:200], version or None)
        except NotFound:
            missing = {"missing": t("models.missing", id=base[:200])}
            return render(request, "model_form.html", missing, status=404)
    if not may_import(user):
        denied = {"denied": t("error.model_import_denied")}
        return render(request, "model_form.html", denied, status=403)
    if model is None:
        ctx = _form_context(request, ModelForm(rows=[model_form.PointRow()]), checked=False)
    else:
        form = model_form.form_of(model, next_version(model.version))
        ctx = _form_context(request, form, model.id, model.version, checked=False)
    return render(request, "model_form.html", ctx)


@router.post("/platform/models/form/check")
async def check_model_form(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """HTMX, as the user types: the form's problems next to their fields (nothing stored)."""
    platform = fleet.platform_of(state)
    try:
        form, base, base_version, _ = await _read_model_form(request)
        _, exc = await run_in_threadpool(checked_form, platform, user, form, base, base_version)
    except IndunetError as failed:
        form, base, base_version, exc = ModelForm(), "", "", failed
    ctx = _form_context(request, form, base, base_version, exc)
    status = 200 if is_htmx(request) or exc is None else exc.status
    return render(request, "_model_form_problems.html", ctx, status=status)


@router.post("/platform/models/form")
async def publish_model_form(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Add or remove a point row, or publish the form's model through the import service."""
    platform = fleet.platform_of(state)
    try:
        form, base, base_version, action = await _read_model_form(request)
    except IndunetError as exc:
        ctx = _form_context(request, ModelForm(), exc=exc)
        return render(request, "model_form.html", ctx, status=exc.status)
    if action == "add":
        if len(form.rows) < model_form.MAX_ROWS:
            form.rows.append(model_form.PointRow())
        ctx = _form_context(request, form, base, base_version, checked=False)
        return render(request, "model_form.html", ctx)
    if action.startswith("remove:") and action[7:].isdigit():
        index = int(action[7:])
        form.rows = [r for i, r in enumerate(form.rows) if i != index]
        ctx = _form_context(request, form, base, base_version, checked=False)
        return render(request, "model_form.html", ctx)
    try:
        doc, problem = await run_in_threadpool(
            checked_form, platform, user, form, base, base_version
        )
        if problem is not None:
            raise problem
        model = await run_in_threadpool(import_document, platform, user, doc)
    except IndunetError as exc:
        ctx = _form_context(request, form, base, base_version, exc)
        return render(request, "model_form.html", ctx, status=exc.status)
    target = f"/platform/models/{model.id}?version={model.version}&published=1"
    return RedirectResponse(target, status_code=303)


@router.get("/platform/models/{model_id}")
def model_page(
    request: Request, state: StateDep, user: ConsoleUser, model_id: str, version: str = ""
) -> Response:
    """One model version: its points, actions and events, versions, export."""
    platform = fleet.platform_of(state)
    t = translator(locale_of(request))
    try:
        model = visible_model(platform, user, model_id, version or None)
    except NotFound:
        missing: dict[str, Any] = {"missing": t("models.missing", id=model_id)}
        return render(request, "model.html", missing, status=404)
    owner = platform.models.owner(model.id)
    ctx: dict[str, Any] = {
        "model": model,
        "versions": platform.models.versions(model.id, read=False),
        "owner_name": fleet.enterprise_names(state, user, [owner]).get(owner, "") if owner else "",
        "library": model.id.startswith(LIBRARY_NAMESPACE),
        "binding": binding,
        "title_in": fleet.title_in,
        "may_import": may_import(user),
        "document": json.dumps(model.document, ensure_ascii=False, indent=2),
        "published": request.query_params.get("published") == "1",
    }
    return render(request, "model.html", ctx)


@router.get("/platform/models/{model_id}/export")
def export_model(state: StateDep, user: ConsoleUser, model_id: str, version: str = "") -> Response:
    """Download a model version's Thing Model JSON as imported."""
    model = visible_model(fleet.platform_of(state), user, model_id, version or None)
    name = f"{model.id.replace(':', '_')}-{model.version}.tm.json"
    return JSONResponse(
        model.document,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
        media_type="application/tm+json",
    )


#: Owner kinds shown in the list, as catalogue keys.
OWNER_KEYS = {
    "library": N_("models.owner.library"),
    "platform": N_("models.owner.platform"),
    "enterprise": N_("models.owner.enterprise"),
}
