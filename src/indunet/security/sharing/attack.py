"""ATT&CK for ICS techniques as STIX objects, from the vendored bundle
(``security/data/ics-attack.json``, MITRE's v18.1): the ``attack-pattern`` of a technique id
(``T0855``) with MITRE's own STIX id, unchanged, and the identity and marking it refers to.

Exports carry MITRE's objects as they are (same id, same ``modified``), so a receiver that
already holds ATT&CK recognises them; the bundle is read once, on first use.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

BUNDLE = Path(__file__).resolve().parent.parent / "data" / "ics-attack.json"
_lock = threading.Lock()
_index: Attack | None = None


@dataclass(frozen=True, slots=True)
class Attack:
    """The techniques of the vendored bundle, by ATT&CK id and by STIX id."""

    by_technique: dict[str, dict[str, Any]]
    by_id: dict[str, dict[str, Any]]

    def technique(self, technique_id: str) -> dict[str, Any] | None:
        """The (not revoked) ``attack-pattern`` of ``technique_id`` (``T0855``), if ATT&CK has it."""
        return self.by_technique.get(technique_id.upper())

    def with_refs(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        """``obj`` after the objects of the bundle it refers to (MITRE's identity, marking),
        each once (MITRE's identity and marking refer to each other)."""
        out: dict[str, dict[str, Any]] = {}

        def visit(o: dict[str, Any]) -> None:
            if o["id"] in out:
                return
            out[o["id"]] = o
            for ref in (o.get("created_by_ref"), *o.get("object_marking_refs", ())):
                found = self.by_id.get(ref) if isinstance(ref, str) else None
                if found is not None:
                    visit(found)

        visit(obj)
        return list(reversed(out.values()))


def attack() -> Attack:
    """The index of the vendored bundle (read once)."""
    global _index
    with _lock:
        if _index is None:
            data = orjson.loads(BUNDLE.read_bytes())
            by_id: dict[str, dict[str, Any]] = {}
            by_technique: dict[str, dict[str, Any]] = {}
            for obj in data["objects"]:
                if obj["type"] in ("identity", "marking-definition"):
                    by_id[obj["id"]] = obj
                elif obj["type"] == "attack-pattern" and not obj.get("revoked"):
                    by_id[obj["id"]] = obj
                    for ref in obj.get("external_references", ()):
                        if ref.get("source_name") == "mitre-attack" and ref.get("external_id"):
                            by_technique[ref["external_id"].upper()] = obj
            _index = Attack(by_technique, by_id)
        return _index
