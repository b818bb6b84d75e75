"""Device pages: the device list (search, filters, sort, server-side paging, a few latest
values per row), adding devices one by one from a form or many from a CSV file.

The list pages the registry's in-memory devices (it holds every device for the ingest hot
path): one pass to filter, one sort, one slice. A new device's secret is shown once on the
page; the secrets of a CSV import are not shown at all but handed over once as a CSV file
(``handoff``), to the user who imported them.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from indunet.core import IndunetError, Role, User, access
from indunet.devices import PROTOCOLS, Device, ImportReport, ThingModel
from indunet.devices.device import default_protocol
from indunet.devices.listing import SORTS, DeviceQuery, find
from indunet.web.console import device_manage, fleet
from indunet.web.console.device import CHARTED, value_text
from indunet.web.console.deviceform import FIELD_KEYS, FORM_FIELDS, PROTOCOL_FIELDS, DeviceForm
from indunet.web.console.deviceform import typed as typed_fields
from indunet.web.console.fleet import STATUSES
from indunet.web.console.forms import FormError
from indunet.web.console.handoff import HANDOFFS
from indunet.web.console.i18n import N_, Translator, locale_of, translator
from indunet.web.console.models import visible_models
from indunet.web.console.pages import error_text, is_htmx, render
from indunet.web.console.paging import PageOf, Paging, link, paging_of, sort_link
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import MAX_DB_INT, StateDep
from indunet.web.platform import Platform
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
router.include_router(device_manage.router)  # one device's edit, secret and delete

LIST_PATH = "/platform/devices"
MAX_CSV_BYTES = 5 * 1024 * 1024
KEY_POINTS = 3  # latest values shown per row
MAX_REPORT_ROWS = 200  # failed import rows listed on the page
PROTOCOL_KEYS = {
    "mqtt": N_("protocol.mqtt"),
    "modbus": N_("protocol.modbus"),
    "opcua": N_("protocol.opcua"),
    "http": N_("protocol.http"),
}


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


@dataclass(frozen=True)
class Listing:
    """One page of the device list, the status counts of the user's devices, the tags."""

    page: PageOf[Device]
    counts: dict[str, int]
    tags: list[str]


def listing(
    devices: list[Device], scope: int | None, paging: Paging, status: str, tag: str
) -> Listing:
    """The page ``paging`` asks for (``devices.listing.find``), with the counts and tags."""
    query = DeviceQuery(paging.q, status, tag, paging.sort or "id", paging.desc)
    found = find(devices, scope, replace(query, offset=paging.offset, limit=paging.limit))
    return Listing(PageOf(found.items, found.total, paging), found.counts, found.tags)


@dataclass(frozen=True)
class KeyValue:
    """One latest value in a device's row."""

    title: str
    value: str
    unit: str


def key_values(
    platform: Platform, t: Translator, devices: list[Device]
) -> dict[str, list[KeyValue]]:
    """The latest values of up to ``KEY_POINTS`` points of each device that have data (model
    order, numbers and booleans first), one store read per device on the page."""
    out: dict[str, list[KeyValue]] = {}
    for d in devices:
        model = platform.devices.model_of(d.id)
        if model is None:
            continue
        latest = platform.store.latest(d.id)
        points = sorted(model.points.values(), key=lambda p: p.type not in CHARTED)
        out[d.id] = [
            KeyValue(
                fleet.title_in(p.title, t.locale, p.name),
                value_text(t, latest[p.name].value),
                p.unit or "",
            )
            for p in points
            if p.name in latest
        ][:KEY_POINTS]
    return out


def _list_context(
    state: AppState, platform: Platform, user: User, request: Request
) -> dict[str, Any]:
    paging = paging_of(request, sorts=SORTS, default_sort="id")
    status = request.query_params.get("status", "")
    status = status if status in STATUSES else ""
    tag = request.query_params.get("tag", "").strip()[:32]
    scope = fleet.scope(user)
    asked = request.query_params.get("enterprise", "")
    one = int(asked) if scope is None and asked.isdigit() and len(asked) < 19 else None
    found = listing(
        platform.devices.in_memory(), scope if one is None else one, paging, status, tag
    )
    t = translator(locale_of(request))
    return {
        "result": found.page,
        "devices": found.page.items,
        "values": key_values(platform, t, found.page.items),
        "counts": found.counts,
        "tags": found.tags,
        "names": fleet.enterprise_names(state, user, [d.enterprise_id for d in found.page.items]),
        "filters": {"status": status, "tag": tag, "q": paging.q, "enterprise": one},
        "enterprise_filter": (
            fleet.enterprise_names(state, user, [one]).get(one, "—") if one is not None else None
        ),
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
        "model_choices": [(m.ref, m.title, default_protocol(m)) for m in models],
        "protocols": PROTOCOLS,
        "protocol_fields": PROTOCOL_FIELDS,
        "field_keys": FIELD_KEYS,
        "title_in": fleet.title_in,
        "form": DeviceForm(),
    }


