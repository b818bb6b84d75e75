"""Model pages: the model library and enterprise models, one model's points, the JSON editor
that imports a model or a new version (problems listed by JSON path), and export."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from indunet.core import IndunetError, NotFound, PermissionDenied, Role, User, access
from indunet.devices import ModbusForm, ModelInvalid, MqttForm, OpcUaForm, Point, ThingModel
from indunet.web.console import fleet
from indunet.web.console.i18n import N_, locale_of, translator
from indunet.web.console.pages import error_text, render
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
        msg = f"the document is larger than {MAX_DOCUMENT // 1024} KiB"
        raise ModelInvalid(msg, detail=[{"path": "$", "message": msg}])
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise ModelInvalid(msg, detail=[{"path": "$", "message": msg}]) from None
    if not isinstance(doc, dict):
        msg = "a Thing Model must be a JSON object"
        raise ModelInvalid(msg, detail=[{"path": "$", "message": msg}])
    return doc


def import_model(platform: Platform, user: User, text: str) -> ThingModel:
    """Validate and store the document as the user's enterprise's (or the platform's) model."""
    if not may_import(user):
        raise PermissionDenied(
            f"{user.username} ({user.role}) may not import models; that needs a platform "
            "admin or an enterprise admin"
        )
    doc = parse_document(text)
    enterprise = None if user.role == Role.PLATFORM_ADMIN else user.enterprise_id
    model: ThingModel = platform.models.add(doc, enterprise_id=enterprise, actor=user.actor)
    return model


def _list_context(state: AppState, user: User, **extra: Any) -> dict[str, Any]:
    platform = fleet.platform_of(state)
    ctx: dict[str, Any] = {
        "rows": model_rows(platform, user),
        "names": fleet.enterprise_names(state, user),
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
            ctx = _list_context(state, user, error=error_text(request, exc))
            return render(request, "models.html", ctx, status=exc.status)
        document = json.dumps(model.document, ensure_ascii=False, indent=2)
        return render(request, "models.html", _list_context(state, user, document=document))
    return render(request, "models.html", _list_context(state, user))


@router.post("/platform/models")
async def add_model(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Import a model (or a new version); on error list each problem at its JSON path."""
    form = await request.form()
    text = str(form.get("document", ""))
    platform = fleet.platform_of(state)
    try:
        model = await run_in_threadpool(import_model, platform, user, text)
    except IndunetError as exc:
        problems = exc.detail if isinstance(exc, ModelInvalid) and exc.detail else []
        ctx = await run_in_threadpool(
            _list_context,
            state,
            user,
            document=text,
            problems=problems,
            error=error_text(request, exc),
        )
        return render(request, "models.html", ctx, status=exc.status)
    ctx = await run_in_threadpool(_list_context, state, user, added=model)
    return render(request, "models.html", ctx)


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
        "owner_name": fleet.enterprise_names(state, user).get(owner, "") if owner else "",
        "library": model.id.startswith(LIBRARY_NAMESPACE),
        "binding": binding,
        "title_in": fleet.title_in,
        "may_import": may_import(user),
        "document": json.dumps(model.document, ensure_ascii=False, indent=2),
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
