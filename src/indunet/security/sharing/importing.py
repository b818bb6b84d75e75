"""Taking STIX objects in: check them, order them so references resolve, refuse a bundle
with a dangling reference, keep the rest idempotently (``store.add``).

A bundle (or a TAXII envelope) is **all or nothing**: one object that does not read, or one
reference to an object that is neither in the bundle, nor in the collection already, nor a
well-known object (the TLP markings, the vendored ATT&CK for ICS objects), refuses the whole
bundle with an error naming the object's id and the property. Nothing is kept half.

Objects are kept referenced-first (a depth-first order over ``*_ref``/``*_refs`` within the
bundle, otherwise the bundle's own order; a reference cycle, such as MITRE's identity and
marking naming each other, is kept in bundle order), so a reader paging through a
collection by ``date_added`` meets an object's references before the object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from indunet.core import InvalidInput

from . import store
from .attack import attack
from .stixids import normal_stamp
from .store import Outcome
from .validate import objects_of, references

#: The TLP 1.0 marking definitions of the STIX 2.1 spec (§7.2.1.4): known everywhere.
TLP_MARKINGS = frozenset(
    {
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",  # TLP:WHITE
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",  # TLP:GREEN
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",  # TLP:AMBER
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",  # TLP:RED
    }
)


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import did: per object ``(id, version, outcome)``, and the counts."""

    results: list[tuple[str, str, Outcome]]

    def count(self, outcome: Outcome) -> int:
        """How many objects had ``outcome``."""
        return sum(1 for r in self.results if r[2] is outcome)


def order(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``items`` with every object after the objects of ``items`` it refers to (where a
    cycle allows), otherwise in their own order. Iterative: a long chain cannot overflow."""
    by_id: dict[str, list[dict[str, Any]]] = {}
    for obj in items:
        by_id.setdefault(obj["id"], []).append(obj)
    done: set[str] = set()
    out: list[dict[str, Any]] = []
    for root in items:
        if root["id"] in done:
            continue
        onpath = {root["id"]}
        stack: list[tuple[str, list[str]]] = [(root["id"], _ref_ids(by_id[root["id"]]))]
        while stack:
            node, pending = stack[-1]
            while pending and (
                pending[-1] in done or pending[-1] in onpath or pending[-1] not in by_id
            ):
                pending.pop()
            if pending:
                child = pending.pop()
                onpath.add(child)
                stack.append((child, _ref_ids(by_id[child])))
                continue
            stack.pop()
            onpath.discard(node)
            done.add(node)
            out.extend(sorted(by_id[node], key=_version))
    return out


def _version(obj: dict[str, Any]) -> str:
    stamp = obj.get("modified") or obj.get("created")
    return normal_stamp(stamp) if isinstance(stamp, str) else ""


def _ref_ids(versions: list[dict[str, Any]]) -> list[str]:
    refs: list[str] = []
    for obj in versions:
        refs.extend(ref for _, ref in references(obj) if ref != obj["id"])
    refs.reverse()  # popped from the end: the first reference is visited first
    return refs


def check_references(
    items: Sequence[dict[str, Any]], held: Callable[[list[str]], set[str]]
) -> None:
    """Refuse the first reference that resolves nowhere (see the module docstring)."""
    inside = {o["id"] for o in items}
    outside: dict[str, tuple[str, str]] = {}
    for obj in items:
        for prop, ref in references(obj):
            if ref not in inside and ref not in TLP_MARKINGS and ref not in attack().by_id:
                outside.setdefault(ref, (obj["id"], prop))
    if not outside:
        return
    found = held(list(outside))
    for ref, (where, prop) in outside.items():
        if ref not in found:
            raise InvalidInput(
                f"{where}: {prop} refers to {ref}, which is neither in the bundle nor held; "
                "the bundle is refused whole",
                reason="sharing_dangling_ref",
                params={"object": where, "property": prop, "ref": ref},
            )


def import_objects(
    conn: sa.Connection, collection_id: str, items: Iterable[dict[str, Any]]
) -> Imported:
    """Check references, order and keep checked ``items`` in one transaction (``conn``)."""
    listed = list(items)
    check_references(listed, lambda ids: store.known_ids(conn, collection_id, ids))
    return Imported(store.add(conn, collection_id, order(listed)))


def parse(body: bytes | dict[str, Any], *, envelope: bool = False) -> list[dict[str, Any]]:
    """The checked objects of a bundle's (or envelope's) JSON."""
    if isinstance(body, dict):
        return objects_of(body, envelope=envelope)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"the body is not JSON: {exc}",
            reason="sharing_json",
            params={"error": str(exc)},
        ) from None
    return objects_of(data, envelope=envelope)


def import_bundle(engine: sa.Engine, collection_id: str, body: bytes | dict[str, Any]) -> Imported:
    """Import a whole bundle into ``collection_id``: all of it, or (an error) none."""
    items = parse(body)
    with engine.begin() as conn:
        return import_objects(conn, collection_id, items)
