"""Devices (设备) API: register, list, change and delete devices; CSV import; secrets.

The platform administrator manages every device; an enterprise administrator manages their
enterprise's devices; enterprise users read their enterprise's devices; regulators read all.
A device's secret is returned once, when it is created or rotated.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from indunet import devices
from indunet.core import InvalidInput, User, access
from indunet.devices.listing import DeviceQuery, find
from indunet.web.deps import BodyId, PlatformDep, QueryId, UserDep

router = APIRouter(prefix="/devices", tags=["devices"])
MAX_CSV = 10 * 1024 * 1024


class DeviceChanges(BaseModel):
    """Fields of a device that may change; omitted fields stay as they are."""

    name: str | None = Field(default=None, max_length=200)
    model: str | None = Field(
        default=None, description="model id, or id@version", examples=["indunet:power-meter"]
    )
    model_version: str | None = None
    protocol: devices.Protocol | None = None
    connection: dict[str, Any] | None = Field(
        default=None,
        description="modbus: host, port, unit, timeout, retries, poll_interval, max_gap, "
        "max_block, max_bits, offline_after; opcua: endpoint, security_policy, security_mode, "
        "certificate, private_key, private_key_password, server_certificate, application_uri, "
        "username, password, timeout, watchdog_interval; mqtt/http: none",
        examples=[{"host": "192.168.1.20", "port": 502, "unit": 1}],
    )
    location: dict[str, Any] | None = Field(
        default=None, examples=[{"site": "二车间", "latitude": 24.48, "longitude": 118.09}]
    )
    tags: list[str] | None = None
    manufacturer: str | None = Field(default=None, max_length=200)
    serial: str | None = Field(default=None, max_length=200)


class DeviceIn(DeviceChanges):
    """A device to register."""

    id: str = Field(description="[a-z0-9][a-z0-9_-]{0,62}, unique", examples=["meter-0001"])
    name: str | None = Field(default=None, max_length=200, examples=["1号电表"])
    enterprise_id: BodyId | None = Field(
        default=None, description="needed from a platform administrator; others use their own"
    )
    secret: str | None = Field(
        default=None, description="device secret (16+ characters); generated when omitted"
    )
    prefix: str | None = Field(
        default=None, description="the enterprise prefix to register the identifier under"
    )


def _target_enterprise(user: User, given: int | None) -> int:
    """The enterprise a write acts for: an overseer names it, an enterprise admin has one."""
    eid = access.change_scope(user, given, "manage devices")
    if eid is None:
        raise InvalidInput("name the device's enterprise with enterprise_id")
    return eid


def _writable(user: User, reg: devices.DeviceRegistry, device_id: str) -> devices.Device:
    device = reg.visible(user, device_id)
    access.check_change(user, device.enterprise_id, f"device {device_id}")
    return device


def _registry(platform: PlatformDep) -> devices.DeviceRegistry:
    reg: devices.DeviceRegistry = platform.devices
    return reg


@router.get("", responses={200: {"headers": {"X-Total-Count": {"description": "matches"}}}})
def list_devices(
    platform: PlatformDep,
    user: UserDep,
    response: Response,
    enterprise_id: QueryId = None,
    status: devices.Status | None = None,
    tag: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="text in the id, name, a tag or the site")
    ] = None,
    sort: Literal["id", "name", "status", "last_seen"] = "id",
    desc: bool = False,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="none: all")] = None,
) -> list[dict[str, Any]]:
    """Devices you may see, sorted by id (or ``sort``); filter by enterprise, status, tag or
    search text; ``offset`` and ``limit`` cut a page, ``X-Total-Count`` says how many match.
    ``last_seen`` (ISO 8601, UTC) is when the device's data last arrived."""
    enterprise_id = access.scope(user, enterprise_id)
    every = _registry(platform).list(enterprise_id=enterprise_id)
    query = DeviceQuery((q or "").strip(), status or "", tag or "", sort, desc, offset, limit)
    found = find(every, enterprise_id, query)
    response.headers["X-Total-Count"] = str(found.total)
    return [d.to_json() for d in found.items]


@router.post("", status_code=201)
async def create_device(body: DeviceIn, platform: PlatformDep, user: UserDep) -> dict[str, Any]:
    """Register a device and its identifier; the response carries its secret, shown once."""
    eid = _target_enterprise(user, body.enterprise_id)
    spec = body.model_dump(exclude_unset=True, exclude={"enterprise_id"})
    device, secret = await run_in_threadpool(
        _registry(platform).create, eid, spec, actor=user.actor
    )
    return {**device.to_json(), "secret": secret}


@router.post(
    "/import",
    openapi_extra={
        "requestBody": {
            "description": "a CSV file with a header line (id,name,model required), sent as "
            "text/csv or as the `file` field of multipart/form-data",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
async def import_devices(
    request: Request, platform: PlatformDep, user: UserDep, enterprise_id: QueryId = None
) -> dict[str, Any]:
    """Create a device per CSV row; bad rows come back by line number, good rows are kept."""
    eid = _target_enterprise(user, enterprise_id)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidInput("send the CSV as the 'file' field of the form")
        raw = await upload.read(MAX_CSV + 1)
    elif kind in ("text/csv", "text/plain"):
        raw = await request.body()
    else:
        raise InvalidInput(f"send text/csv or multipart/form-data, not {kind or 'no content type'}")
    if len(raw) > MAX_CSV:
        raise InvalidInput(f"the CSV file is larger than {MAX_CSV // 1024 // 1024} MB; split it")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the CSV file must be UTF-8 encoded") from None
    report = await run_in_threadpool(_registry(platform).import_csv, eid, text, actor=user.actor)
    return report.to_json()


@router.get("/{device_id}")
def get_device(device_id: str, platform: PlatformDep, user: UserDep) -> dict[str, Any]:
    """One device with its live status."""
    return _registry(platform).visible(user, device_id).to_json()


@router.patch("/{device_id}")
async def update_device(
    device_id: str, body: DeviceChanges, platform: PlatformDep, user: UserDep
) -> dict[str, Any]:
    """Change a device; its identifier record follows name, model, maker and serial."""
    reg = _registry(platform)
    _writable(user, reg, device_id)
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidInput("send at least one field to change")
    device = await run_in_threadpool(reg.update, device_id, changes, actor=user.actor)
    return device.to_json()


@router.delete("/{device_id}", status_code=204)
async def delete_device(device_id: str, platform: PlatformDep, user: UserDep) -> None:
    """Delete a device and its identifier, and purge its telemetry (off the event loop)."""
    reg = _registry(platform)
    _writable(user, reg, device_id)
    await run_in_threadpool(reg.delete, device_id, actor=user.actor)
    platform.pipeline.invalidate(device_id)  # late samples of it become dead letters
    await platform.purger.purge_pending()


@router.post("/{device_id}/secret")
async def rotate_secret(device_id: str, platform: PlatformDep, user: UserDep) -> dict[str, str]:
    """Issue a new device secret (shown once); the old one stops working at once."""
    reg = _registry(platform)
    _writable(user, reg, device_id)
    secret = await run_in_threadpool(reg.rotate_secret, device_id, actor=user.actor)
    return {"id": device_id, "secret": secret}
