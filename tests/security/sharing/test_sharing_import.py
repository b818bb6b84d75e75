"""STIX import: checks, reference order, dangling references, idempotence by id+modified."""

from __future__ import annotations

import copy
import random
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from tests.security.sharing.stixdata import PRODUCER, Match, alert

from indunet.core import InvalidInput
from indunet.security.sharing import (
    Outcome,
    bundle,
    export_objects,
    import_bundle,
    order,
    parse,
)
from indunet.security.sharing import store as sharing_store
from indunet.security.sharing.validate import MAX_OBJECTS, references
from indunet.security.sharingtables import objects as objects_table


@pytest.fixture
def collection(engine: sa.Engine) -> str:
    with engine.begin() as conn:
        return sharing_store.ensure_collection(conn, None, "installation").id


def stored(engine: sa.Engine, cid: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(objects_table.c.stix_id, objects_table.c.version)
            .where(objects_table.c.collection_id == cid)
            .order_by(objects_table.c.date_added, objects_table.c.seq)
        )
        return [(r[0], r[1]) for r in rows]


def sample() -> list[dict[str, Any]]:
    return export_objects(PRODUCER, [alert(), alert(2)], [Match()])


def test_order_puts_references_first_whatever_the_bundle_order() -> None:
    objs = sample()
    shuffled = objs[:]
    random.Random(7).shuffle(shuffled)
    ordered = order(shuffled)
    assert sorted(o["id"] for o in ordered) == sorted(o["id"] for o in objs)
    seen: set[str] = set()
    inside = {o["id"] for o in objs}
    cyclic = {
        "identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5",
        "marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168",
    }
    for obj in ordered:
        for prop, ref in references(obj):
            if ref in inside and not (obj["id"] in cyclic and ref in cyclic):
                assert ref in seen, f"{obj['id']} {prop} -> {ref} comes later"
        seen.add(obj["id"])


def test_a_long_chain_orders_without_recursion() -> None:
    chain = [
        {
            "id": f"x-thing--00000000-0000-4000-8000-{i:012d}",
            **({"next_ref": f"x-thing--00000000-0000-4000-8000-{i + 1:012d}"} if i < 4999 else {}),
        }
        for i in range(5000)
    ]
    ordered = order(chain)
    assert ordered[0]["id"].endswith("004999") and ordered[-1]["id"].endswith("000000")


def test_import_keeps_every_object_in_reference_order(engine: sa.Engine, collection: str) -> None:
    objs = sample()
    random.Random(3).shuffle(objs)
    result = import_bundle(engine, collection, orjson.dumps(bundle(objs)))
    assert result.count(Outcome.ADDED) == len(objs)
    assert len(stored(engine, collection)) == len(objs)


def test_a_dangling_reference_refuses_the_whole_bundle(engine: sa.Engine, collection: str) -> None:
    objs = sample()
    sighting = next(o for o in objs if o["type"] == "sighting")
    objs.remove(next(o for o in objs if o["id"] == sighting["sighting_of_ref"]))
    with pytest.raises(InvalidInput) as err:
        import_bundle(engine, collection, bundle(objs))
    assert err.value.reason == "sharing_dangling_ref"
    assert err.value.params["property"] in ("sighting_of_ref", "source_ref")
    assert err.value.params["object"] in err.value.message
    assert stored(engine, collection) == []  # all or nothing
    # once the referenced object is held, the same bundle imports
    import_bundle(engine, collection, bundle(sample()))
    import_bundle(engine, collection, bundle(objs))


def test_a_dangling_reference_is_named(engine: sa.Engine, collection: str) -> None:
    ghost = "indicator--11111111-1111-4111-8111-111111111111"
    sighting = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": "sighting--22222222-2222-4222-8222-222222222222",
        "created": "2025-01-01T00:00:00.000Z",
        "modified": "2025-01-01T00:00:00.000Z",
        "sighting_of_ref": ghost,
    }
    with pytest.raises(InvalidInput) as err:
        import_bundle(engine, collection, bundle([sighting]))
    assert err.value.params == {
        "object": sighting["id"],
        "property": "sighting_of_ref",
        "ref": ghost,
    }


