"""The device forms of the console (add one device, edit one): their fields per protocol, read
into the specs and changes ``DeviceRegistry`` takes.

A form shows the connection fields of the chosen protocol only (``PROTOCOL_FIELDS``; the
page's script hides the others, and the server reads only the chosen protocol's, so a field
left in a hidden input never reaches the registry). "From the model" means the protocol the
model's forms suggest (``devices.device.default_protocol``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from indunet.core import User, access
from indunet.devices import PROTOCOLS, Device, ThingModel
from indunet.devices.device import default_protocol
from indunet.web.console.i18n import N_

#: Connection fields each protocol's form shows, in order (MQTT and HTTP devices connect to
#: the platform and have none).
PROTOCOL_FIELDS: dict[str, tuple[str, ...]] = {
    "modbus": ("host", "port", "unit", "poll_interval"),
    "opcua": ("endpoint", "username", "password"),
    "mqtt": (),
    "http": (),
}
CONNECTION_FIELDS = tuple(dict.fromkeys(f for fs in PROTOCOL_FIELDS.values() for f in fs))
#: Fields of the "add a device" form, in the order shown.
FORM_FIELDS = ("id", "name", "model", "protocol", *CONNECTION_FIELDS, "site", "tags")
FORM_FIELDS += ("manufacturer", "serial")
#: Fields of the edit form.
EDIT_FIELDS = ("name", "protocol", *CONNECTION_FIELDS, "site", "tags")
#: Catalogue keys of the connection fields' labels.
FIELD_KEYS = {
    "host": N_("devices.host"),
    "port": N_("devices.port"),
    "unit": N_("devices.unit"),
    "poll_interval": N_("devices.field.poll_interval"),
    "endpoint": N_("devices.endpoint"),
    "username": N_("devices.field.username"),
    "password": N_("devices.field.password"),
}
#: Characters read of any one field (the services check the real bounds).
MAX_FIELD = 2000


def typed(form: FormData, names: tuple[str, ...]) -> dict[str, str]:
    """The form's text fields ``names``, cut to ``MAX_FIELD`` characters (files are ignored)."""
    out: dict[str, str] = {}
    for name in names:
        value = form.get(name, "")
        out[name] = value[:MAX_FIELD] if isinstance(value, str) else ""
    return out


def protocol_of(fields: dict[str, str], model: ThingModel | None) -> str:
    """The protocol the form chose, else the one the model suggests ("" if neither is known)."""
    chosen = fields.get("protocol", "").strip()
    if chosen:
        return chosen
    return default_protocol(model) if model is not None else ""


def connection_of(fields: dict[str, str], protocol: str) -> dict[str, str]:
    """The non-empty connection fields of ``protocol`` (other protocols' fields are ignored)."""
    names = PROTOCOL_FIELDS.get(protocol, ())
    return {k: fields[k].strip() for k in names if fields.get(k, "").strip()}


@dataclass
class DeviceForm:
    """The "add a device" form as typed, plus the enterprise it is for."""

    fields: dict[str, str] = field(default_factory=lambda: dict.fromkeys(FORM_FIELDS, ""))
    enterprise_id: int | None = None

    def spec(self, model: ThingModel | None) -> dict[str, Any]:
        """The device spec ``DeviceRegistry.create`` takes; empty fields are left out.
        ``model`` is the chosen model, when it is known (for "protocol from the model")."""
        f = {k: v.strip() for k, v in self.fields.items()}
        spec: dict[str, Any] = {k: f[k] for k in ("id", "name", "model") if f[k]}
        for key in ("protocol", "tags", "manufacturer", "serial"):
            if f[key]:
                spec[key] = f[key]
        connection = connection_of(f, protocol_of(f, model))
        if connection:
            spec["connection"] = connection
        if f["site"]:
            spec["location"] = {"site": f["site"]}
        return spec


def edit_fields(device: Device) -> dict[str, str]:
    """The edit form filled with the device as it is (passwords are never shown)."""
    conn = device.connection
    out = {k: "" if k == "password" else str(conn.get(k, "")) for k in CONNECTION_FIELDS}
    out |= {"name": device.name, "protocol": device.protocol}
    out |= {"site": str(device.location.get("site", "")), "tags": ";".join(device.tags)}
    return out


def changes_of(fields: dict[str, str], device: Device) -> dict[str, Any]:
    """What the edit form changes, as ``DeviceRegistry.update`` takes it.

    The chosen protocol's connection fields replace the device's (an emptied field goes back
    to its default; a password left empty keeps the current one); settings the form does not
    show are kept while the protocol stays.
    """
    f = {k: v.strip() for k, v in fields.items()}
    protocol = f.get("protocol") or device.protocol
    shown = PROTOCOL_FIELDS.get(protocol, ())
    kept = {k: v for k, v in device.connection.items() if k not in shown}
    if protocol != device.protocol:
        kept = {}
    elif f.get("password") == "" and "password" in device.connection:
        kept["password"] = device.connection["password"]
    changes: dict[str, Any] = {"name": f.get("name", ""), "protocol": protocol}
    changes["connection"] = kept | connection_of(f, protocol)
    location = dict(device.location)
    if f.get("site"):
        location["site"] = f["site"]
    else:
        location.pop("site", None)
    changes["location"] = location
    changes["tags"] = f.get("tags", "")
    return changes


def manage_context(user: User, device: Device) -> dict[str, Any]:
    """What the device page needs for its edit, secret and delete forms."""
    return {
        "may_manage": access.can_change(user, device.enterprise_id),
        "edit": edit_fields(device),
        "protocols": PROTOCOLS,
        "protocol_fields": PROTOCOL_FIELDS,
        "field_keys": FIELD_KEYS,
    }


__all__ = [
    "CONNECTION_FIELDS",
    "EDIT_FIELDS",
    "FIELD_KEYS",
    "FORM_FIELDS",
    "PROTOCOL_FIELDS",
    "DeviceForm",
    "changes_of",
    "connection_of",
    "edit_fields",
    "manage_context",
    "protocol_of",
    "typed",
]
