"""Telemetry over HTTP: batch ingest, dead letters, pipeline statistics, retention.

``POST /api/v1/telemetry`` answers 200 only once every accepted sample is durable (stored,
or in the on-disk buffer), 400 for a body it cannot read (kept as a dead letter), and 503
with ``Retry-After`` when the buffer is full. The body shapes are in connect-http.md. An
``http`` device is online while it posts (offline after ``devices.HTTP_SILENT_S`` of silence).
Refused device credentials and samples for device ids nobody registered are noted for the
security platform (``connect.events``: target ``device``; way in ``http``), with the sender's
address.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from indunet import connect, core, telemetry
from indunet.connect.events import AUTH_FAILURES, UNKNOWN_DEVICES
from indunet.core import AuthenticationFailed, NotFound, PermissionDenied, Role, User, access
from indunet.telemetry.checks import said
from indunet.web.auth import peer_address
from indunet.web.deps import (
    PathId,
    PlatformDep,
    QueryId,
    StateDep,
    UserDep,
    current_user,
    require,
)
from indunet.web.platform import Platform

router = APIRouter(tags=["telemetry"])
MAX_BODY = 32 * 1024 * 1024  # bytes per request, after decompression
RETRY_AFTER_S = 5
_WRITERS = (Role.PLATFORM_ADMIN, Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_USER)
_KEPT_BYTES = 16_384  # of an unreadable body, for its dead letter


@dataclass(frozen=True)
class Sender:
    """Who posts telemetry: a user (any device of their enterprise) or one device."""

    user: User | None = None
    device: str | None = None


def _pipeline(platform: Platform) -> telemetry.Pipeline:
    if platform.pipeline is None:
        raise NotFound("this process runs no ingest pipeline")
    pipeline: telemetry.Pipeline = platform.pipeline
    return pipeline


async def _sender(request: Request, state: Any, platform: Platform) -> Sender:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "device":
        device_id, sep, secret = credentials.strip().partition(":")
        registry = platform.devices
        if not sep:
            ok = False
        elif registry.holds(device_id):  # the hot path: from memory, on the loop
            ok = registry.authenticate(device_id, secret)
        else:  # an id not in memory is read through from the database: off the loop
            ok = await run_in_threadpool(registry.authenticate, device_id, secret)
        if not ok:
            named = device_id if sep else None  # no ':': the text may be the secret alone
            failure = (peer_address(request.scope), named, named, "device", None)
            state.signals.of(AUTH_FAILURES).add(failure)
            raise AuthenticationFailed(
                "device credentials are wrong; send 'Authorization: Device <device id>:<secret>'"
            )
        return Sender(device=device_id)
    user = await run_in_threadpool(current_user, request, state)
    require(user, *_WRITERS)
    return Sender(user=user)


def _may_write(sender: Sender, devices: set[str], platform: Platform) -> None:
    """Refuse a body naming a device the sender may not write for (nothing is stored)."""
    if sender.device is not None:
        others = sorted(devices - {sender.device})
        if others:
            raise PermissionDenied(
                f"device {sender.device} may send only its own telemetry; "
                f"the body also names {', '.join(others[:5])}"
            )
        return
    user = sender.user
    assert user is not None
    for device_id in devices:
        device = platform.devices.lookup(device_id)
        if device is not None:  # unknown devices become dead letters, not refusals
            access.check_change(user, device.enterprise_id, f"device {device_id}", users_too=True)


def _seen(platform: Platform, devices: set[str]) -> None:
    """HTTP devices whose telemetry just arrived are online (``DeviceRegistry.expire_silent`` marks them offline).

    Devices of other protocols keep the status their connection gives them: a gateway
    back-filling a Modbus meter's history says nothing about whether the meter answers now.
    """
    now = time.time()
    for device_id in devices:
        device = platform.devices.lookup(device_id)
        if device is not None and device.protocol == "http":
            platform.devices.set_status(device_id, True, now)
    platform.devices.saw_data(devices, now)  # every device's last_seen: its data arrived


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise connect.PayloadTooLarge(f"the body is over {MAX_BODY:,} bytes; send smaller batches")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise connect.PayloadTooLarge(
                f"the body is over {MAX_BODY:,} bytes; send smaller batches"
            )
        chunks.append(chunk)
    body = b"".join(chunks)
    return connect.inflate_body(body, request.headers.get("content-encoding", ""), MAX_BODY)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


@router.post(
    "/telemetry",
    responses={
        200: {"description": "stored (or buffered on disk): accepted, dead_lettered, errors"},
        400: {"description": "the body is not one of the telemetry shapes (kept as a dead letter)"},
        403: {"description": "the body names a device the sender may not write for"},
        503: {"description": "the ingest buffer is full; retry after Retry-After seconds"},
    },
)
async def post_telemetry(request: Request, state: StateDep, platform: PlatformDep) -> Response:
    """Store a batch of samples (rows or columns); answers once they are durable.

    Authenticate as a user (``Authorization: Bearer <token>``: any device of the user's
    enterprise) or as a device (``Authorization: Device <device id>:<secret>``: that device
    only).
    """
    pipeline = _pipeline(platform)
    sender = await _sender(request, state, platform)
    body = await _read_body(request)
    try:
        batch = connect.decode_telemetry(body)
    except connect.PayloadInvalid as exc:
        why, params = (
            said(exc.reason, **exc.params)
            if exc.reason
            else said("payload_undecodable", message=exc.message)
        )
        await pipeline.reject(
            sender.device,
            source="http",
            reason=exc.message,
            payload=body[:_KEPT_BYTES],
            why=why,
            params=params,
        )
        raise
    if sender.device is not None:  # a device writes only its own: no registry read
        _may_write(sender, batch.devices, platform)
    else:  # the registry reads an unknown device through from the database: off the loop
        await run_in_threadpool(_may_write, sender, batch.devices, platform)
    try:
        receipt = await pipeline.ingest(batch.samples, source="http")
    except telemetry.Overloaded as exc:
        return _json(exc.to_dict(), exc.status, {"Retry-After": str(RETRY_AFTER_S)})
    _seen(platform, batch.devices)
    if receipt.unknown:
        address = peer_address(request.scope)
        enterprise = sender.user.enterprise_id if sender.user is not None else None
        unknown = state.signals.of(UNKNOWN_DEVICES)
        for device in receipt.unknown:
            unknown.add((address, device, "http", enterprise))
    return _json(
        {
            "accepted": receipt.accepted,
            "dead_lettered": receipt.dead_lettered,
            "errors": receipt.errors,
        }
    )


@router.get("/telemetry/dead-letters")
def list_dead_letters(
    platform: PlatformDep,
    user: UserDep,
    device: str | None = None,
    reason: str | None = None,
    source: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: QueryId = None,
) -> dict[str, Any]:
    """Rejected samples and payloads, newest first; enterprise users see their devices' only."""
    letters = _pipeline(platform).dead_letters
    enterprise: int | None = None  # letters carry their device's enterprise: filter by it
    if not access.sees_all(user):
        enterprise = access.scope(user)
        if device is not None:
            platform.devices.visible(user, device)
    items = letters.list(
        limit,
        device=device,
        reason=reason,
        source=source,
        before_id=before_id,
        enterprise_id=enterprise,
    )
    return {
        "items": [x.to_dict() for x in items],
        "total": letters.count(device=device, enterprise_id=enterprise),
        "by_reason": letters.counts_by_reason(device=device, enterprise_id=enterprise),
    }


