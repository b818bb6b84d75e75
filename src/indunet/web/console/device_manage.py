"""Changing one device from its page: edit (name, site, tags, protocol and connection), a new
secret (shown once), delete (after typing the device id).

Every action is a POST (the CSRF guard checks it), looks the device up as the user may see
it (another enterprise's device is not found), then asks ``core.access`` whether the user
may change it (a reader gets 403 and nothing changes); the registry audits each change.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from indunet.core import IndunetError, NotFound, User, access
from indunet.devices import Device
from indunet.web.console import fleet
from indunet.web.console.device import device_response
from indunet.web.console.deviceform import EDIT_FIELDS, changes_of, typed
from indunet.web.console.forms import FormError
from indunet.web.console.i18n import N_
from indunet.web.console.pages import error_text, render
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.platform import Platform

router = APIRouter(include_in_schema=False)


async def _visible(platform: Platform, user: User, device_id: str) -> Device | None:
    """The device if ``user`` may see it, else None (the registry may read the database)."""
    try:
        device: Device = await run_in_threadpool(fleet.visible_device, platform, user, device_id)
    except NotFound:
        return None
    return device


def _check_change(user: User, device: Device) -> None:
    access.check_change(user, device.enterprise_id, f"device {device.id}")


def _missing(request: Request, device_id: str) -> Response:
    return render(request, "device.html", {"missing": device_id}, status=404)


@router.post("/platform/devices/{device_id}/edit")
async def edit_device(
    request: Request, state: StateDep, user: ConsoleUser, device_id: str
) -> Response:
    """Change the device's name, site, tags, protocol or connection settings."""
    platform = fleet.platform_of(state)
    device = await _visible(platform, user, device_id)
    if device is None:
        return _missing(request, device_id)
    fields = typed(await request.form(), EDIT_FIELDS)
    try:
        _check_change(user, device)
        changed = await run_in_threadpool(
            platform.devices.update, device.id, changes_of(fields, device), actor=user.actor
        )
    except IndunetError as exc:
        extra = {"edit_error": error_text(request, exc), "edit": fields, "edit_open": True}
        return await device_response(request, state, user, device, extra, status=exc.status)
    platform.pipeline.invalidate(device.id)  # its protocol or connection may have changed
    return await device_response(request, state, user, changed, {"edited": True})


@router.post("/platform/devices/{device_id}/secret")
async def new_secret(
    request: Request, state: StateDep, user: ConsoleUser, device_id: str
) -> Response:
    """Issue a new device secret, shown on this answer only; the old one stops working."""
    platform = fleet.platform_of(state)
    device = await _visible(platform, user, device_id)
    if device is None:
        return _missing(request, device_id)
    try:
        _check_change(user, device)
        secret = await run_in_threadpool(
            platform.devices.rotate_secret, device.id, actor=user.actor
        )
    except IndunetError as exc:
        extra = {"manage_error": error_text(request, exc)}
        return await device_response(request, state, user, device, extra, status=exc.status)
    response = await device_response(request, state, user, device, {"new_secret": secret})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/platform/devices/{device_id}/delete")
async def delete_device(
    request: Request, state: StateDep, user: ConsoleUser, device_id: str
) -> Response:
    """Delete the device once its id is typed to confirm; its data is purged after."""
    platform = fleet.platform_of(state)
    device = await _visible(platform, user, device_id)
    if device is None:
        return _missing(request, device_id)
    confirm = (await request.form()).get("confirm", "")
    try:
        _check_change(user, device)
        if not isinstance(confirm, str) or confirm.strip() != device.id:
            raise FormError(N_("device.delete_confirm_wrong"), id=device.id)
        await run_in_threadpool(platform.devices.delete, device.id, actor=user.actor)
    except (IndunetError, FormError) as exc:
        extra = {"manage_error": error_text(request, exc), "delete_open": True}
        status = getattr(exc, "status", 400)
        return await device_response(request, state, user, device, extra, status=status)
    platform.pipeline.invalidate(device.id)  # late samples of it become dead letters
    await platform.purger.purge_pending()
    return RedirectResponse("/platform/devices", status_code=303)
