"""Active identifiers (主动标识): records a device keeps itself, proving who it is by signing.

An enterprise enrols a device's identifier (``enrol``): the record holds the device's public
key as HS_PUBKEY at ``KEY_INDEX`` (``ids.activekeys``), an HS_ADMIN at ``ADMIN_INDEX`` that
gives the identity ``300:<the handle itself>`` the rights to add, modify and remove values
(no admin, handle or prefix rights), and the ``active@1`` template. From then on the device
signs its requests with its private key and the node writes what it asks, through
``Node.put`` like every other write (one transaction, history, audit):

- ``announce``: the fields a device may set (``FIELDS``: status, firmware, location, links)
  and the time of the announcement; it may name the device record it belongs to (``device``),
  which the platform links (``devices.activelink``);
- ``rotate``: a new key, signed with the current one and proven by a signature of the new one.

A signed request carries ``Indunet-Key`` (the key's index), ``Indunet-Timestamp`` (Unix
seconds), ``Indunet-Nonce`` and ``Indunet-Signature`` (base64) over ``message``: the method,
path, handle, key index, timestamp, nonce and the body's digest. The node refuses a timestamp
more than ``MAX_SKEW_S`` away from its clock and a nonce used before (kept in the database
until it can no longer pass the clock check, so in every process); it checks the signature
against the key in the record as locked for the write.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from indunet.core import AuthenticationFailed, Conflict, IndunetError, InvalidInput
from indunet.ids import activekeys
from indunet.ids.activekeys import PublicKey
from indunet.ids.admin import Perm, Principal, authorize, permission_string
from indunet.ids.errors import HandleError, HandleNotFound, NotResponsible
from indunet.ids.node import LOCAL, Guard, Node
from indunet.ids.store import StoredRecord
from indunet.ids.syntax import handle as hdl
from indunet.ids.tables import active_nonces
from indunet.ids.templates import parse_template
from indunet.ids.values import ADMIN_TYPE, TEMPLATE_INDEX, HandleValue, now_timestamp

PUBKEY_TYPE = "HS_PUBKEY"
KEY_INDEX = 300
ADMIN_INDEX = 100
#: What the device's own identity may do on its record: values only.
DEVICE_RIGHTS = permission_string({Perm.ADD_VALUE, Perm.MODIFY_VALUE, Perm.REMOVE_VALUE})
TEMPLATE_NAME, TEMPLATE_VERSION = "active", "1"
TEMPLATE_REF = f"{TEMPLATE_NAME}@{TEMPLATE_VERSION}"
#: Fields a device may set, by the index they are stored at.
FIELDS = {"status": 2101, "firmware": 2102, "location": 2103, "links": 2104}
DEVICE_INDEX = 2105  # the device record this identifier is linked to (written by the platform)
ANNOUNCED_INDEX = 2106  # when the device last announced itself (written by the node)
ACTIVE_ID_INDEX = 2110  # on a device record: the active identifier linked to it
STATUSES = ("online", "offline", "running", "idle", "maintenance", "fault")
ITEMS = (
    {"name": "status", "type": "string", "index": 2101, "choices": list(STATUSES),
     "title": "状态"},
    {"name": "firmware", "type": "string", "index": 2102, "max_length": 64, "title": "固件版本"},
    {"name": "location", "type": "string", "index": 2103, "max_length": 100, "title": "位置"},
    {"name": "links", "type": "string", "index": 2104, "max_length": 8192, "title": "关联"},
    {"name": "device", "type": "string", "index": 2105, "max_length": 400, "title": "设备标识"},
    {"name": "announced_at", "type": "string", "index": 2106, "title": "最近上报"},
    {"name": "active_id", "type": "string", "index": 2110, "max_length": 400,
     "title": "主动标识"},
)  # fmt: skip

SCHEME = "INDUNET-ACTIVE-1"
ROTATE_SCHEME = "INDUNET-ACTIVE-ROTATE-1"
MAX_SKEW_S = 300
#: A nonce is kept this long after its timestamp: past it, the clock check refuses a replay.
NONCE_KEEP_S = MAX_SKEW_S + 60
#: One signed write in this many also deletes the identifier's expired nonces.
CLEAN_EVERY = 16
MAX_BODY_BYTES = 16 * 1024
MAX_LINKS = 16
MAX_LINK_LEN = 255
MAX_FIRMWARE = 64
MAX_LOCATION = 100
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]+")


class BodyTooLarge(IndunetError):
    """The body of a signed request is larger than ``MAX_BODY_BYTES``."""

    code = "payload_too_large"
    status = 413


def too_large(size: int) -> BodyTooLarge:
    """The refusal of a body of ``size`` bytes."""
    return BodyTooLarge(
        f"the body is {size} bytes; a signed request carries at most {MAX_BODY_BYTES}",
        reason="active_body_too_large",
        params={"size": size, "max": MAX_BODY_BYTES},
    )


def _unsigned(message: str, reason: str = "active_signature_missing") -> AuthenticationFailed:
    return AuthenticationFailed(message, reason=reason)


#: One answer to every signature that does not check, whatever the cause (unknown handle,
#: no key at that index, wrong key, altered body): telling them apart helps an attacker only.
BAD_SIGNATURE = "the signature does not match the identifier's key"


@dataclass(frozen=True, slots=True)
class Signed:
    """The signature headers of one request."""

    key_index: int
    timestamp: int
    nonce: str
    signature: bytes


def read_headers(headers: Mapping[str, str]) -> Signed:
    """The ``Indunet-Key``, ``-Timestamp``, ``-Nonce`` and ``-Signature`` headers, checked for
    shape (not yet for truth)."""
    key, ts = headers.get("indunet-key", ""), headers.get("indunet-timestamp", "")
    nonce, sig = headers.get("indunet-nonce", ""), headers.get("indunet-signature", "")
    if not (key and ts and nonce and sig):
        raise _unsigned(
            "a device signs its request: send Indunet-Key, Indunet-Timestamp, Indunet-Nonce "
            "and Indunet-Signature"
        )
    if not (key.isascii() and key.isdigit() and len(key) <= 10 and 0 < int(key) < 2**31):
        raise InvalidInput(
            "Indunet-Key must be the index of the key in the record (e.g. 300)",
            reason="active_key_index",
        )
    if not (ts.isascii() and ts.isdigit() and len(ts) <= 12):
        raise InvalidInput(
            "Indunet-Timestamp must be the time in whole seconds since 1970",
            reason="active_timestamp_format",
        )
    if not _NONCE.fullmatch(nonce):
        raise InvalidInput(
            "Indunet-Nonce must be 16 to 64 letters, digits, '-' or '_', new for each request",
            reason="active_nonce_format",
        )
    try:
        signature = base64.b64decode(sig, validate=True) if len(sig) <= 200 else b""
    except (binascii.Error, ValueError):
        signature = b""
    if len(signature) != activekeys.SIGNATURE_BYTES:
        raise _unsigned(BAD_SIGNATURE, "active_signature_bad")
    return Signed(int(key), int(ts), nonce, signature)


def message(method: str, path: str, handle: str, signed: Signed, body_digest: bytes) -> bytes:
    """The bytes a device signs: one field a line, the body by its digest (hex)."""
    lines = (
        SCHEME,
        method.upper(),
        path,
        handle,
        str(signed.key_index),
        str(signed.timestamp),
        signed.nonce,
        body_digest.hex(),
    )
    return "\n".join(lines).encode()


def check_clock(signed: Signed, now: float) -> None:
    """Refuse a timestamp more than ``MAX_SKEW_S`` from ``now``."""
    if abs(now - signed.timestamp) > MAX_SKEW_S:
        raise AuthenticationFailed(
            f"Indunet-Timestamp is {int(now - signed.timestamp)} s from the node's clock; "
            f"at most {MAX_SKEW_S} s is accepted (check the device's clock)",
            reason="active_timestamp_skew",
            params={"skew": int(now - signed.timestamp), "max": MAX_SKEW_S},
        )


def key_in(values: list[HandleValue] | None, index: int) -> tuple[str, PublicKey] | None:
    """The HS_PUBKEY at ``index`` of a record (its text and key), if it holds one to use."""
    for v in values or ():
        if v.index == index and v.type == PUBKEY_TYPE and isinstance(v.value, str):
            try:
                return v.value, activekeys.from_text(v.value)
            except HandleError:
                return None
    return None


def _body(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_BODY_BYTES:
        raise too_large(len(raw))
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", reason="active_body_json")
    return body


def _handle(body: dict[str, Any]) -> hdl.Handle:
    text = body.get("handle")
    if not isinstance(text, str):
        raise InvalidInput("the body names the identifier: 'handle'", reason="active_handle")
    return hdl.parse(text)


@dataclass(frozen=True, slots=True)
class Request:
    """A signed request as received: method, path, headers and raw body."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Verified:
    """A request whose signature checks against the record's key (not yet locked)."""

    handle: hdl.Handle
    body: dict[str, Any]
    signed: Signed
    key_text: str
    principal: Principal


