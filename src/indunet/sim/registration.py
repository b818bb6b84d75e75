"""Registering a factory's devices with a platform through its HTTP API (``POST /api/v1/devices``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx

from indunet.core import AuthenticationFailed, IndunetError, InvalidInput, NotFound
from indunet.sim.plan import FactoryPlan, SimDevice

DEVICES_PATH = "/api/v1/devices"
ENTERPRISES_PATH = "/api/v1/enterprises"
PARALLEL = 8


class PlatformUnreachable(IndunetError):
    """The platform's HTTP API did not answer."""

    code = "platform_unreachable"
    status = 502


@dataclass
class Registration:
    """What happened to each device: created, already there, or refused (with the reason)."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def body(device: SimDevice, enterprise_id: int | None) -> dict[str, Any]:
    """The request body for one device (the plan's entry, plus the owning enterprise)."""
    out = device.to_dict()
    if enterprise_id is not None:
        out["enterprise_id"] = enterprise_id
    return out


async def _enterprise_id(client: httpx.AsyncClient, enterprise: str | None) -> int | None:
    """An enterprise id as given, or the id of the enterprise with that USCC."""
    if enterprise is None or enterprise.isdigit():
        return None if enterprise is None else int(enterprise)
    resp = await client.get(ENTERPRISES_PATH)
    _check_auth(resp)
    if resp.status_code != 200:
        raise InvalidInput(f"cannot list the platform's enterprises: {_reason(resp)}")
    for ent in resp.json():
        if isinstance(ent, dict) and str(ent.get("uscc", "")).upper() == enterprise.upper():
            return int(ent["id"])
    raise NotFound(f"the platform has no enterprise with USCC {enterprise}")


def _check_auth(resp: httpx.Response) -> None:
    if resp.status_code in (401, 403):
        raise AuthenticationFailed(f"the platform refused the token: {_reason(resp)}")


def _reason(resp: httpx.Response) -> str:
    try:
        doc = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}"
    if isinstance(doc, dict):
        msg = doc.get("message") or doc.get("detail")
        if msg:
            return f"HTTP {resp.status_code}: {msg}"
    return f"HTTP {resp.status_code}"


async def register(
    plan: FactoryPlan,
    url: str,
    token: str,
    *,
    enterprise: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Registration:
    """Create every device of the plan on the platform at ``url``; existing ones are kept.

    ``enterprise`` (an enterprise id or USCC) is needed when the token is a platform
    administrator's. An unreachable platform, a refused token or a refused first device
    stops everything; later refusals are collected per device.
    """
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"--register takes the platform's URL (http://host:port), not {url!r}")
    result = Registration()
    gate = asyncio.Semaphore(PARALLEL)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=url.rstrip("/"), headers=headers, timeout=30, transport=transport
    ) as client:

        async def one(device: SimDevice, eid: int | None) -> None:
            async with gate:
                try:
                    resp = await client.post(DEVICES_PATH, json=body(device, eid))
                except httpx.TransportError as exc:
                    raise PlatformUnreachable(
                        f"cannot reach the platform at {url}: {exc}"
                    ) from None
            _check_auth(resp)
            if resp.status_code in (200, 201):
                result.created.append(device.id)
            elif resp.status_code == 409:
                result.existing.append(device.id)
            else:
                result.failed[device.id] = _reason(resp)

        try:
            eid = await _enterprise_id(client, enterprise)
        except httpx.TransportError as exc:
            raise PlatformUnreachable(f"cannot reach the platform at {url}: {exc}") from None
        if not plan.devices:
            return result
        first, *rest = plan.devices
        await one(first, eid)  # a refusal common to all shows up once, not once per device
        if first.id in result.failed:
            raise InvalidInput(f"the platform refused {first.id}: {result.failed[first.id]}")
        try:
            async with asyncio.TaskGroup() as tg:
                for d in rest:
                    tg.create_task(one(d, eid))
        except* IndunetError as group:
            raise group.exceptions[0] from None
    return result
