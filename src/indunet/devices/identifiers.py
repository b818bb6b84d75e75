"""Industrial identifiers of devices: ``<enterprise prefix>/dev-<device id>`` records.

A device's record follows the prefix's ``device@1`` data template (created on first use):
model, manufacturer, serial number, device id and, when the platform knows its public URL,
the device's page. Writes go through the identifier node's public API as the operator.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from indunet import ids
from indunet.core import Conflict, InvalidInput
from indunet.ids.values import TEMPLATE_INDEX

TEMPLATE_NAME, TEMPLATE_VERSION = "device", "1"
TEMPLATE_REF = f"{TEMPLATE_NAME}@{TEMPLATE_VERSION}"
ITEMS = (
    {"name": "device_id", "type": "string", "index": 2001, "required": True, "title": "设备编号"},
    {"name": "model", "type": "string", "index": 2002, "required": True, "title": "设备型号"},
    {"name": "manufacturer", "type": "string", "index": 2003, "title": "制造商"},
    {"name": "serial", "type": "string", "index": 2004, "title": "出厂编号"},
    {"name": "platform_url", "type": "url", "index": 2005, "title": "平台地址"},
)


def handle_of(prefix: str, device_id: str) -> str:
    """The identifier of a device under an enterprise prefix."""
    return f"{prefix}/dev-{device_id}"


def pick_prefix(node: ids.Node, enterprise_id: int, wanted: str | None = None) -> str:
    """The enterprise prefix (served by ``node``) to register devices under."""
    held = sorted(
        a.prefix
        for a in ids.list_allocations(node.engine, enterprise_id=enterprise_id)
        if a.node == node.name
    )
    if wanted:
        norm = ids.handle.normalise_prefix(wanted)
        if norm not in held:
            raise InvalidInput(
                f"prefix {wanted} is not held by this enterprise on node {node.name}; "
                f"it holds {', '.join(held) or 'none'}",
                reason="device_prefix_not_held",
                params={"prefix": wanted, "held": ", ".join(held) or "—"},
            )
        return norm
    if not held:
        raise InvalidInput(
            f"the enterprise has no identifier prefix on node {node.name}; allocate one first "
            "(indunet id prefix add, or POST /api/v1/prefixes)",
            reason="device_no_prefix",
        )
    return held[0]


def ensure_template(node: ids.Node, prefix: str, *, actor: str) -> None:
    """Create the prefix's ``device@1`` template unless it already has it."""
    if any(t.ref == TEMPLATE_REF for t in node.templates.for_prefix(prefix)):
        return
    template = ids.parse_template(
        prefix,
        {
            "name": TEMPLATE_NAME,
            "version": TEMPLATE_VERSION,
            "industry_code": "C",
            "description": "Indunet device record (设备标识)",
            "items": list(ITEMS),
        },
    )
    try:
        with node.engine.begin() as conn:
            node.templates.add(conn, template, actor=actor)
    except (Conflict, sa.exc.IntegrityError):  # another writer created it first
        node.templates.reload()


def record_values(
    *,
    device_id: str,
    name: str,
    model_ref: str,
    manufacturer: str,
    serial: str,
    base_url: str | None,
    identifier: str,
) -> list[dict[str, Any]]:
    """The record of a device, in the Handle API's value shape.

    With the platform's ``base_url``, ``URL`` leads people to the console's resolve page of
    the identifier (public: the record, readable without an account) and ``platform_url`` to
    the device's console page; neither leads to raw JSON or a 401.
    """
    url = f"{base_url}/ids/resolve?handle={quote(identifier, safe='/')}" if base_url else None

    def text(index: int, vtype: str, value: str) -> dict[str, Any]:
        return {"index": index, "type": vtype, "data": {"format": "string", "value": value}}

    values = [
        text(2, "NAME", name),
        text(TEMPLATE_INDEX, "TEMPLATE", TEMPLATE_REF),
        text(2001, "device_id", device_id),
        text(2002, "model", model_ref),
    ]
    if url:
        values.insert(0, text(1, "URL", url))
        values.append(text(2005, "platform_url", f"{base_url}/platform/devices/{device_id}"))
    if manufacturer:
        values.append(text(2003, "manufacturer", manufacturer))
    if serial:
        values.append(text(2004, "serial", serial))
    return values