@router.get("/telemetry/stats")
def ingest_stats(platform: PlatformDep, user: UserDep) -> dict[str, Any]:
    """Counters of the ingest pipeline since the process started."""
    require(user, *access.OVERSEERS)
    return _pipeline(platform).stats()


@router.get("/telemetry/retention/{enterprise_id}")
def get_retention(enterprise_id: PathId, state: StateDep, user: UserDep) -> dict[str, Any]:
    """Days of telemetry kept for an enterprise's devices."""
    access.check_see(user, enterprise_id, f"enterprise {enterprise_id}")
    with state.engine.connect() as conn:
        core.get_enterprise_by_id(conn, enterprise_id)
        days = telemetry.get_retention(conn, enterprise_id, default=state.settings.retention_days)
    return {"enterprise_id": enterprise_id, "days": days}


@router.put("/telemetry/retention/{enterprise_id}")
def put_retention(
    enterprise_id: PathId,
    state: StateDep,
    user: UserDep,
    days: Annotated[int, Body(embed=True, description="days to keep, 1 to 36,500")],
) -> dict[str, Any]:
    """Set how many days of telemetry an enterprise keeps (its admins or a platform admin)."""
    access.check_change(user, enterprise_id, f"enterprise {enterprise_id}")
    with state.engine.begin() as conn:
        core.get_enterprise_by_id(conn, enterprise_id)
        telemetry.set_retention(conn, enterprise_id, days, actor=user.actor)
    return {"enterprise_id": enterprise_id, "days": days}
