"""Active identifiers (主动标识) over HTTP: an enterprise enrols a device's key, the device
announces itself and rotates its key with signed requests (``ids.active``).

``/active/announce`` and ``/active/rotate`` take no account: the signature is the
credential, checked against the key in the identifier's record. The body is read here,
bounded, and signed byte for byte, so these routes take the raw request.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from indunet import ids
from indunet.core import access
from indunet.devices import activelink
from indunet.ids import active, activekeys
from indunet.web.auth import template_manager
from indunet.web.deps import StateDep, UserDep
from indunet.web.state import AppState

router = APIRouter()
SIGNED: dict[int | str, dict[str, Any]] = {
    401: {"description": "no, or a wrong, signature; or the timestamp is off by over 5 minutes"},
    409: {"description": "the nonce was used before (a replay)"},
    413: {"description": "the body is larger than 16 KiB"},
}


class EnrolIn(BaseModel):
    """A device's identifier and public key, created by its enterprise."""

    model_config = ConfigDict(extra="forbid", strict=True)

    handle: str = Field(max_length=255, examples=["88.100.1/ai-4G-860123456789012"])
    key: str = Field(
        max_length=activekeys.MAX_KEY_TEXT,
        description="the device's public key: HS_PUBKEY bytes (ED25519_PUB_KEY or "
        "SM2_PUB_KEY) in base64",
    )
    device: str | None = Field(
        default=None, max_length=63, description="bind it to this device of the platform now"
    )
    name: str = Field(default="", max_length=200)


async def _signed(request: Request) -> active.Request:
    size = request.headers.get("content-length", "")
    if size.isdigit() and int(size) > active.MAX_BODY_BYTES:
        raise active.too_large(int(size))
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > active.MAX_BODY_BYTES:
            raise active.too_large(len(raw))
    return active.Request(request.method, request.url.path, request.headers, raw)


def _announce(state: AppState, req: active.Request) -> dict[str, Any]:
    """Verify, check the link it asks for, write, link: a refusal changes nothing."""
    node, platform = state.hierarchy.front, state.platform
    v = active.verify(node, req)
    device = active.device_claim(v.body)
    if device is not None and platform is not None:
        activelink.link(node, platform.devices, v.handle.text, device, dry_run=True)
    done = active.write_announcement(node, v)
    out: dict[str, Any] = {"handle": done.handle, "fields": list(done.fields)}
    if device is not None:
        if platform is None:
            out["link"] = {"device": device, "linked": False, "reason": "no_platform"}
        else:
            made = activelink.link(node, platform.devices, done.handle, device)
            out["link"] = {"device": device, "identifier": made.identifier, "linked": True}
    return out


@router.post("/active/enrol", tags=["identifiers"], status_code=201)
def enrol(body: EnrolIn, user: UserDep, state: StateDep) -> dict[str, Any]:
    """Create a device's active identifier holding its public key (an enterprise or platform
    admin; the device keeps the record from then on). ``device`` binds it to a device now.
    Another enterprise's prefix is not found (404), as for one that does not exist."""
    node = state.hierarchy.front
    prefix = ids.handle.parse(body.handle).prefix
    principal = template_manager(state.engine, user, prefix)  # it may create active@1 there
    bound = None
    if body.device is not None:
        platform = state.platform
        d = platform.devices.lookup(body.device) if platform is not None else None
        if d is None or not d.identifier or not access.can_see(user, d.enterprise_id):
            raise activelink.unknown_device(body.device)
        bound = d.identifier
    handle = active.enrol(node, principal, body.handle, body.key, device=bound, name=body.name)
    return {"handle": handle, "key_index": active.KEY_INDEX, "device": bound}


@router.post("/active/announce", tags=["identifiers"], responses=SIGNED)
async def announce(request: Request, state: StateDep) -> dict[str, Any]:
    """A device sets its status, firmware, location and links, signed with its key; naming
    ``device`` links it to that device record of its enterprise."""
    req = await _signed(request)
    out: dict[str, Any] = await run_in_threadpool(_announce, state, req)
    return out


@router.post("/active/rotate", tags=["identifiers"], responses=SIGNED)
async def rotate(request: Request, state: StateDep) -> dict[str, Any]:
    """A device replaces its key: signed with the current key, with the new key's proof."""
    req = await _signed(request)
    handle = await run_in_threadpool(active.rotate, state.hierarchy.front, req)
    return {"handle": handle, "key_index": active.KEY_INDEX}
