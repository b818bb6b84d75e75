"""STIX 2.1 bundles made from our records: alerts, the events in them, vulnerability matches.

Objects are built as plain dicts (one ``orjson.dumps`` for the bundle), never as library
objects. What an export holds (docs/security/stix.md):

- the producing ``identity`` (the enterprise, or the installation): ``Producer``;
- per alert: an ``indicator`` per source address (``[ipv4-addr:value = '…']``, or
  ``ipv6-addr``, or ``domain-name`` from ``detail["domain"]``), an ``observed-data`` whose
  ``object_refs`` name the addresses, MAC addresses and ``network-traffic`` of its events, a
  ``sighting`` of the indicator (or, with no address, of its first technique) by the
  producer with the alert's count and first/last seen, and the ATT&CK for ICS
  ``attack-pattern`` of each technique (MITRE's own object and id) with an ``indicates``
  relationship;
- per vulnerability match: the ``vulnerability`` (name = CVE id, an external reference
  ``cve``) and a ``sighting`` of it on the asset's address.

Ids: SCOs by the spec's UUIDv5 rule; SDOs from our records' keys (``stixids.record_id``), and
``created``/``modified`` from the records' own times, so exporting again gives equal objects.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from indunet.security.alerts import Alert
from indunet.security.events import SecurityEvent

from .attack import attack
from .stixids import compact_stamp, record_id, sco_id, stamp

MAX_NUMBER = 999_999_999
"""The largest ``number_observed``/``count`` STIX allows."""


@dataclass(frozen=True, slots=True)
class Producer:
    """Who shares: ``key`` (``enterprise:7`` or ``installation:<name>``), its name, and when
    it was created (seconds since the epoch; the identity's ``created``/``modified``)."""

    key: str
    name: str
    created: float
    identity_class: str = "organization"

    @property
    def id(self) -> str:
        """The identity's stable STIX id."""
        return record_id("identity", self.key)

    def identity(self) -> dict[str, Any]:
        """The producer as a STIX ``identity``."""
        ts = stamp(self.created)
        return {
            "type": "identity",
            "spec_version": "2.1",
            "id": self.id,
            "created": ts,
            "modified": ts,
            "name": self.name,
            "identity_class": self.identity_class,
        }


class VulnerabilityMatch(Protocol):
    """What an export needs of a vulnerability found on an asset (the vulnerability part's
    match record fits it):

    - ``key``: the match's stable key; ``cve``: ``CVE-2024-12345``; ``description``;
    - ``published``: when the CVE was published (seconds; the vulnerability's created);
    - ``ip``: the asset's address, if known; ``first_seen``/``last_seen``: of the match.
    """

    @property
    def key(self) -> str: ...
    @property
    def cve(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def published(self) -> float: ...
    @property
    def ip(self) -> str | None: ...
    @property
    def first_seen(self) -> float: ...
    @property
    def last_seen(self) -> float: ...


def _sdo(kind: str, key: str, ts: float, **props: Any) -> dict[str, Any]:
    when = stamp(ts)
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": record_id(kind, key),
        "created": when,
        "modified": when,
        **props,
    }


def address(value: str) -> dict[str, Any] | None:
    """The ``ipv4-addr``/``ipv6-addr`` SCO of ``value`` (None if it is no address)."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    kind = "ipv4-addr" if ip.version == 4 else "ipv6-addr"
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": sco_id(kind, {"value": str(ip)}),
        "value": str(ip),
    }


def mac(value: str) -> dict[str, Any]:
    """The ``mac-addr`` SCO (the spec's form: lower-case, colon-separated)."""
    norm = value.lower().replace("-", ":")
    return {
        "type": "mac-addr",
        "spec_version": "2.1",
        "id": sco_id("mac-addr", {"value": norm}),
        "value": norm,
    }


def pattern_quote(value: str) -> str:
    """``value`` as a STIX patterning string literal (backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


#: Our protocol names as the IANA service names STIX asks for (transport, service).
IANA_PROTOCOLS: dict[str, tuple[str, ...]] = {
    "modbus": ("tcp", "mbap"),
    "s7comm": ("tcp", "iso-tsap"),
    "opcua": ("tcp", "opcua-tcp"),
    "enip": ("tcp", "ethernet-ip-2"),
    "dnp3": ("dnp",),
    "bacnet": ("udp", "bacnet"),
    "http": ("tcp", "http"),
    "https": ("tcp", "https"),
    "handle": ("tcp", "hdl-srv"),
}


def _traffic(event: SecurityEvent, src: dict[str, Any], dst: dict[str, Any]) -> dict[str, Any]:
    protocols = ["ipv4" if src["type"] == "ipv4-addr" else "ipv6"]
    protocols += IANA_PROTOCOLS.get((event.protocol or "").lower(), ())
    contributing: dict[str, Any] = {
        "start": compact_stamp(event.ts),  # hashed: written as stix2 writes it
        "src_ref": src["id"],
        "dst_ref": dst["id"],
        "src_port": event.src_port,
        "dst_port": event.dst_port,
        "protocols": protocols,
    }
    out = {
        "type": "network-traffic",
        "spec_version": "2.1",
        "id": sco_id("network-traffic", contributing),
    }
    out |= {k: v for k, v in contributing.items() if v is not None}
    return out


def event_observables(event: SecurityEvent) -> list[dict[str, Any]]:
    """The SCOs of one event: its addresses, MAC addresses and conversation."""
    out: list[dict[str, Any]] = []
    src = address(event.src_ip) if event.src_ip else None
    dst = address(event.dst_ip) if event.dst_ip else None
    out += [o for o in (src, dst) if o is not None]
    out += [mac(m) for m in (event.src_mac, event.dst_mac) if m]
    if src is not None and dst is not None and src["type"] == dst["type"]:
        out.append(_traffic(event, src, dst))
    return out


def _indicator(alert: Alert, producer: Producer) -> dict[str, Any] | None:
    domain = alert.detail.get("domain") if isinstance(alert.detail, dict) else None
    if alert.src_ip and (sco := address(alert.src_ip)) is not None:
        pattern = f"[{sco['type']}:value = {pattern_quote(sco['value'])}]"
        what = sco["value"]
    elif isinstance(domain, str) and domain:
        pattern = f"[domain-name:value = {pattern_quote(domain.lower())}]"
        what = domain.lower()
    else:
        return None
    return _sdo(
        "indicator",
        f"{producer.key}:alert:{alert.id}",
        alert.ts,
        created_by_ref=producer.id,
        name=f"{alert.title} ({what})"[:250],
        description=f"Source of alert {alert.rule} v{alert.rule_version}, level {alert.level}.",
        indicator_types=["anomalous-activity"],
        pattern=pattern,
        pattern_type="stix",
        pattern_version="2.1",
        valid_from=stamp(alert.ts),
    )


def alert_objects(alert: Alert, producer: Producer) -> list[dict[str, Any]]:
    """The STIX objects of one alert (see the module docstring), referenced objects first."""
    out: list[dict[str, Any]] = []
    patterns: list[dict[str, Any]] = []
    for technique in alert.techniques:
        found = attack().technique(technique)
        if found is not None:
            out += attack().with_refs(found)
            patterns.append(found)
    scos: list[dict[str, Any]] = []
    events = alert.events or ()
    for event in events:
        scos += event_observables(event)
    if not events:
        for ip in (alert.src_ip, alert.dst_ip):
            sco = address(ip) if ip else None
            if sco is not None:
                scos.append(sco)
    scos = list({o["id"]: o for o in scos}.values())
    out += scos
    indicator = _indicator(alert, producer)
    if indicator is not None:
        out.append(indicator)
        for ap in patterns:
            out.append(
                _sdo(
                    "relationship",
                    f"{producer.key}:alert:{alert.id}:indicates:{ap['id']}",
                    alert.ts,
                    created_by_ref=producer.id,
                    relationship_type="indicates",
                    source_ref=indicator["id"],
                    target_ref=ap["id"],
                )
            )
    times = [e.ts for e in events] or [alert.ts]
    count = max(1, min(alert.count, MAX_NUMBER))
    observed = None
    if scos:
        observed = _sdo(
            "observed-data",
            f"{producer.key}:alert:{alert.id}",
            alert.ts,
            created_by_ref=producer.id,
            first_observed=stamp(min(times)),
            last_observed=stamp(max(times)),
            number_observed=count,
            object_refs=[o["id"] for o in scos],
        )
        out.append(observed)
    target = indicator or (patterns[0] if patterns else None)
    if target is not None:
        sighting = _sdo(
            "sighting",
            f"{producer.key}:alert:{alert.id}",
            alert.ts,
            created_by_ref=producer.id,
            sighting_of_ref=target["id"],
            where_sighted_refs=[producer.id],
            count=count,
            first_seen=stamp(min(times)),
            last_seen=stamp(max(times)),
            description=alert.title[:500],
        )
        if observed is not None:
            sighting["observed_data_refs"] = [observed["id"]]
        out.append(sighting)
    return out


def vulnerability_objects(match: VulnerabilityMatch, producer: Producer) -> list[dict[str, Any]]:
    """The ``vulnerability`` of a match and a ``sighting`` of it on the asset's address."""
    cve = match.cve.upper()
    vuln = _sdo(
        "vulnerability",
        cve,
        match.published,
        name=cve,
        description=match.description[:2000],
        external_references=[{"source_name": "cve", "external_id": cve}],
    )
    out = [vuln]
    sighting = _sdo(
        "sighting",
        f"{producer.key}:vuln:{match.key}",
        match.first_seen,
        created_by_ref=producer.id,
        sighting_of_ref=vuln["id"],
        where_sighted_refs=[producer.id],
        count=1,
        first_seen=stamp(match.first_seen),
        last_seen=stamp(max(match.first_seen, match.last_seen)),
    )
    sighting["modified"] = stamp(max(match.first_seen, match.last_seen))
    sco = address(match.ip) if match.ip else None
    if sco is not None:
        observed = _sdo(
            "observed-data",
            f"{producer.key}:vuln:{match.key}",
            match.first_seen,
            created_by_ref=producer.id,
            first_observed=stamp(match.first_seen),
            last_observed=stamp(max(match.first_seen, match.last_seen)),
            number_observed=1,
            object_refs=[sco["id"]],
        )
        out += [sco, observed]
        sighting["observed_data_refs"] = [observed["id"]]
    out.append(sighting)
    return out


def export_objects(
    producer: Producer,
    alerts: Iterable[Alert] = (),
    vulnerabilities: Iterable[VulnerabilityMatch] = (),
) -> list[dict[str, Any]]:
    """Every object of an export, each id once, referenced objects before referrers."""
    found: dict[str, dict[str, Any]] = {producer.id: producer.identity()}
    for alert in alerts:
        for obj in alert_objects(alert, producer):
            found.setdefault(obj["id"], obj)
    for match in vulnerabilities:
        for obj in vulnerability_objects(match, producer):
            found.setdefault(obj["id"], obj)
    return list(found.values())


def bundle(objects: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A STIX 2.1 bundle of ``objects`` (a bundle's own id is new each time, per the spec)."""
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}


def bundle_bytes(objects: Sequence[dict[str, Any]]) -> bytes:
    """The bundle as JSON bytes (``application/stix+json;version=2.1``)."""
    return orjson.dumps(bundle(objects))
