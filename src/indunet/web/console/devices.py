"""Device pages: the device list with its filters, adding devices one
by one from a form or many from a CSV file (each new device's secret is shown once)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from indunet.core import IndunetError, Role, User, access
from indunet.devices import PROTOCOLS, Device, ImportReport, ThingModel
from indunet.web.console import fleet
from indunet.web.console.fleet import STATUSES
from indunet.web.console.forms import FormError
from indunet.web.console.i18n import N_
from indunet.web.console.models import visible_models
from indunet.web.console.pages import error_text, is_htmx, render
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import MAX_DB_INT, StateDep
from indunet.web.platform import Platform
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)

#: Fields of the "add a device" form, in the order shown.
FORM_FIELDS = (
    "id",
    "name",
    "model",
    "protocol",
    "host",
    "port",
    "unit",
    "endpoint",
    "site",
    "tags",
    "manufacturer",
    "serial",
)
CONNECTION_FIELDS = ("host", "port", "unit", "endpoint")
MAX_CSV_BYTES = 5 * 1024 * 1024
PROTOCOL_KEYS = {
    "mqtt": N_("protocol.mqtt"),
    "modbus": N_("protocol.modbus"),
    "opcua": N_("protocol.opcua"),
    "http": N_("protocol.http"),
}


@dataclass
class DeviceForm:
    """The "add a device" form as typed, plus the enterprise it is for."""

    fields: dict[str, str] = field(default_factory=lambda: dict.fromkeys(FORM_FIELDS, ""))
    enterprise_id: int | None = None

    def spec(self) -> dict[str, Any]:
        """The device spec ``DeviceRegistry.create`` takes; empty fields are left out."""
        f = {k: v.strip() for k, v in self.fields.items()}
        spec: dict[str, Any] = {k: f[k] for k in ("id", "name", "model") if f[k]}
        for key in ("protocol", "tags", "manufacturer", "serial"):
            if f[key]:
                spec[key] = f[key]
        connection = {k: f[k] for k in CONNECTION_FIELDS if f[k]}
        if connection:
            spec["connection"] = connection
        if f["site"]:
            spec["location"] = {"site": f["site"]}
        return spec


def may_add(user: User) -> bool:
    """Whether ``user`` may add devices (platform admins, and enterprise admins for their own)."""
    return user.role in access.CHANGERS


def target_enterprise(user: User, chosen: int | None) -> int:
    """The enterprise new devices belong to: the admin's own, or the one a platform admin chose."""
    eid = access.change_scope(
        user, None if user.role == Role.ENTERPRISE_ADMIN else chosen, "add devices"
    )
    if eid is None:
        raise FormError(N_("devices.choose_enterprise"))
    return eid


def status_counts(devices: list[Device]) -> dict[str, int]:
    """Devices per status (online, offline, unknown), plus ``total``."""
    c: Counter[str] = Counter(d.status for d in devices)
    return {**{s: c.get(s, 0) for s in STATUSES}, "total": len(devices)}


def _list_context(
    state: AppState, platform: Platform, user: User, status: str, tag: str
) -> dict[str, Any]:
    scope = fleet.scope(user)
    everything: list[Device] = platform.devices.list(enterprise_id=scope)
    status = status if status in STATUSES else ""
    shown = [
        d
        for d in everything
        if (not status or d.status == status) and (not tag or tag.strip() in d.tags)
    ]
    return {
        "devices": shown,
        "counts": status_counts(everything),
        "tags": sorted({t for d in everything for t in d.tags}),
        "names": fleet.enterprise_names(state, user),
        "filters": {"status": status, "tag": tag.strip()},
        "statuses": STATUSES,
        "seen_ago": fleet.seen_ago,
    }


def _form_context(state: AppState, platform: Platform, user: User) -> dict[str, Any]:
    names = fleet.enterprise_names(state, user)
    choices = names if user.role == Role.PLATFORM_ADMIN else {}
    models: list[ThingModel] = visible_models(platform, user)
    return {
        "may_add": may_add(user),
        "enterprise_choices": choices,
        "model_choices": [(m.ref, m.title) for m in models],
        "protocols": PROTOCOLS,
        "title_in": fleet.title_in,
        "form": DeviceForm(),
    }


def _page(state: AppState, user: User, request: Request, **extra: Any) -> dict[str, Any]:
    platform = fleet.platform_of(state)
    status = request.query_params.get("status", "")
    tag = request.query_params.get("tag", "")
    ctx = _list_context(state, platform, user, status, tag)
    ctx.update(_form_context(state, platform, user))
    ctx.update(extra)
    return ctx


@router.get("/platform/devices")
def devices_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The device list; HTMX asks for the counts and table alone to refresh them."""
    ctx = _page(state, user, request)
    return render(request, "_device_table.html" if is_htmx(request) else "devices.html", ctx)


def _chosen_enterprise(form: FormData) -> int | None:
    raw = str(form.get("enterprise_id", "")).strip()
    chosen = int(raw) if raw.isascii() and raw.isdigit() else None
    return chosen if chosen is not None and chosen <= MAX_DB_INT else None


@router.post("/platform/devices")
async def add_device(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Register one device; its secret appears on this page only, once."""
    form = await request.form()
    typed = DeviceForm(
        {k: str(form.get(k, "")) for k in FORM_FIELDS}, enterprise_id=_chosen_enterprise(form)
    )
    platform = fleet.platform_of(state)
    try:
        enterprise = target_enterprise(user, typed.enterprise_id)
        device, secret = await run_in_threadpool(
            platform.devices.create, enterprise, typed.spec(), actor=user.actor
        )
    except (IndunetError, FormError) as exc:
        error = error_text(request, exc)
        ctx = await run_in_threadpool(_page, state, user, request, form=typed, error=error)
        return render(request, "devices.html", ctx, status=getattr(exc, "status", 400))
    made = {"device": device, "secret": secret}
    ctx = await run_in_threadpool(_page, state, user, request, made=made)
    response = render(request, "devices.html", ctx)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _csv_text(form: FormData) -> str:
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_CSV_BYTES + 1)
        if len(data) > MAX_CSV_BYTES:
            raise FormError(N_("devices.csv_too_big"), mb=MAX_CSV_BYTES // (1024 * 1024))
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FormError(N_("devices.csv_not_utf8")) from None
    text = str(form.get("csv", ""))
    if not text.strip():
        raise FormError(N_("devices.csv_empty"))
    return text


@router.post("/platform/devices/import")
async def import_devices(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Add a device per CSV row; bad rows are listed by line, the secrets of new ones once."""
    form = await request.form()
    platform = fleet.platform_of(state)
    csv_typed = str(form.get("csv", ""))
    try:
        enterprise = target_enterprise(user, _chosen_enterprise(form))
        text = await _csv_text(form)
        report: ImportReport = await run_in_threadpool(
            platform.devices.import_csv, enterprise, text, actor=user.actor
        )
    except (IndunetError, FormError) as exc:
        ctx = await run_in_threadpool(
            _page, state, user, request, csv_typed=csv_typed, import_error=error_text(request, exc)
        )
        return render(request, "devices.html", ctx, status=getattr(exc, "status", 400))
    ctx = await run_in_threadpool(_page, state, user, request, report=report)
    response = render(request, "devices.html", ctx, status=200 if report.created else 400)
    response.headers["Cache-Control"] = "no-store"
    return response