def _list_urls(request: Request) -> dict[str, Any]:
    """Links of the list as if the page were ``GET /platform/devices`` (a POST answer's own
    path, ``/platform/devices/import``, takes no GET)."""
    if request.url.path == LIST_PATH:
        return {}

    def at_list(url: str) -> str:
        return LIST_PATH + url[len(request.url.path) :]

    return {
        "path": LIST_PATH,
        "here": at_list(link(request)),
        "page_link": lambda **changes: at_list(link(request, **changes)),
        "sort_link": lambda paging, key: at_list(sort_link(request, paging, key)),
    }


def _page(state: AppState, user: User, request: Request, **extra: Any) -> dict[str, Any]:
    platform = fleet.platform_of(state)
    ctx = _list_context(state, platform, user, request) | _list_urls(request)
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


def _model(platform: Platform, ref: str) -> ThingModel | None:
    mid, _, version = ref.strip().partition("@")
    try:
        model: ThingModel = platform.models.get(mid, version or None)
    except IndunetError:
        return None  # the registry names the problem
    return model


@router.post("/platform/devices")
async def add_device(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Register one device; its secret appears on this page only, once."""
    form = await request.form()
    typed = DeviceForm(typed_fields(form, FORM_FIELDS), enterprise_id=_chosen_enterprise(form))
    platform = fleet.platform_of(state)
    try:
        enterprise = target_enterprise(user, typed.enterprise_id)
        model = await run_in_threadpool(_model, platform, typed.fields["model"])
        device, secret = await run_in_threadpool(
            platform.devices.create, enterprise, typed.spec(model), actor=user.actor
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
    text = form.get("csv", "")
    if not isinstance(text, str) or not text.strip():
        raise FormError(N_("devices.csv_empty"))
    if len(text.encode()) > MAX_CSV_BYTES:
        raise FormError(N_("devices.csv_too_big"), mb=MAX_CSV_BYTES // (1024 * 1024))
    return text


def owner_of(user: User) -> str:
    """Whose one-time downloads are whose."""
    return f"{user.id}:{user.username}"


def secrets_csv(report: ImportReport) -> bytes:
    """The new devices' secrets as a CSV file (UTF-8 with a BOM, so spreadsheets read it)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["id", "secret"])
    writer.writerows(report.secrets.items())
    return ("\ufeff" + out.getvalue()).encode()


@dataclass(frozen=True)
class FailedRow:
    """A failed import row as the page lists it."""

    line: int
    device_id: str
    text: str


def failed_rows(request: Request, report: ImportReport) -> list[FailedRow]:
    """The first ``MAX_REPORT_ROWS`` failed rows, each error in the page's language."""
    rows = []
    for (line, did, message), why in list(zip(report.errors, report.problems, strict=True))[
        :MAX_REPORT_ROWS
    ]:
        exc = IndunetError(message, reason=why.reason, params=why.params)
        rows.append(FailedRow(line, did, error_text(request, exc)))
    return rows


@router.post("/platform/devices/import")
async def import_devices(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Add a device per CSV row; bad rows are listed by line; the new devices' secrets wait
    for one download by this user (never printed on the page)."""
    form = await request.form()
    platform = fleet.platform_of(state)
    csv_typed = form.get("csv", "")
    csv_typed = csv_typed[:100_000] if isinstance(csv_typed, str) else ""
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
    handle = ""
    if report.secrets:
        handle = HANDOFFS.put(owner_of(user), "device-secrets.csv", secrets_csv(report))
    extra = {"report": report, "failed_rows": failed_rows(request, report), "handle": handle}
    ctx = await run_in_threadpool(_page, state, user, request, **extra)
    response = render(request, "devices.html", ctx, status=200 if report.created else 400)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/platform/devices/import/secrets")
async def import_secrets(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The secrets of an import, once, to the user who imported them (as a CSV file)."""
    form = await request.form()
    handle = form.get("handle", "")
    found = HANDOFFS.take(owner_of(user), handle[:100] if isinstance(handle, str) else "")
    if found is None:
        t = translator(locale_of(request))
        body = t("devices.secrets_gone")
        return Response(body, status_code=410, media_type="text/plain; charset=utf-8")
    headers = {
        "Content-Disposition": f'attachment; filename="{found.filename}"',
        "Cache-Control": "no-store",
    }
    return Response(found.body, media_type="text/csv; charset=utf-8", headers=headers)
