"""The asset inventory's console pages: ``/security/assets`` (search, filters, paging, add,
CSV import and export), one asset (attributes, sources, the merge explanation, links to its
device and identifier, conversations, the edit form) and ``/security/zones`` (zones with
their SL-T, conduits).

The inventory (``security.assets``) decides who may see and change what; these routes parse
forms, call it in worker threads and render its answers, refusals in the reader's language.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.responses import RedirectResponse, Response, StreamingResponse

from indunet.core import IndunetError, InvalidInput, Role, User, access
from indunet.security.assets import ASSET_TYPES, CRITICALITIES, Zones, csvio
from indunet.security.assets.attributes import EDITABLE, LIST_FIELDS
from indunet.security.assets.service import Inventory
from indunet.web.console import fleet
from indunet.web.console.pages import error_text, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import PathId, QueryId, StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
BASE = "/security/assets"
ZONES = "/security/zones"
MAX_FIELD = 2000
MAX_CSV_BYTES = csvio.MAX_BYTES
#: Attributes the edit form shows, in order.
FORM_FIELDS = tuple(f for f in EDITABLE if f != "zone_id")


def inventory_of(state: AppState) -> Inventory:
    svc = state.services.get("security")
    part = svc.part("assets") if svc is not None and hasattr(svc, "part") else None
    if not isinstance(part, Inventory):
        raise fleet.NoPlatform()
    return part


def may_manage(user: User) -> bool:
    return user.role in (Role.PLATFORM_ADMIN, Role.ENTERPRISE_ADMIN)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > MAX_FIELD:
        raise InvalidInput(f"{name} is too long", reason="asset_field", params={"field": name})
    return text


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 18 else None


def _enterprise(form: FormData, user: User) -> int | None:
    """The enterprise a new thing goes in: the user's own; an overseer may name one."""
    if not access.sees_all(user):
        return user.enterprise_id
    return _int(_text(form, "enterprise_id"))


