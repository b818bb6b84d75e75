"""Virtual devices that carry active identifiers (主动标识).

Each device of the plan gets a key pair (Ed25519 or SM2), kept in a directory when one is
given so that a later run signs with the same keys. The enterprise's token enrols the
device's identifier ``<prefix>/ai-<device id>`` under the prefix of the device's record;
then the device itself, with no account, announces its status, firmware and links signed
with its key, naming its device id, and the platform links the two records. Only the
device client (``indunet_device``) and HTTP are used, as on a real gateway.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from indunet.core import InvalidInput
from indunet.sim.plan import FactoryPlan, SimDevice
from indunet.sim.registration import DEVICES_PATH, PlatformUnreachable
from indunet_device import DeviceKey, generate, load_key, sign_request

ENROL_PATH = "/api/v1/active/enrol"
ANNOUNCE_PATH = "/api/v1/active/announce"
PARALLEL = 8
FIRMWARE = "sim-1.0.0"


@dataclass
class ActiveReport:
    """Per device: enrolled now, announced, linked to its record, or refused (and why)."""

    enrolled: list[str] = field(default_factory=list)
    announced: list[str] = field(default_factory=list)
    linked: dict[str, str] = field(default_factory=dict)  # device id -> active identifier
    failed: dict[str, str] = field(default_factory=dict)


def _why(resp: httpx.Response) -> str:
    try:
        doc = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}"
    detail = doc.get("reason") or doc.get("code") if isinstance(doc, dict) else None
    return f"HTTP {resp.status_code} {detail or ''}".strip()


def _key(keys: Path | None, device: SimDevice, algorithm: str) -> tuple[DeviceKey, bool]:
    """The device's key (loaded from ``keys`` if saved there) and whether it is new."""
    path = keys / f"{device.id}.key.json" if keys is not None else None
    if path is not None and path.is_file():
        return load_key(path), False
    key = generate(algorithm)
    if path is not None:
        key.save(path)
    return key, True


async def announce_active(
    plan: FactoryPlan,
    url: str,
    token: str,
    *,
    algorithm: str = "sm2",
    keys: Path | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ActiveReport:
    """Enrol (with ``token``) and announce (signed) an active identifier for every device."""
    if algorithm not in ("ed25519", "sm2"):
        raise InvalidInput(f"--active takes ed25519 or sm2, not {algorithm!r}")
    if keys is not None:
        await asyncio.to_thread(keys.mkdir, parents=True, exist_ok=True)
    report = ActiveReport()
    base = urlsplit(url).path.rstrip("/")
    gate = asyncio.Semaphore(PARALLEL)
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=30, transport=transport) as c:

        async def one(device: SimDevice) -> None:
            async with gate:
                key, new = await asyncio.to_thread(_key, keys, device, algorithm)
                got = await c.get(f"{DEVICES_PATH}/{device.id}", headers=auth)
                identifier = got.json().get("identifier") if got.status_code == 200 else None
                if not identifier:
                    report.failed[device.id] = f"no identifier ({_why(got)})"
                    return
                handle = f"{identifier.partition('/')[0]}/ai-{device.id}"
                enrol = {"handle": handle, "key": key.hs_pubkey(), "name": device.name}
                made = await c.post(ENROL_PATH, json=enrol, headers=auth)
                if made.status_code == 201:
                    report.enrolled.append(device.id)
                elif made.status_code != 409 or new:  # 409: enrolled by an earlier run
                    report.failed[device.id] = f"enrolment refused ({_why(made)})"
                    return
                doc: dict[str, Any] = {
                    "handle": handle,
                    "status": "online",
                    "firmware": FIRMWARE,
                    "links": [identifier],
                    "device": device.id,
                }
                body = orjson.dumps(doc)
                signed = await asyncio.to_thread(
                    sign_request, key, "POST", base + ANNOUNCE_PATH, handle, body
                )
                headers = {**signed, "Content-Type": "application/json"}
                resp = await c.post(ANNOUNCE_PATH, content=body, headers=headers)
                if resp.status_code != 200:
                    report.failed[device.id] = f"announcement refused ({_why(resp)})"
                    return
                report.announced.append(device.id)
                if resp.json().get("link", {}).get("linked"):
                    report.linked[device.id] = handle

        try:
            async with asyncio.TaskGroup() as tg:
                for d in plan.devices:
                    tg.create_task(one(d))
        except* httpx.TransportError as group:
            raise PlatformUnreachable(
                f"cannot reach the platform at {url}: {group.exceptions[0]}"
            ) from None
    return report
