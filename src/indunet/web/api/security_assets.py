"""The asset inventory (资产台账) over HTTP: ``/api/v1/security/assets``, ``/zones``,
``/conduits``.

Lists search and page on the server; another enterprise's asset, zone or conduit is 404
exactly like a missing one; enterprise admins (and platform admins) change their
enterprise's inventory, every change audited. CSV import is all or nothing (a 400 names each
bad row by line and column in ``detail``); export streams UTF-8 CSV. Times are ISO 8601 UTC.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from indunet.core import InvalidInput, NotFound, access
from indunet.security.assets import Asset, Assets, Zones, csvio
from indunet.security.assets.service import Inventory
from indunet.web.api.security_events import read_body, security_of
from indunet.web.deps import BodyId, PathId, QueryId, StateDep, UserDep

router = APIRouter(prefix="/security", tags=["security"])
MAX_CSV = csvio.MAX_BYTES
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=100)]
Text = Annotated[str, Query(max_length=100)]
Short = Annotated[str | None, Field(default=None, max_length=200)]
Many = Annotated[list[str | int] | str | None, Field(default=None)]


def inventory(state: Any) -> Inventory:
    part = security_of(state).part("assets")
    if not isinstance(part, Inventory):
        raise NotFound("this process runs no asset inventory")
    return part


def _store(state: Any) -> Assets:
    return inventory(state).store


def _zones(state: Any) -> Zones:
    return inventory(state).zones


def asset_json(a: Asset) -> dict[str, Any]:
    out = asdict(a)
    for key, value in out.items():
        if hasattr(value, "isoformat"):
            out[key] = value.isoformat()
    return out


class AssetEdit(BaseModel):
    """An asset's attributes (every one optional; lists as arrays)."""

    model_config = ConfigDict(extra="forbid")
    name: Short = None
    asset_type: Short = None
    role: Short = None
    vendor: Short = None
    model: Short = None
    model_numbers: Many = None
    firmware: Short = None
    serial: Short = None
    hostname: Short = None
    location: Short = None
    logging: Short = None
    criticality: Short = None
    zone_id: BodyId | None = None
    ips: Many = None
    macs: Many = None
    protocols: Many = None
    ports: Many = None
    accounts: Many = None
    device_id: Short = None
    identifier: Annotated[str | None, Field(default=None, max_length=255)] = None


class AssetBody(AssetEdit):
    """A new asset: its attributes and the enterprise it is of (an overseer's choice)."""

    enterprise_id: BodyId | None = None


class ZoneEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(max_length=100)]
    sl_target: Annotated[int, Field(ge=1, le=4, description="the target security level SL-T")]
    description: Annotated[str, Field(max_length=500)] = ""


class ZoneBody(ZoneEdit):
    enterprise_id: BodyId | None = None


class ConduitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(max_length=100)]
    zone_a: BodyId
    zone_b: BodyId
    protocols: Many = None
    description: Annotated[str, Field(max_length=500)] = ""


@router.get("/assets")
async def list_assets(
    state: StateDep,
    user: UserDep,
    q: Text = "",
    asset_type: Annotated[str, Query(max_length=8, description="A0001…A0018")] = "",
    zone_id: QueryId = None,
    criticality: Annotated[str, Query(max_length=8)] = "",
    enterprise_id: QueryId = None,
    offset: Offset = 0,
    limit: Limit = 20,
) -> dict[str, Any]:
    """Assets by name: search (name, IP, MAC, vendor, model, type, hostname, serial) and
    filters (ATT&CK type, zone, criticality)."""
    items, total = await run_in_threadpool(
        lambda: _store(state).page(
            user,
            q=q,
            asset_type=asset_type,
            zone_id=zone_id,
            criticality=criticality,
            enterprise_id=enterprise_id,
            offset=offset,
            limit=limit,
        )
    )
    return {"items": [asset_json(a) for a in items], "total": total}


@router.post("/assets", status_code=201)
async def create_asset(state: StateDep, user: UserDep, body: AssetBody) -> dict[str, Any]:
    """A new asset (409 naming the one that already has its MAC, IP, identifier or device)."""
    spec = body.model_dump(exclude_unset=True, exclude={"enterprise_id"})
    a = await run_in_threadpool(_store(state).create, user, body.enterprise_id, spec)
    return asset_json(a)