def _spec(form: FormData, *, edit: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for name in FORM_FIELDS:
        if name in form or not edit:
            text = _text(form, name)
            if text or edit:
                spec[name] = text
    if "zone_id" in form:
        spec["zone_id"] = _int(_text(form, "zone_id"))
    return spec


def _list_context(state: AppState, user: User, request: Request) -> dict[str, Any]:
    inv = inventory_of(state)
    paging = paging_of(request)
    params = request.query_params
    asset_type = params.get("asset_type", "")
    asset_type = asset_type if asset_type in ASSET_TYPES else ""
    criticality = params.get("criticality", "")
    criticality = criticality if criticality in CRITICALITIES else ""
    zones = inv.zones.list_zones(user)
    zone_id = _int(params.get("zone_id"))
    if zone_id not in {z.id for z in zones}:
        zone_id = None
    items, total = inv.store.page(
        user,
        q=paging.q,
        asset_type=asset_type,
        zone_id=zone_id,
        criticality=criticality,
        offset=paging.offset,
        limit=paging.limit,
    )
    names = fleet.enterprise_names(state, user, [a.enterprise_id for a in items])
    return {
        "result": PageOf(items, total, paging),
        "filters": {"asset_type": asset_type, "criticality": criticality, "zone_id": zone_id},
        "asset_types": ASSET_TYPES,
        "criticalities": CRITICALITIES,
        "zones": zones,
        "zone_names": {z.id: z.name for z in zones},
        "names": names,
        "may_manage": may_manage(user),
        "enterprise_choices": names if user.role == Role.PLATFORM_ADMIN else {},
        "form": {},
    }


@router.get(BASE)
async def assets_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The inventory: search, filters, one page of assets, the add and import forms."""
    ctx = await run_in_threadpool(_list_context, state, user, request)
    if request.query_params.get("imported"):
        ctx["imported"] = {
            k: _int(request.query_params.get(k)) or 0 for k in ("rows", "created", "merged")
        }
    return render(request, "security_assets.html", ctx)


@router.post(BASE)
async def create_asset(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Add an asset; a refusal shows the form again with what was typed."""
    form = await request.form()
    store = inventory_of(state).store
    try:
        spec = _spec(form, edit=False)
        asset = await run_in_threadpool(store.create, user, _enterprise(form, user), spec)
    except IndunetError as exc:
        ctx = await run_in_threadpool(_list_context, state, user, request)
        shown = {k: str(form.get(k) or "")[:200] for k in FORM_FIELDS}
        ctx |= {"error": error_text(request, exc), "form": shown}
        return render(request, "security_assets.html", ctx, status=exc.status)
    return RedirectResponse(f"{BASE}/{asset.id}", status_code=303)


@router.get(f"{BASE}/export")
async def export_assets(state: StateDep, user: ConsoleUser) -> Response:
    """Every asset the user may see as CSV (the import's columns)."""
    store = inventory_of(state).store
    chunks = await run_in_threadpool(lambda: list(csvio.export_csv(store, user)))
    return StreamingResponse(
        iter(chunks),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="assets.csv"'},
    )


@router.post(f"{BASE}/import")
async def import_assets(
    request: Request, state: StateDep, user: ConsoleUser, enterprise_id: QueryId = None
) -> Response:
    """Import a CSV file into the user's enterprise (an overseer names one with
    ``?enterprise_id=``): all rows or none, each bad row named."""
    store = inventory_of(state).store
    problems: list[dict[str, Any]] = []
    try:
        eid = access.change_scope(user, enterprise_id, "import assets")
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("choose a CSV file", reason="asset_csv_header", params={})
        data = await upload.read(MAX_CSV_BYTES + 1)
        done = await run_in_threadpool(csvio.import_csv, store, user, eid, data)
    except IndunetError as exc:
        if isinstance(exc.detail, list):
            problems = exc.detail
        ctx = await run_in_threadpool(_list_context, state, user, request)
        ctx |= {"error": error_text(request, exc), "problems": problems}
        return render(request, "security_assets.html", ctx, status=exc.status)
    query = "&".join(f"{k}={v}" for k, v in done.items())
    return RedirectResponse(f"{BASE}?imported=1&{query}", status_code=303)


def _detail_context(state: AppState, user: User, asset_id: int) -> dict[str, Any]:
    inv = inventory_of(state)
    detail = inv.store.get(user, asset_id)
    a = detail.asset
    zones = [z for z in inv.zones.list_zones(user) if z.enterprise_id == a.enterprise_id]
    names = fleet.enterprise_names(state, user, [a.enterprise_id])
    return {
        "d": detail,
        "a": a,
        "asset_types": ASSET_TYPES,
        "criticalities": CRITICALITIES,
        "zones": zones,
        "names": names,
        "list_fields": LIST_FIELDS,
        "form_fields": FORM_FIELDS,
        "may_manage": may_manage(user) and access.can_change(user, a.enterprise_id),
    }


@router.get(BASE + "/{asset_no}")
async def asset_page(
    request: Request, state: StateDep, user: ConsoleUser, asset_no: PathId
) -> Response:
    """One asset: attributes, sources, why its values won, links, conversations, edit."""
    ctx = await run_in_threadpool(_detail_context, state, user, asset_no)
    return render(request, "security_asset.html", ctx)


@router.post(BASE + "/{asset_no}")
async def edit_asset(
    request: Request, state: StateDep, user: ConsoleUser, asset_no: PathId
) -> Response:
    """Save the edit form (a person's values outrank every source)."""
    form = await request.form()
    store = inventory_of(state).store
    try:
        await run_in_threadpool(store.update, user, asset_no, _spec(form, edit=True))
    except IndunetError as exc:
        ctx = await run_in_threadpool(_detail_context, state, user, asset_no)
        ctx["error"] = error_text(request, exc)
        return render(request, "security_asset.html", ctx, status=exc.status)
    return RedirectResponse(f"{BASE}/{asset_no}?saved=1", status_code=303)


@router.post(BASE + "/{asset_no}/delete")
async def delete_asset(
    request: Request, state: StateDep, user: ConsoleUser, asset_no: PathId
) -> Response:
    """Delete an asset once its id is typed to confirm."""
    form = await request.form()
    store = inventory_of(state).store
    try:
        if _text(form, "confirm") != str(asset_no):
            await run_in_threadpool(store.get, user, asset_no)  # another tenant's: 404 first
            raise InvalidInput(
                "type the asset's number to confirm", reason="asset_confirm", params={}
            )
        await run_in_threadpool(store.delete, user, asset_no)
    except IndunetError as exc:
        ctx = await run_in_threadpool(_detail_context, state, user, asset_no)
        ctx["error"] = error_text(request, exc)
        return render(request, "security_asset.html", ctx, status=exc.status)
    return RedirectResponse(BASE, status_code=303)


# --- zones and conduits ---------------------------------------------------------------------


def _zones_context(state: AppState, user: User) -> dict[str, Any]:
    zones: Zones = inventory_of(state).zones
    found = zones.list_zones(user)
    names = fleet.enterprise_names(state, user, [z.enterprise_id for z in found])
    return {
        "zones": found,
        "conduits": zones.list_conduits(user),
        "zone_names": {z.id: z.name for z in found},
        "names": names,
        "may_manage": may_manage(user),
        "enterprise_choices": names if user.role == Role.PLATFORM_ADMIN else {},
        "levels": (1, 2, 3, 4),
    }


async def _zones_answer(
    request: Request, state: AppState, user: User, exc: IndunetError
) -> Response:
    ctx = await run_in_threadpool(_zones_context, state, user)
    ctx["error"] = error_text(request, exc)
    return render(request, "security_zones.html", ctx, status=exc.status)


@router.get(ZONES)
async def zones_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Zones with their target security level and the conduits between them."""
    ctx = await run_in_threadpool(_zones_context, state, user)
    return render(request, "security_zones.html", ctx)


@router.post(ZONES)
async def create_zone(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    form = await request.form()
    zones = inventory_of(state).zones
    try:
        eid = _enterprise(form, user)
        args = (_text(form, "name"), _text(form, "sl_target"), _text(form, "description"))
        await run_in_threadpool(zones.create_zone, user, eid, *args)
    except IndunetError as exc:
        return await _zones_answer(request, state, user, exc)
    return RedirectResponse(ZONES, status_code=303)


@router.post(ZONES + "/{zone_no}/delete")
async def delete_zone(
    request: Request, state: StateDep, user: ConsoleUser, zone_no: PathId
) -> Response:
    try:
        await run_in_threadpool(inventory_of(state).zones.delete_zone, user, zone_no)
    except IndunetError as exc:
        return await _zones_answer(request, state, user, exc)
    return RedirectResponse(ZONES, status_code=303)


@router.post("/security/conduits")
async def create_conduit(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    form = await request.form()
    zones = inventory_of(state).zones
    try:
        a, b = _int(_text(form, "zone_a")), _int(_text(form, "zone_b"))
        if a is None or b is None:
            raise InvalidInput("choose two zones", reason="asset_field", params={"field": "zone_b"})
        args = (_text(form, "name"), a, b, _text(form, "protocols"), _text(form, "description"))
        await run_in_threadpool(zones.create_conduit, user, *args)
    except IndunetError as exc:
        return await _zones_answer(request, state, user, exc)
    return RedirectResponse(ZONES, status_code=303)


@router.post("/security/conduits/{conduit_no}/delete")
async def delete_conduit(
    request: Request, state: StateDep, user: ConsoleUser, conduit_no: PathId
) -> Response:
    try:
        await run_in_threadpool(inventory_of(state).zones.delete_conduit, user, conduit_no)
    except IndunetError as exc:
        return await _zones_answer(request, state, user, exc)
    return RedirectResponse(ZONES, status_code=303)
