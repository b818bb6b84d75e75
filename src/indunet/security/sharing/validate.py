"""Checking STIX 2.1 objects we are given (a bundle, a TAXII envelope), before any is kept.

Every object must have what the spec requires of its type: ``type`` and ``id``
(``<type>--<UUID>``, the type part equal to ``type``), ``spec_version`` "2.1" (optional on
Cyber-observables), ``created``/``modified`` timestamps (RFC 3339, UTC, ``Z``; ``modified``
not before ``created``), the properties the spec marks required per type, references
(``*_ref``/``*_refs``) that are ids, at most ``MAX_OBJECTS`` objects of at most
``MAX_OBJECT_BYTES`` each. The first fault is an ``InvalidInput`` naming the object (its
index and id) and the property.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from indunet.core import InvalidInput

from .stixids import ID_RE, TYPE_RE, id_type, parse_stamp

MAX_OBJECTS = 10_000
"""Objects in one bundle or envelope, at most."""
MAX_OBJECT_BYTES = 256 * 1024
"""One object's size as JSON, at most."""
MAX_DEPTH = 20
"""Nesting of an object's JSON, at most."""

#: Cyber-observable types (STIX 2.1 §6): spec_version optional, no created/modified.
SCO_TYPES = frozenset(
    {
        "artifact",
        "autonomous-system",
        "directory",
        "domain-name",
        "email-addr",
        "email-message",
        "file",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "network-traffic",
        "process",
        "software",
        "url",
        "user-account",
        "windows-registry-key",
        "x509-certificate",
    }
)

#: Properties the spec requires per type, beyond the common ones.
REQUIRED: dict[str, tuple[str, ...]] = {
    "attack-pattern": ("name",),
    "campaign": ("name",),
    "course-of-action": ("name",),
    "grouping": ("context", "object_refs"),
    "identity": ("name",),
    "incident": ("name",),
    "indicator": ("pattern", "pattern_type", "valid_from"),
    "infrastructure": ("name",),
    "intrusion-set": ("name",),
    "malware": ("is_family",),
    "malware-analysis": ("product",),
    "note": ("content", "object_refs"),
    "observed-data": ("first_observed", "last_observed", "number_observed", "object_refs"),
    "opinion": ("opinion", "object_refs"),
    "report": ("name", "published", "object_refs"),
    "threat-actor": ("name",),
    "tool": ("name",),
    "vulnerability": ("name",),
    "relationship": ("relationship_type", "source_ref", "target_ref"),
    "sighting": ("sighting_of_ref",),
    "language-content": ("object_ref", "contents"),
    "extension-definition": ("name", "schema", "version", "extension_types", "created_by_ref"),
    "marking-definition": (),
    "domain-name": ("value",),
    "ipv4-addr": ("value",),
    "ipv6-addr": ("value",),
    "mac-addr": ("value",),
    "url": ("value",),
    "email-addr": ("value",),
    "network-traffic": ("protocols",),
    "autonomous-system": ("number",),
    "mutex": ("name",),
    "software": ("name",),
    "windows-registry-key": (),
    "email-message": ("is_multipart",),
}
#: Properties holding timestamps, checked wherever they appear at the top level.
TIMESTAMPS = frozenset(
    {
        "created",
        "modified",
        "valid_from",
        "valid_until",
        "first_seen",
        "last_seen",
        "first_observed",
        "last_observed",
        "published",
        "start_time",
        "stop_time",
    }
)


def _fault(where: str, prop: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"{where}: {prop} {why}",
        reason="sharing_stix_invalid",
        params={"object": where, "property": prop, "why": why},
    )


def references(obj: Any, depth: int = 0) -> Iterator[tuple[str, str]]:
    """``(property, id)`` of every reference in ``obj`` (``*_ref`` strings, ``*_refs``
    lists), nested ones included (granular markings, extensions)."""
    if depth > MAX_DEPTH or not isinstance(obj, Mapping):
        return
    for key, value in obj.items():
        if key.endswith("_ref") and isinstance(value, str):
            yield key, value
        elif key.endswith("_refs") and isinstance(value, list):
            yield from ((key, v) for v in value if isinstance(v, str))
        elif isinstance(value, Mapping):
            yield from references(value, depth + 1)
        elif isinstance(value, list):
            for item in value:
                yield from references(item, depth + 1)