def test_idempotent_by_id_and_modified(engine: sa.Engine, collection: str) -> None:
    objs = sample()
    import_bundle(engine, collection, bundle(objs))
    before = stored(engine, collection)
    again = import_bundle(engine, collection, bundle(objs))
    assert again.count(Outcome.SAME) == len(objs) and again.count(Outcome.ADDED) == 0
    assert stored(engine, collection) == before
    indicator = next(o for o in objs if o["type"] == "indicator")
    newer = copy.deepcopy(indicator) | {"modified": "2026-01-01T00:00:00.000Z", "name": "v2"}
    older = copy.deepcopy(indicator) | {"modified": indicator["created"], "name": "v0"}
    older["created"] = "2020-01-01T00:00:00.000Z"
    older["modified"] = "2021-01-01T00:00:00.000Z"
    result = import_bundle(engine, collection, bundle([newer, older]))
    assert [r[2] for r in result.results] == [Outcome.OLDER, Outcome.ADDED]
    versions = [v for i, v in stored(engine, collection) if i == indicator["id"]]
    assert versions == ["2025-12-06T05:46:51.000000Z", "2026-01-01T00:00:00.000000Z"]


BASE = {
    "type": "indicator",
    "spec_version": "2.1",
    "id": "indicator--33333333-3333-4333-8333-333333333333",
    "created": "2025-01-01T00:00:00.000Z",
    "modified": "2025-01-01T00:00:00.000Z",
    "pattern": "[ipv4-addr:value = '198.51.100.1']",
    "pattern_type": "stix",
    "valid_from": "2025-01-01T00:00:00Z",
}


@pytest.mark.parametrize(
    ("change", "prop"),
    [
        ({"id": "indicator--not-a-uuid"}, "id"),
        ({"id": "malware--33333333-3333-4333-8333-333333333333"}, "id"),
        ({"type": "Bad_Type"}, "type"),
        ({"spec_version": "2.0"}, "spec_version"),
        ({"created": "2025-01-01 00:00:00"}, "created"),
        ({"modified": "2025-01-01T00:00:00+08:00"}, "modified"),
        ({"modified": "2024-01-01T00:00:00Z"}, "modified"),
        ({"pattern": None}, "pattern"),
        ({"created_by_ref": "indicator--33333333-3333-4333-8333-333333333334"}, "created_by_ref"),
        ({"object_marking_refs": ["nope"]}, "object_marking_refs"),
    ],
)
def test_invalid_objects_are_named(change: dict[str, Any], prop: str) -> None:
    obj = {k: v for k, v in (BASE | change).items() if v is not None}
    with pytest.raises(InvalidInput) as err:
        parse(bundle([BASE, obj]))
    assert err.value.reason == "sharing_stix_invalid"
    assert err.value.params["property"] == prop
    assert err.value.params["object"].startswith("object 1")


def test_bundle_shape_and_bounds() -> None:
    with pytest.raises(InvalidInput):
        parse(b"{not json")
    with pytest.raises(InvalidInput):
        parse({"type": "bundle", "id": "bundle--x", "objects": []})
    with pytest.raises(InvalidInput) as err:
        parse(bundle([BASE] * (MAX_OBJECTS + 1)))
    assert err.value.reason == "sharing_too_many_objects"
    huge = BASE | {"description": "x" * 300_000}
    with pytest.raises(InvalidInput):
        parse(bundle([huge]))
    deep: dict[str, Any] = {}
    cur = deep
    for _ in range(30):
        cur["x"] = {}
        cur = cur["x"]
    with pytest.raises(InvalidInput):
        parse(bundle([BASE | {"x_deep": deep}]))
    sco = {
        "type": "ipv4-addr",
        "id": "ipv4-addr--44444444-4444-5444-8444-444444444444",
        "value": "198.51.100.1",
    }
    assert parse(bundle([sco])) == [sco]  # SCOs need no spec_version nor created