@router.get("/assets/export")
async def export_assets(
    state: StateDep, user: UserDep, enterprise_id: QueryId = None
) -> StreamingResponse:
    """Every asset the caller may see as CSV (the import's columns)."""
    chunks = await run_in_threadpool(
        lambda: list(csvio.export_csv(_store(state), user, enterprise_id))
    )
    return StreamingResponse(
        iterate_in_threadpool(iter(chunks)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="assets.csv"'},
    )


@router.post(
    "/assets/import",
    openapi_extra={
        "requestBody": {
            "description": "a CSV file with a header row (docs/security/assets.md), as text/csv",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def import_assets(
    request: Request, state: StateDep, user: UserDep, enterprise_id: QueryId = None
) -> dict[str, int]:
    """Merge every row into the inventory, or nothing when a row is bad (400 naming each)."""
    access.change_scope(user, enterprise_id, "import assets")  # 404/403 before the body
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("text/csv", "text/plain", "application/octet-stream"):
        raise InvalidInput(
            f"send the file as text/csv, not {kind or 'no content type'}",
            reason="asset_csv_type",
            params={},
        )
    raw = await read_body(request, MAX_CSV)
    store = _store(state)
    result: dict[str, int] = await run_in_threadpool(
        csvio.import_csv, store, user, enterprise_id, raw
    )
    return result


@router.get("/assets/{asset_id}")
async def get_asset(state: StateDep, user: UserDep, asset_id: PathId) -> dict[str, Any]:
    """One asset with its sources, merge history (newest first), zone and conversations."""
    d = await run_in_threadpool(_store(state).get, user, asset_id)
    out = asset_json(d.asset)
    out["zone_name"] = d.zone_name
    out["merges"] = [asdict(m) | {"at": m.at.isoformat()} for m in d.merges]
    return out


@router.patch("/assets/{asset_id}")
async def update_asset(
    state: StateDep, user: UserDep, asset_id: PathId, body: AssetEdit
) -> dict[str, Any]:
    """Change attributes (a person's values outrank every source; lists given replace)."""
    spec = body.model_dump(exclude_unset=True)
    return asset_json(await run_in_threadpool(_store(state).update, user, asset_id, spec))


@router.delete("/assets/{asset_id}", status_code=204)
async def delete_asset(state: StateDep, user: UserDep, asset_id: PathId) -> None:
    await run_in_threadpool(_store(state).delete, user, asset_id)


@router.get("/zones")
async def list_zones(
    state: StateDep, user: UserDep, enterprise_id: QueryId = None
) -> dict[str, Any]:
    """Zones (with their SL-T and how many assets) and the conduits between them."""
    zones = await run_in_threadpool(_zones(state).list_zones, user, enterprise_id)
    conduits = await run_in_threadpool(_zones(state).list_conduits, user, enterprise_id)
    return {"zones": [asdict(z) for z in zones], "conduits": [asdict(c) for c in conduits]}


@router.post("/zones", status_code=201)
async def create_zone(state: StateDep, user: UserDep, body: ZoneBody) -> dict[str, Any]:
    z = await run_in_threadpool(
        _zones(state).create_zone,
        user,
        body.enterprise_id,
        body.name,
        body.sl_target,
        body.description,
    )
    return asdict(z)


@router.put("/zones/{zone_id}")
async def update_zone(
    state: StateDep, user: UserDep, zone_id: PathId, body: ZoneEdit
) -> dict[str, Any]:
    z = await run_in_threadpool(
        _zones(state).update_zone, user, zone_id, body.name, body.sl_target, body.description
    )
    return asdict(z)


@router.delete("/zones/{zone_id}", status_code=204)
async def delete_zone(state: StateDep, user: UserDep, zone_id: PathId) -> None:
    """Delete a zone (409 while conduits join it): its assets stay, without a zone."""
    await run_in_threadpool(_zones(state).delete_zone, user, zone_id)


@router.post("/conduits", status_code=201)
async def create_conduit(state: StateDep, user: UserDep, body: ConduitBody) -> dict[str, Any]:
    c = await run_in_threadpool(
        _zones(state).create_conduit,
        user,
        body.name,
        body.zone_a,
        body.zone_b,
        body.protocols,
        body.description,
    )
    return asdict(c)


@router.delete("/conduits/{conduit_id}", status_code=204)
async def delete_conduit(state: StateDep, user: UserDep, conduit_id: PathId) -> None:
    await run_in_threadpool(_zones(state).delete_conduit, user, conduit_id)