def verify(node: Node, req: Request, *, now: float | None = None) -> Verified:
    """Check a signed request's shape, clock and signature against the stored key."""
    if len(req.body) > MAX_BODY_BYTES:
        raise too_large(len(req.body))
    signed = read_headers(req.headers)
    check_clock(signed, time.time() if now is None else now)
    body = _body(req.body)
    h = _handle(body)
    rec = node.record(h.text)
    found = key_in(rec.values if rec else None, signed.key_index)
    if found is None or not found[1].verify(
        message(req.method, req.path, h.text, signed, found[1].digest(req.body)), signed.signature
    ):
        raise _unsigned(BAD_SIGNATURE, "active_signature_bad")
    principal = Principal(actor=f"active:{h.text}", identity=(signed.key_index, h.key))
    return Verified(h, body, signed, found[0], principal)


def _guard(node: Node, v: Verified) -> Guard:
    """Inside the write: the key is still the one that signed, and the nonce is new."""

    def check(conn: sa.Connection, rec: StoredRecord | None) -> None:
        found = key_in(rec.values if rec else None, v.signed.key_index)
        if found is None or found[0] != v.key_text:  # rotated or removed meanwhile
            raise _unsigned(BAD_SIGNATURE, "active_signature_bad")
        now = time.time()
        if not _note_nonce(conn, node.name, v.handle.key, v.signed, now):
            raise Conflict(
                "this request was already received (its nonce is used); sign each request "
                "with a new nonce",
                reason="active_replay",
            )
        if secrets.randbelow(CLEAN_EVERY) == 0:  # expired nonces of this identifier, now and then
            conn.execute(
                active_nonces.delete().where(
                    active_nonces.c.node == node.name,
                    active_nonces.c.hkey == v.handle.key,
                    active_nonces.c.expires < now,
                )
            )

    return check


