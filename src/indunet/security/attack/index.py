"""The ATT&CK for ICS index: the vendored STIX 2.1 bundle read once (lazily, with orjson) into
plain dataclasses and dicts keyed by ATT&CK id.

Revoked and deprecated objects are left out. Relationships used: ``mitigates``
(course-of-action → technique), ``targets`` (technique → asset), ``detects`` (detection
strategy → technique) and ``uses`` (group, software, campaign → technique). The v18 detection
model: a detection strategy lists its analytics (``x_mitre_analytic_refs``); an analytic names
its log sources (``x_mitre_log_source_references``: data component, name, channel).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

BUNDLE = Path(__file__).resolve().parent.parent / "data" / "ics-attack.json"
ATTACK_VERSION = "18"


@dataclass(frozen=True, slots=True)
class Tactic:
    id: str  # TA0108
    name: str
    shortname: str  # initial-access (the kill-chain phase name)


@dataclass(frozen=True, slots=True)
class Technique:
    id: str  # T0855
    name: str
    tactics: tuple[str, ...]  # shortnames, in matrix order
    platforms: tuple[str, ...]
    description: str
    url: str


@dataclass(frozen=True, slots=True)
class Asset:
    id: str  # A0001
    name: str
    sectors: tuple[str, ...]
    platforms: tuple[str, ...]
    related: tuple[tuple[str, tuple[str, ...]], ...]  # (name, sectors)
    description: str


@dataclass(frozen=True, slots=True)
class Mitigation:
    id: str  # M0801
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class LogSource:
    data_component: str  # DC0078 (or "" when the bundle does not name one we know)
    data_component_name: str
    name: str
    channel: str


@dataclass(frozen=True, slots=True)
class Analytic:
    id: str  # AN1881
    description: str
    platforms: tuple[str, ...]
    log_sources: tuple[LogSource, ...]


@dataclass(frozen=True, slots=True)
class DetectionStrategy:
    id: str  # DET0738
    name: str
    analytics: tuple[Analytic, ...]


@dataclass(slots=True)
class AttackIndex:
    """Every ATT&CK for ICS object this platform reads, keyed by ATT&CK id."""

    version: str
    tactics: tuple[Tactic, ...]
    techniques: dict[str, Technique]
    assets: dict[str, Asset]
    mitigations: dict[str, Mitigation]
    strategies: dict[str, DetectionStrategy]
    by_tactic: dict[str, tuple[str, ...]] = field(default_factory=dict)
    technique_assets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    technique_mitigations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    technique_strategies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    technique_users: dict[str, tuple[tuple[str, str, str], ...]] = field(default_factory=dict)

    def technique(self, technique_id: str) -> Technique | None:
        return self.techniques.get(technique_id)

    def techniques_for_tactic(self, tactic: str) -> list[Technique]:
        """Techniques of a tactic (by id ``TA0108`` or shortname), by name."""
        short = next((t.shortname for t in self.tactics if tactic in (t.id, t.shortname)), "")
        return [self.techniques[i] for i in self.by_tactic.get(short, ())]

    def asset_types(self, technique_id: str) -> list[Asset]:
        return [self.assets[a] for a in self.technique_assets.get(technique_id, ())]

    def mitigations_for(self, technique_id: str) -> list[Mitigation]:
        return [self.mitigations[m] for m in self.technique_mitigations.get(technique_id, ())]

    def detection_strategies_for(self, technique_id: str) -> list[DetectionStrategy]:
        return [self.strategies[s] for s in self.technique_strategies.get(technique_id, ())]

    def used_by(self, technique_id: str) -> list[tuple[str, str, str]]:
        """(kind, ATT&CK id, name) of groups, software and campaigns using the technique."""
        return list(self.technique_users.get(technique_id, ()))


_lock = threading.Lock()
_index: AttackIndex | None = None


def index() -> AttackIndex:
    """The index of the vendored bundle, built on first use (about 0.1 s) and kept."""
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                _index = load(BUNDLE.read_bytes())
    return _index


def _attack_id(obj: dict[str, Any]) -> str | None:
    for ref in obj.get("external_references") or ():
        if ref.get("source_name") == "mitre-attack" and ref.get("external_id"):
            return str(ref["external_id"])
    return None


def _url(obj: dict[str, Any]) -> str:
    for ref in obj.get("external_references") or ():
        if ref.get("source_name") == "mitre-attack":
            return str(ref.get("url") or "")
    return ""


def _live(obj: dict[str, Any]) -> bool:
    return not obj.get("revoked") and not obj.get("x_mitre_deprecated")


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def load(raw: bytes) -> AttackIndex:
    """An index from a STIX bundle's bytes (``ValueError`` when it has no ICS matrix)."""
    objects: list[dict[str, Any]] = orjson.loads(raw).get("objects") or []
    live: dict[str, dict[str, Any]] = {}
    ids: dict[str, str] = {}  # STIX id → ATT&CK id
    for obj in objects:
        if obj.get("type") in ("relationship", "marking-definition", "identity"):
            continue
        if _live(obj):
            live[obj["id"]] = obj
            aid = _attack_id(obj)
            if aid:
                ids[obj["id"]] = aid
    matrix = next((o for o in live.values() if o.get("type") == "x-mitre-matrix"), None)
    if matrix is None:
        raise ValueError("the bundle has no x-mitre-matrix")
    tactics = tuple(
        Tactic(ids[ref], live[ref]["name"], live[ref]["x_mitre_shortname"])
        for ref in matrix.get("tactic_refs") or ()
        if ref in live
    )
    order = {t.shortname: n for n, t in enumerate(tactics)}
    techniques: dict[str, Technique] = {}
    for sid, obj in live.items():
        if obj.get("type") != "attack-pattern" or sid not in ids:
            continue
        phases = sorted(
            {
                p["phase_name"]
                for p in obj.get("kill_chain_phases") or ()
                if p.get("kill_chain_name") == "mitre-ics-attack" and p.get("phase_name") in order
            },
            key=order.__getitem__,
        )
        techniques[ids[sid]] = Technique(
            ids[sid],
            obj["name"],
            tuple(phases),
            _strs(obj.get("x_mitre_platforms")),
            obj.get("description") or "",
            _url(obj),
        )
    assets = {
        ids[sid]: Asset(
            ids[sid],
            obj["name"],
            _strs(obj.get("x_mitre_sectors")),
            _strs(obj.get("x_mitre_platforms")),
            tuple(
                (str(r.get("name", "")), _strs(r.get("related_asset_sectors")))
                for r in obj.get("x_mitre_related_assets") or ()
            ),
            obj.get("description") or "",
        )
        for sid, obj in live.items()
        if obj.get("type") == "x-mitre-asset" and sid in ids
    }
    mitigations = {
        ids[sid]: Mitigation(ids[sid], obj["name"], obj.get("description") or "")
        for sid, obj in live.items()
        if obj.get("type") == "course-of-action" and sid in ids
    }
    components = {
        sid: (ids.get(sid, ""), obj.get("name", ""))
        for sid, obj in live.items()
        if obj.get("type") == "x-mitre-data-component"
    }
    analytics: dict[str, Analytic] = {}
    for sid, obj in live.items():
        if obj.get("type") != "x-mitre-analytic" or sid not in ids:
            continue
        sources = []
        for ref in obj.get("x_mitre_log_source_references") or ():
            dc_id, dc_name = components.get(ref.get("x_mitre_data_component_ref", ""), ("", ""))
            sources.append(
                LogSource(dc_id, dc_name, str(ref.get("name", "")), str(ref.get("channel", "")))
            )
        analytics[sid] = Analytic(
            ids[sid],
            obj.get("description") or "",
            _strs(obj.get("x_mitre_platforms")),
            tuple(sources),
        )
    strategies = {
        ids[sid]: DetectionStrategy(
            ids[sid],
            obj["name"],
            tuple(analytics[a] for a in obj.get("x_mitre_analytic_refs") or () if a in analytics),
        )
        for sid, obj in live.items()
        if obj.get("type") == "x-mitre-detection-strategy" and sid in ids
    }
    t_assets: dict[str, list[str]] = {}
    t_mits: dict[str, list[str]] = {}
    t_strats: dict[str, list[str]] = {}
    t_users: dict[str, list[tuple[str, str, str]]] = {}
    kinds = {"intrusion-set": "group", "malware": "software", "tool": "software"}
    kinds["campaign"] = "campaign"
    for rel in objects:
        if rel.get("type") != "relationship" or not _live(rel):
            continue
        src, dst = rel.get("source_ref", ""), rel.get("target_ref", "")
        if src not in ids or dst not in ids:
            continue
        kind = rel.get("relationship_type")
        if kind == "targets" and ids[src] in techniques and ids[dst] in assets:
            t_assets.setdefault(ids[src], []).append(ids[dst])
        elif kind == "mitigates" and ids[src] in mitigations and ids[dst] in techniques:
            t_mits.setdefault(ids[dst], []).append(ids[src])
        elif kind == "detects" and ids[src] in strategies and ids[dst] in techniques:
            t_strats.setdefault(ids[dst], []).append(ids[src])
        elif kind == "uses" and ids[dst] in techniques and live[src]["type"] in kinds:
            t_users.setdefault(ids[dst], []).append(
                (kinds[live[src]["type"]], ids[src], live[src]["name"])
            )
    by_tactic: dict[str, list[str]] = {t.shortname: [] for t in tactics}
    for tech in sorted(techniques.values(), key=lambda t: t.name):
        for short in tech.tactics:
            by_tactic[short].append(tech.id)
    return AttackIndex(
        version=ATTACK_VERSION,
        tactics=tactics,
        techniques=techniques,
        assets=dict(sorted(assets.items())),
        mitigations=mitigations,
        strategies=strategies,
        by_tactic={k: tuple(v) for k, v in by_tactic.items()},
        technique_assets=_sorted(t_assets),
        technique_mitigations=_sorted(t_mits),
        technique_strategies=_sorted(t_strats),
        technique_users={k: tuple(sorted(set(v))) for k, v in t_users.items()},
    )


def _sorted(table: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    return {k: tuple(sorted(set(v))) for k, v in table.items()}


def known(technique_ids: Iterable[str]) -> list[str]:
    """Those of ``technique_ids`` that are not live techniques of the bundle."""
    techniques = index().techniques
    return [t for t in technique_ids if t not in techniques]