def _depth(obj: Any, depth: int = 0) -> int:
    if depth > MAX_DEPTH:
        return depth
    if isinstance(obj, Mapping):
        return max((_depth(v, depth + 1) for v in obj.values()), default=depth)
    if isinstance(obj, list):
        return max((_depth(v, depth + 1) for v in obj), default=depth)
    return depth


def check_object(obj: Any, index: int) -> dict[str, Any]:
    """``obj`` if it is a valid STIX 2.1 object, else ``InvalidInput`` naming the fault."""
    where = f"object {index}"
    if not isinstance(obj, dict):
        raise _fault(where, "(object)", "is not a JSON object")
    if isinstance(obj.get("id"), str):
        where = f"object {index} ({obj['id'][:300]})"
    kind = obj.get("type")
    if not isinstance(kind, str) or not TYPE_RE.match(kind) or kind == "bundle":
        raise _fault(where, "type", "is missing or not a STIX type name")
    stix_id = obj.get("id")
    if not isinstance(stix_id, str) or id_type(stix_id) != kind:
        raise _fault(where, "id", f"must be {kind}--<UUID>")
    if len(orjson.dumps(obj)) > MAX_OBJECT_BYTES:
        raise _fault(where, "(object)", f"is over {MAX_OBJECT_BYTES:,} bytes")
    if _depth(obj) > MAX_DEPTH:
        raise _fault(where, "(object)", f"nests deeper than {MAX_DEPTH} levels")
    sco = kind in SCO_TYPES
    if obj.get("spec_version", None if sco else "") not in (("2.1", None) if sco else ("2.1",)):
        raise _fault(where, "spec_version", 'must be "2.1"')
    if not sco:
        common = ("created",) if kind == "marking-definition" else ("created", "modified")
        for prop in common:
            if prop not in obj:
                raise _fault(where, prop, "is required")
    for prop in REQUIRED.get(kind, ()):
        if prop not in obj or obj[prop] in (None, "", []):
            raise _fault(where, prop, "is required")
    for prop in TIMESTAMPS & obj.keys():
        try:
            parse_stamp(obj[prop])
        except ValueError as exc:
            raise _fault(where, prop, str(exc)) from None
    if (
        "modified" in obj
        and "created" in obj
        and parse_stamp(obj["modified"]) < parse_stamp(obj["created"])
    ):
        raise _fault(where, "modified", "is before created")
    for prop, ref in references(obj):
        if not ID_RE.match(ref):
            raise _fault(where, prop, f"holds {ref[:100]!r}, which is not a STIX id")
    created_by = obj.get("created_by_ref")
    if created_by is not None and id_type(created_by) != "identity":
        raise _fault(where, "created_by_ref", "must name an identity")
    return obj


def objects_of(data: Any, *, envelope: bool = False) -> list[dict[str, Any]]:
    """The checked objects of a bundle (or, with ``envelope``, a TAXII envelope)."""
    if not isinstance(data, dict):
        raise _fault("the document", "(document)", "is not a JSON object")
    if envelope:
        objects = data.get("objects")
    else:
        if data.get("type") != "bundle":
            raise _fault("the bundle", "type", 'must be "bundle"')
        if not isinstance(data.get("id"), str) or id_type(data["id"]) != "bundle":
            raise _fault("the bundle", "id", "must be bundle--<UUID>")
        objects = data.get("objects", [])
    if not isinstance(objects, list):
        raise _fault("the document", "objects", "must be a list")
    if len(objects) > MAX_OBJECTS:
        raise InvalidInput(
            f"{len(objects):,} objects; send {MAX_OBJECTS:,} at most",
            reason="sharing_too_many_objects",
            params={"count": str(len(objects)), "limit": str(MAX_OBJECTS)},
        )
    return [check_object(o, i) for i, o in enumerate(objects)]