def _note_nonce(conn: sa.Connection, node: str, hkey: str, signed: Signed, now: float) -> bool:
    """Record the nonce in one statement; False if it is recorded and not yet expired.

    An expired row with the same nonce is taken over (a nonce may come back once its request
    can no longer pass the clock check); a concurrent insert of the same nonce waits for the
    first transaction and then counts as recorded.
    """
    insert = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(active_nonces)
    stmt = insert.values(
        node=node, hkey=hkey, nonce=signed.nonce, expires=signed.timestamp + NONCE_KEEP_S
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[active_nonces.c.node, active_nonces.c.hkey, active_nonces.c.nonce],
        set_={"expires": stmt.excluded.expires},
        where=active_nonces.c.expires < now,
    )
    # RETURNING, not rowcount: drivers differ in what rowcount says for ON CONFLICT
    return conn.execute(stmt.returning(active_nonces.c.nonce)).first() is not None


def forget_expired(engine: sa.Engine, now: float | None = None) -> int:
    """Delete the nonces whose requests can no longer pass the clock check, of every
    identifier (those of deleted or silent identifiers included); how many went."""
    with engine.begin() as conn:
        gone = conn.execute(
            active_nonces.delete().where(
                active_nonces.c.expires < (time.time() if now is None else now)
            )
        )
    return int(gone.rowcount or 0)


