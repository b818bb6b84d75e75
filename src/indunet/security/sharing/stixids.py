"""STIX 2.1 identifiers and timestamps: the rules every object we make or take follows.

- An id is ``<type>--<UUID>`` (STIX 2.1 §2.9); the type is lower-case letters, digits and
  hyphens, 3–250 characters, no double hyphen.
- A Cyber-observable's id is a UUIDv5 in the STIX namespace over the canonical JSON of its
  ID contributing properties (§2.9, and each SCO's "ID Contributing Properties"), so the
  same address or conversation always has the same id, whoever makes it.
- Objects made from our own records (alerts, assets, vulnerability matches, the producing
  identity) get a UUIDv5 hash in Indunet's own namespace over ``<kind>:<record key>``,
  marked version 4 as the spec asks of SDO ids, so that exporting a record again gives the
  same id (re-export is idempotent).
- Timestamps are RFC 3339 in UTC with a ``Z`` (§3.2); we write milliseconds.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

#: The namespace of STIX Cyber-observable ids (STIX 2.1 §2.9).
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
#: Indunet's namespace for the SDO ids it derives from its own records (a fixed random UUID).
INDUNET_NAMESPACE = uuid.UUID("5b1f3c2e-8d0a-4f7e-9a61-3c1d2e4f5a6b")

TYPE_RE = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,248}[a-z0-9]$")
ID_RE = re.compile(
    r"^([a-z0-9][a-z0-9-]{1,248}[a-z0-9])--"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
TIMESTAMP_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$")


def canonical(data: Any) -> bytes:
    """JSON canonical form (RFC 8785) of the values we hash: sorted keys, no spaces, UTF-8.

    Our contributing properties are strings, integers and lists of strings, for which
    sorted-key compact JSON is exactly the canonical form (no floats are hashed)."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def sco_id(kind: str, contributing: dict[str, Any]) -> str:
    """The deterministic id of a Cyber-observable of type ``kind`` (None values left out)."""
    present = {k: v for k, v in contributing.items() if v is not None and v != []}
    return f"{kind}--{uuid.uuid5(SCO_NAMESPACE, canonical(present).decode())}"


def record_id(kind: str, key: str) -> str:
    """The stable id of an SDO of type ``kind`` made from our record ``key``.

    The spec asks SDO and SRO ids to be version 4 UUIDs: the UUIDv5 hash of the key is
    marked version 4 (its bits are as unpredictable as random ones to a reader)."""
    digest = uuid.uuid5(INDUNET_NAMESPACE, f"{kind}:{key}")
    return f"{kind}--{uuid.UUID(bytes=digest.bytes, version=4)}"


def id_type(stix_id: str) -> str | None:
    """The type part of a well-formed STIX id, else None."""
    m = ID_RE.match(stix_id)
    return m.group(1) if m else None


def stamp(when: float | datetime) -> str:
    """A STIX timestamp with milliseconds: ``2026-12-07T09:04:45.123Z``."""
    dt = when if isinstance(when, datetime) else datetime.fromtimestamp(when, UTC)
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def compact_stamp(when: float) -> str:
    """A STIX timestamp with only the fraction digits it needs (``…:41.25Z``, ``…:41Z``):
    the form the ``stix2`` library writes, used where a timestamp is hashed into an id."""
    dt = datetime.fromtimestamp(when, UTC)
    frac = f"{dt.microsecond:06d}".rstrip("0")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def parse_stamp(text: str) -> datetime:
    """A STIX/TAXII timestamp read (``ValueError`` if it is not RFC 3339 UTC with ``Z``).

    Digits past microseconds are dropped (a datetime holds no more); ordering by the text
    of timestamps we write is the same as by time."""
    m = TIMESTAMP_RE.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError("not an RFC 3339 UTC timestamp like 2026-01-31T12:00:00.000Z")
    frac = (m.group(7) or ".0")[1:7].ljust(6, "0")
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    return datetime(y, mo, d, h, mi, min(s, 59), int(frac), tzinfo=UTC)


def normal_stamp(text: str) -> str:
    """``text`` rewritten with exactly microseconds, so timestamps compare as strings."""
    dt = parse_stamp(text)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_stamp() -> str:
    """Now, as a STIX timestamp with microseconds (TAXII's date_added)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
