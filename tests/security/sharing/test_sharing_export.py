"""STIX 2.1 export: valid to the OASIS validator, deterministic ids, idempotent re-export."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import stix2
from stix2validator import ValidationOptions, validate_instance
from tests.security.sharing.stixdata import PRODUCER, Match, alert, event

from indunet.security.sharing import bundle, export_objects, sco_id
from indunet.security.sharing.attack import attack
from indunet.security.sharing.export import address, event_observables, pattern_quote

OPTIONS = ValidationOptions(version="2.1", strict=False)


def validated(objects: list[dict[str, Any]]) -> None:
    result = validate_instance(bundle(objects), OPTIONS)
    assert result.is_valid, [str(e) for e in result.errors]
    # our own objects pass without warnings; MITRE's carry their x_mitre_ properties
    warnings = [str(w) for w in result.warnings if not any(k in str(w) for k in attack().by_id)]
    assert not warnings, warnings


def by_type(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["type"] == kind]


def test_an_alert_exports_to_a_valid_bundle() -> None:
    objects = export_objects(PRODUCER, [alert()], [Match()])
    validated(objects)
    (indicator,) = by_type(objects, "indicator")
    assert indicator["pattern"] == "[ipv4-addr:value = '203.0.113.5']"
    assert indicator["created_by_ref"] == PRODUCER.id
    sightings = by_type(objects, "sighting")
    of_alert = next(s for s in sightings if s["sighting_of_ref"] == indicator["id"])
    assert of_alert["count"] == 7 and of_alert["where_sighted_refs"] == [PRODUCER.id]
    assert of_alert["first_seen"] == "2025-12-06T05:46:41.250Z"
    assert of_alert["last_seen"] == "2025-12-06T05:46:42.250Z"
    observed = next(o for o in objects if o["id"] == of_alert["observed_data_refs"][0])
    kinds = sorted(o["type"] for o in objects if o["id"] in observed["object_refs"])
    assert kinds == ["ipv4-addr", "ipv4-addr", "mac-addr", "mac-addr"] + ["network-traffic"] * 2
    traffic = by_type(objects, "network-traffic")[0]
    assert traffic["protocols"] == ["ipv4", "tcp", "mbap"] and traffic["dst_port"] == 502
    macs = {o["value"] for o in by_type(objects, "mac-addr")}
    assert macs == {"aa:bb:cc:00:11:22", "aa:bb:cc:00:11:33"}


def test_attack_patterns_are_mitres_own_objects() -> None:
    objects = export_objects(PRODUCER, [alert()])
    patterns = {o["id"]: o for o in by_type(objects, "attack-pattern")}
    refs = {
        r["external_id"]
        for p in patterns.values()
        for r in p["external_references"]
        if r["source_name"] == "mitre-attack"
    }
    assert refs == {"T0855", "T0836"}
    for pid, obj in patterns.items():
        assert attack().by_id[pid] is obj  # unchanged: same id, same modified
    rels = by_type(objects, "relationship")
    assert {r["target_ref"] for r in rels} == set(patterns)
    assert all(r["relationship_type"] == "indicates" for r in rels)
    # MITRE's identity and marking come along, so every reference resolves in the bundle
    ids = {o["id"] for o in objects}
    assert {
        "identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5",
        "marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168",
    } <= ids


def test_vulnerability_is_named_by_its_cve() -> None:
    objects = export_objects(PRODUCER, vulnerabilities=[Match()])
    validated(objects)
    (vuln,) = by_type(objects, "vulnerability")
    assert vuln["name"] == "CVE-2024-6242"
    assert vuln["external_references"] == [{"source_name": "cve", "external_id": "CVE-2024-6242"}]
    (sighting,) = by_type(objects, "sighting")
    assert sighting["sighting_of_ref"] == vuln["id"]


def test_sco_ids_follow_the_spec_uuidv5_rule() -> None:
    # STIX 2.1 §2.9: UUIDv5, namespace 00abedb4-…, name = canonical JSON of the
    # ID contributing properties ({"value": ...} for an address)
    ns = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
    name = '{"value":"203.0.113.5"}'
    expected = f"ipv4-addr--{uuid.uuid5(ns, name)}"
    sco = address("203.0.113.5")
    assert sco is not None and sco["id"] == expected
    assert sco_id("ipv4-addr", {"value": "203.0.113.5"}) == expected
    # the stix2 library computes the same id (independent check)
    assert stix2.IPv4Address(value="203.0.113.5").id == expected


def test_re_export_is_idempotent() -> None:
    first = export_objects(PRODUCER, [alert(), alert(2)], [Match()])
    second = export_objects(PRODUCER, [alert(), alert(2)], [Match()])
    assert orjson.dumps(first) == orjson.dumps(second)
    other = export_objects(PRODUCER, [alert(3)])
    assert {o["id"] for o in by_type(other, "indicator")}.isdisjoint(
        o["id"] for o in by_type(first, "indicator")
    )


def test_patterns_quote_hostile_text() -> None:
    assert pattern_quote("a'b\\c") == "'a\\'b\\\\c'"
    objects = export_objects(
        PRODUCER, [alert(src_ip=None, detail={"domain": "Evil'.Example.com"}, events=())]
    )
    validated(objects)
    (indicator,) = by_type(objects, "indicator")
    assert indicator["pattern"] == "[domain-name:value = 'evil\\'.example.com']"


def test_ipv6_and_odd_events() -> None:
    ev = event(1, src_ip="2001:db8::1", dst_ip="192.168.1.10", protocol="weird")
    kinds = [o["type"] for o in event_observables(ev)]
    assert kinds == ["ipv6-addr", "ipv4-addr", "mac-addr", "mac-addr"]  # no mixed traffic
    objects = export_objects(PRODUCER, [alert(src_ip="2001:db8::1", events=(ev,))])
    validated(objects)
    assert by_type(objects, "indicator")[0]["pattern"] == "[ipv6-addr:value = '2001:db8::1']"


def test_an_alert_with_no_address_sights_its_technique() -> None:
    objects = export_objects(PRODUCER, [alert(src_ip=None, dst_ip=None, events=())])
    validated(objects)
    (sighting,) = by_type(objects, "sighting")
    assert sighting["sighting_of_ref"].startswith("attack-pattern--")


def test_network_traffic_and_mac_ids_match_the_stix2_library() -> None:
    ev = event(1)
    objects = {o["type"]: o for o in event_observables(ev)}
    traffic = objects["network-traffic"]
    theirs = stix2.NetworkTraffic(
        start=traffic["start"],
        src_ref=traffic["src_ref"],
        dst_ref=traffic["dst_ref"],
        src_port=traffic["src_port"],
        dst_port=traffic["dst_port"],
        protocols=traffic["protocols"],
    )
    assert theirs.id == traffic["id"]
    assert stix2.MACAddress(value="aa:bb:cc:00:11:33").id == objects["mac-addr"]["id"]