def _text(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= limit or not _PRINTABLE.fullmatch(value):
        raise InvalidInput(
            f"{name} must be 1 to {limit} printable characters",
            reason="active_field_text",
            params={"field": name, "max": limit},
        )
    return value


def _location(value: Any) -> str:
    if isinstance(value, str):
        return _text(value, "location", MAX_LOCATION)
    if isinstance(value, dict) and set(value) <= {"lat", "lon", "alt"}:
        parts = [value.get("lat"), value.get("lon"), *([value["alt"]] if "alt" in value else [])]
        if all(
            isinstance(p, int | float) and not isinstance(p, bool) and math.isfinite(p)
            for p in parts
        ):
            lat, lon = float(parts[0]), float(parts[1])
            alt = [float(parts[2])] if len(parts) == 3 else []
            if -90 <= lat <= 90 and -180 <= lon <= 180 and all(-1e5 < a < 1e5 for a in alt):
                return ",".join(f"{x:.6f}".rstrip("0").rstrip(".") for x in [lat, lon, *alt])
    raise InvalidInput(
        "location must be text or {lat, lon[, alt]} in degrees and metres",
        reason="active_location",
    )


def _links(value: Any) -> str:
    if not isinstance(value, list) or len(value) > MAX_LINKS:
        raise InvalidInput(
            f"links must be a list of at most {MAX_LINKS} identifiers or URLs",
            reason="active_links",
            params={"max": MAX_LINKS},
        )
    out = []
    for link in value:
        text = _text(link, "links", MAX_LINK_LEN)
        if not text.startswith(("http://", "https://")):
            try:
                hdl.parse(text)
            except HandleError:
                raise InvalidInput(
                    f"link {text[:80]!r} is neither an identifier nor an http(s) URL",
                    reason="active_link",
                    params={"link": text[:80]},
                ) from None
        out.append(text)
    return json.dumps(out, ensure_ascii=False)


def _field(name: str, value: Any) -> str:
    if name == "status":
        if value not in STATUSES:
            raise InvalidInput(
                f"status must be one of {', '.join(STATUSES)}",
                reason="active_status",
                params={"choices": ", ".join(STATUSES)},
            )
        return str(value)
    if name == "firmware":
        return _text(value, "firmware", MAX_FIRMWARE)
    if name == "location":
        return _location(value)
    return _links(value)


def _string(index: int, vtype: str, text: str) -> dict[str, Any]:
    return {"index": index, "type": vtype, "data": {"format": "string", "value": text}}


@dataclass(frozen=True, slots=True)
class Announced:
    """An announcement written: the identifier, and the device it names (if any)."""

    handle: str
    device: str | None
    fields: tuple[str, ...]


def device_claim(body: dict[str, Any]) -> str | None:
    """The device id an announcement names, checked for shape."""
    device = body.get("device")
    if device is None:
        return None
    if not isinstance(device, str) or not _DEVICE_ID.fullmatch(device):
        raise InvalidInput(
            "device must be the id of a device of the platform (letters, digits, '.', '_', '-')",
            reason="active_device_id",
        )
    return device


def announce(node: Node, req: Request, *, now: float | None = None) -> Announced:
    """Write the fields a signed announcement sets (and its time) to the device's record."""
    return write_announcement(node, verify(node, req, now=now))


def write_announcement(node: Node, v: Verified) -> Announced:
    """Write a verified announcement (``verify``): its fields, checked, and its time."""
    unknown = sorted(set(v.body) - {"handle", "device", *FIELDS})
    if unknown:
        raise InvalidInput(
            f"a device may set {', '.join(FIELDS)} only, not {', '.join(unknown)[:200]}",
            reason="active_field_not_writable",
            params={"fields": ", ".join(unknown)[:200], "writable": ", ".join(FIELDS)},
        )
    device = device_claim(v.body)
    values = [_string(FIELDS[n], n, _field(n, v.body[n])) for n in FIELDS if n in v.body]
    values.append(_string(ANNOUNCED_INDEX, "announced_at", now_timestamp()))
    node.put(
        v.handle.text,
        values,
        v.principal,
        indices=[x["index"] for x in values],
        guard=_guard(node, v),
    )
    return Announced(v.handle.text, device, tuple(n for n in FIELDS if n in v.body))


def rotation_proof(handle: str, key_text: str, nonce: str) -> bytes:
    """What the new key signs to prove its holder asked for the rotation."""
    return "\n".join((ROTATE_SCHEME, handle, key_text, nonce)).encode()


def rotate(node: Node, req: Request, *, now: float | None = None) -> str:
    """Replace the record's key by a new one: signed by the current key, proven by the new."""
    v = verify(node, req, now=now)
    if set(v.body) != {"handle", "key", "proof"}:
        raise InvalidInput(
            "a rotation body is {handle, key, proof}",
            reason="active_rotate_body",
        )
    new = activekeys.from_text(v.body["key"])
    proof, sig = v.body["proof"], b""
    if isinstance(proof, str) and len(proof) <= 200:
        try:
            sig = base64.b64decode(proof, validate=True)
        except (binascii.Error, ValueError):
            sig = b""
    if not new.verify(rotation_proof(v.handle.text, v.body["key"], v.signed.nonce), sig):
        raise AuthenticationFailed(
            "the proof is not the new key's signature of the rotation",
            reason="active_proof_bad",
        )
    value = {
        "index": v.signed.key_index,
        "type": PUBKEY_TYPE,
        "data": {"format": "key", "value": new.text()},
    }
    node.put(
        v.handle.text, [value], v.principal, indices=[v.signed.key_index], guard=_guard(node, v)
    )
    return v.handle.text


def ensure_template(node: Node, prefix: str, *, actor: str) -> None:
    """Create the prefix's ``active@1`` template unless it already has it."""
    if any(t.ref == TEMPLATE_REF for t in node.templates.for_prefix(prefix)):
        return
    template = parse_template(
        prefix,
        {
            "name": TEMPLATE_NAME,
            "version": TEMPLATE_VERSION,
            "industry_code": "C",
            "description": "Indunet active identifier (主动标识) kept by its device",
            "items": list(ITEMS),
        },
    )
    try:
        with node.engine.begin() as conn:
            node.templates.add(conn, template, actor=actor)
    except (Conflict, sa.exc.IntegrityError):  # another writer created it first
        node.templates.reload()


def enrol_values(
    handle: str, key: PublicKey, *, device: str | None = None, name: str = ""
) -> list[dict[str, Any]]:
    """The first record of an active identifier, in the Handle API's value shape."""
    values: list[dict[str, Any]] = [
        _string(TEMPLATE_INDEX, "TEMPLATE", TEMPLATE_REF),
        {
            "index": ADMIN_INDEX,
            "type": ADMIN_TYPE,
            "data": {
                "format": "admin",
                "value": {"handle": handle, "index": KEY_INDEX, "permissions": DEVICE_RIGHTS},
            },
        },
        {"index": KEY_INDEX, "type": PUBKEY_TYPE, "data": {"format": "key", "value": key.text()}},
    ]
    if name:
        values.insert(0, _string(2, "NAME", _text(name, "name", 200)))
    if device:
        values.append(_string(DEVICE_INDEX, "device", device))
    return values


def enrol(
    node: Node,
    principal: Principal,
    handle: str,
    key_text: object,
    *,
    device: str | None = None,
    name: str = "",
) -> str:
    """Create an active identifier for a device's key (the enterprise's write: it needs the
    right to add handles under the prefix). ``device`` is the device record's identifier it
    belongs to, when the enterprise binds it now."""
    h = hdl.parse(handle)
    key = activekeys.from_text(key_text)
    prefix = hdl.normalise_prefix(h.prefix)
    if node.route(h) is not LOCAL:
        raise NotResponsible(
            f"node {node.name} does not serve prefix {h.routing_prefix}",
            reason="node_not_responsible",
            params={"node": node.name, "prefix": h.routing_prefix},
        )
    prefix_rec = node.record(f"0.NA/{prefix}")
    authorize(  # before the template is created on the prefix: only its managers may
        principal,
        Perm.ADD_HANDLE,
        target=h.text,
        routing_prefix=prefix,
        record=None,
        prefix_record=prefix_rec.values if prefix_rec else None,
        groups=node.admin_groups(),
    )
    ensure_template(node, prefix, actor=principal.actor)
    node.put(
        h.text, enrol_values(h.text, key, device=device, name=name), principal, overwrite=False
    )
    return h.text


def linked_device(rec: StoredRecord | None) -> str | None:
    """The device record an active identifier is linked to, if any."""
    for v in rec.values if rec else ():
        if v.index == DEVICE_INDEX and isinstance(v.value, str):
            return v.value
    return None


def linked_active(rec: StoredRecord | None) -> str | None:
    """The active identifier a device record is linked to, if any."""
    for v in rec.values if rec else ():
        if v.index == ACTIVE_ID_INDEX and isinstance(v.value, str):
            return v.value
    return None


def not_active(handle: str) -> HandleNotFound:
    """The refusal of a handle that is no active identifier here."""
    return HandleNotFound(
        f"{handle} is not an active identifier on this node",
        reason="active_not_registered",
        params={"handle": handle},
    )
