"""Detection over HTTP: rules, rule files, lists, ATT&CK for ICS coverage and Navigator
layers, and the learned baseline (docs/security/rules.md, docs/security/attack.md).

Rules are the installation's: every signed-in user reads them; platform admins upload rule
files and switch rules on and off. Lists and the baseline are each enterprise's: its admins
change them, its users and overseers read them; another enterprise's is 404.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from indunet.core import InvalidInput, NotFound, Role, User, access
from indunet.security import SecurityEvent, event_from_dict
from indunet.security.attack import index, navigator_layer
from indunet.security.detect.baseline import Item, items_of
from indunet.security.detect.part import Detection
from indunet.security.detect.rules import MAX_FILE, Rule, RuleSet
from indunet.web.api.security_events import read_body, security_of
from indunet.web.deps import QueryId, StateDep, UserDep, current_user, require

router = APIRouter(prefix="/security", tags=["security"])
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=100)]
Text = Annotated[str, Query(max_length=100)]
RuleId = Annotated[str, Path(max_length=80, pattern=r"^[a-z][a-z0-9_.-]{1,79}$")]
FileName = Annotated[str, Path(max_length=100)]
TechniqueId = Annotated[str, Path(pattern=r"^T0[0-9]{3}$")]


def detection_of(state: Any) -> Detection:
    """The detection part of this process's security service, or 404."""
    part = security_of(state).part("detection")
    if not isinstance(part, Detection):
        raise NotFound("this process runs no detection")
    return part


def rule_json(rule: Rule, det: Detection) -> dict[str, Any]:
    s = det.engine.stats.get(rule.id)
    return {
        "id": rule.id,
        "version": rule.version,
        "title": dict(rule.title),
        "description": rule.description,
        "level": rule.level,
        "enabled": rule.enabled,
        "techniques": list(rule.techniques),
        "group_by": rule.group_by,
        "frequency": rule.frequency,
        "timeframe": rule.timeframe,
        "suppress": rule.suppress,
        "if_matched": rule.if_matched,
        "builtin": rule.builtin,
        "file": rule.file,
        "line": rule.line,
        "stats": asdict(s) if s else None,
    }


def find_rules(det: Detection, q: str = "", technique: str = "") -> list[Rule]:
    """Rules matching ``q`` (id, titles, techniques) and ``technique``, by level then id."""
    needle = q.strip().lower()
    out = []
    for r in det.engine.ruleset.rules:
        text = " ".join([r.id, *r.title.values(), *r.techniques]).lower()
        if needle and needle not in text:
            continue
        if technique and technique not in r.techniques:
            continue
        out.append(r)
    return sorted(out, key=lambda r: (-r.level, r.id))


@router.get("/rules")
def list_rules(
    state: StateDep,
    user: UserDep,
    q: Text = "",
    technique: Annotated[str, Query(max_length=5)] = "",
    offset: Offset = 0,
    limit: Limit = 20,
) -> dict[str, Any]:
    """Every rule (built-in and uploaded), with its counters since start, and the engine's
    counters (events, evicted groups, sink errors…)."""
    det = detection_of(state)
    found = find_rules(det, q, technique)
    return {
        "items": [rule_json(r, det) for r in found[offset : offset + limit]],
        "total": len(found),
        "engine": det.stats(),
    }


@router.get("/rules/{detection_rule}")
def get_rule(state: StateDep, user: UserDep, detection_rule: RuleId) -> dict[str, Any]:
    """One rule, the YAML of its file and the file's version history."""
    det = detection_of(state)
    rule = det.engine.ruleset.get(detection_rule)
    if rule is None:
        raise NotFound(f"no rule {detection_rule}")
    text = next((f.text for f in det.engine.ruleset.files if f.name == rule.file), "")
    versions = [] if rule.builtin else det.store.file_versions(rule.file)
    return rule_json(rule, det) | {
        "yaml": text,
        "versions": [
            {
                "version": v["version"],
                "by": v["created_by"],
                "at": v["created_at"].isoformat(),
                "removed": not v["text"],
            }
            for v in versions
        ],
    }


async def _switch(state: Any, request: Request, detection_rule: str, on: bool) -> dict[str, Any]:
    det = detection_of(state)
    user = await run_in_threadpool(current_user, request, state)
    require(user, Role.PLATFORM_ADMIN)
    await run_in_threadpool(det.store.set_enabled, user, det.engine.ruleset, detection_rule, on)
    await det.reload()
    return {"id": detection_rule, "enabled": on}


@router.post("/rules/{detection_rule}/enable")
async def enable_rule(request: Request, state: StateDep, detection_rule: RuleId) -> dict[str, Any]:
    """Switch a rule on (platform admins)."""
    return await _switch(state, request, detection_rule, True)


@router.post("/rules/{detection_rule}/disable")
async def disable_rule(request: Request, state: StateDep, detection_rule: RuleId) -> dict[str, Any]:
    """Switch a rule off (platform admins)."""
    return await _switch(state, request, detection_rule, False)


@router.get("/rule-files")
def list_rule_files(state: StateDep, user: UserDep) -> dict[str, Any]:
    """The rule files: built-in and uploaded, with the rules each holds."""
    det = detection_of(state)
    return {
        "items": [
            {
                "name": f.name,
                "builtin": bool(f.rules and f.rules[0].builtin),
                "rules": [r.id for r in f.rules],
                "lists": sorted(f.lists),
            }
            for f in det.engine.ruleset.files
        ]
    }


def rule_text(file_name: str, data: bytes) -> str:
    """An uploaded rule file's text; ``InvalidInput`` when it is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            f"{file_name}: the file is not UTF-8 text",
            reason="security_rule_file_text",
            params={"file": file_name[:100]},
        ) from None


def refuse_if_chained(rules: RuleSet, file_name: str) -> None:
    """``InvalidInput`` when rules of other files chain (``if_matched``) to this file's."""
    owned = {r.id for r in rules.rules if r.file == file_name}
    if any(r.if_matched in owned and r.file != file_name for r in rules.rules):
        raise InvalidInput(
            f"{file_name}: other files' rules chain to its rules",
            reason="security_rule_file_parent",
            params={"file": file_name[:100]},
        )


@router.put(
    "/rule-files/{file_name}",
    responses={400: {"description": "the file does not load: file, rule and line named"}},
)
async def put_rule_file(request: Request, state: StateDep, file_name: FileName) -> dict[str, Any]:
    """Upload or replace a rule file (YAML, at most 256 KiB; platform admins). The file is
    checked with every other rule first; a bad file changes nothing."""
    det = detection_of(state)
    user = await run_in_threadpool(current_user, request, state)
    require(user, Role.PLATFORM_ADMIN)
    text = rule_text(file_name, await read_body(request, MAX_FILE))
    version = await run_in_threadpool(det.store.put_file, user, file_name, text)
    await det.reload()
    return {"name": file_name, "version": version}


@router.delete("/rule-files/{file_name}")
async def delete_rule_file(
    request: Request, state: StateDep, file_name: FileName
) -> dict[str, Any]:
    """Remove an uploaded rule file (platform admins); its history stays."""
    det = detection_of(state)
    user = await run_in_threadpool(current_user, request, state)
    require(user, Role.PLATFORM_ADMIN)
    refuse_if_chained(det.engine.ruleset, file_name)
    await run_in_threadpool(det.store.delete_file, user, file_name)
    await det.reload()
    return {"name": file_name, "removed": True}


# -- ATT&CK for ICS ------------------------------------------------------------------------


def _coverage(det: Detection) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in det.engine.ruleset.rules:
        if r.enabled:
            for t in r.techniques:
                out.setdefault(t, []).append(r.id)
    return out


def detections_for(det: Detection, user: User) -> dict[str, int]:
    """Alerts raised since start per technique, of what ``user`` may see."""
    counts: dict[str, int] = {}
    for (ent, tech), n in det.engine.detections.items():
        if access.can_see(user, ent) and (ent is not None or access.sees_all(user)):
            counts[tech] = counts.get(tech, 0) + n
    return counts


@router.get("/attack/coverage")
def attack_coverage(state: StateDep, user: UserDep) -> dict[str, Any]:
    """Which techniques enabled rules cover, and alerts per technique since start."""
    det = detection_of(state)
    cover = _coverage(det)
    seen = detections_for(det, user)
    idx = index()
    return {
        "attack": idx.version,
        "tactics": [
            {
                "id": t.id,
                "name": t.name,
                "techniques": [
                    {
                        "id": x.id,
                        "name": x.name,
                        "rules": cover.get(x.id, []),
                        "detections": seen.get(x.id, 0),
                    }
                    for x in idx.techniques_for_tactic(t.shortname)
                ],
            }
            for t in idx.tactics
        ],
    }


@router.get("/attack/layer")
def attack_layer(
    state: StateDep,
    user: UserDep,
    kind: Annotated[Literal["coverage", "detections"], Query()] = "coverage",
) -> dict[str, Any]:
    """An ATT&CK Navigator layer (format 4.5): rules per technique, or alerts per technique."""
    det = detection_of(state)
    if kind == "coverage":
        cover = _coverage(det)
        scores = {t: len(r) for t, r in cover.items()}
        comments = {t: ", ".join(r) for t, r in cover.items()}
        return navigator_layer(
            scores, "Indunet rule coverage", "Enabled rules per technique", comments
        )
    return navigator_layer(
        detections_for(det, user), "Indunet detections", "Alerts raised per technique since start"
    )


@router.get("/attack/techniques/{technique}")
def attack_technique(state: StateDep, user: UserDep, technique: TechniqueId) -> dict[str, Any]:
    """A technique's tactics, asset types, mitigations, detection strategies (analytics and
    their log sources), users, and the rules covering it."""
    idx = index()
    tech = idx.technique(technique)
    if tech is None:
        raise NotFound(f"no technique {technique}")
    det = detection_of(state)
    return {
        "id": tech.id,
        "name": tech.name,
        "url": tech.url,
        "description": tech.description,
        "tactics": list(tech.tactics),
        "assets": [{"id": a.id, "name": a.name} for a in idx.asset_types(technique)],
        "mitigations": [{"id": m.id, "name": m.name} for m in idx.mitigations_for(technique)],
        "detection_strategies": [asdict(s) for s in idx.detection_strategies_for(technique)],
        "used_by": [{"kind": k, "id": i, "name": n} for k, i, n in idx.used_by(technique)],
        "rules": _coverage(det).get(technique, []),
        "detections": detections_for(det, user).get(technique, 0),
    }


# -- lists ---------------------------------------------------------------------------------


class ListIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    enterprise_id: int = Field(ge=1)
    name: str = Field(max_length=64, examples=["allowed_masters"])
    items: list[str | int] = Field(max_length=10_000)


@router.get("/lists")
def get_lists(state: StateDep, user: UserDep, enterprise_id: QueryId = None) -> dict[str, Any]:
    """Named lists (allowed masters, function codes…) of the enterprises the caller sees."""
    det = detection_of(state)
    rows = det.store.enterprise_lists(user, enterprise_id)
    return {
        "items": [
            {"enterprise_id": r["enterprise_id"], "name": r["name"], "items": r["items"]}
            for r in rows
        ]
    }


@router.put("/lists")
async def put_list(request: Request, state: StateDep, body: ListIn) -> dict[str, Any]:
    """Replace an enterprise's named list (its admins; an empty list removes it)."""
    det = detection_of(state)
    user = await run_in_threadpool(current_user, request, state)
    await run_in_threadpool(det.store.put_list, user, body.enterprise_id, body.name, body.items)
    await det.reload()
    return {"enterprise_id": body.enterprise_id, "name": body.name, "items": len(body.items)}


# -- baseline ------------------------------------------------------------------------------


@router.get("/baseline")
def get_baseline(
    state: StateDep,
    user: UserDep,
    enterprise_id: QueryId = None,
    q: Text = "",
    kind: Annotated[Literal["", "conversation", "function"], Query()] = "",
    offset: Offset = 0,
    limit: Limit = 20,
) -> dict[str, Any]:
    """Baseline items of the enterprises the caller sees (search: addresses, protocol,
    function), and each enterprise's learning period."""
    det = detection_of(state)
    eid = access.scope(user, enterprise_id)
    rows, total = det.baseline_store.page(eid, q.strip(), kind, offset, limit)
    periods = {
        e: asdict(p)
        for e, p in det.baseline.periods.items()
        if (eid is None and access.sees_all(user)) or e == eid
    }
    return {"items": rows, "total": total, "periods": periods}


class LearnIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    enterprise_id: int = Field(ge=1)
    days: float = Field(default=7, gt=0, le=90)


class EnforceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    enterprise_id: int = Field(ge=1)


class BaselineItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    enterprise_id: int = Field(ge=1)
    kind: Literal["conversation", "function"]
    src_ip: str | None = Field(default=None, max_length=45)
    dst_ip: str = Field(max_length=45)
    protocol: str = Field(min_length=1, max_length=32)
    dst_port: int | None = Field(default=None, ge=0, le=65535)
    function: str | None = Field(default=None, max_length=64)


class BaselineRemoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    enterprise_id: int = Field(ge=1)
    item_id: int = Field(ge=1, le=2**63 - 1)


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enterprise_id: int = Field(ge=1)
    event: dict[str, Any]


def _changer(user: User, enterprise_id: int) -> None:
    access.check_change(user, enterprise_id, f"enterprise {enterprise_id}")


@router.post("/baseline/learning")
async def start_learning(request: Request, state: StateDep, body: LearnIn) -> dict[str, Any]:
    """Start (or restart) learning for an enterprise: ``days`` from now."""
    det = detection_of(state)
    user = await run_in_threadpool(current_user, request, state)
    _changer(user, body.enterprise_id)
    period = await run_in_threadpool(
        det.start_learning, body.enterprise_id, user.username, body.days
    )
    action = "security.baseline.learn"
    await run_in_threadpool(_audit, det, user, action, body.enterprise_id, {"days": body.days})
    return asdict(period)


@router.post("/baseline/enforce")
async def stop_learning(request: Request, state: StateDep, body: EnforceIn) -> dict[str, Any]:
    """Stop learning now: from here on, what the baseline lacks raises alerts."""
    det = detection_of(state)
    user = await run_in_threadpool(current_user, request, state)
    _changer(user, body.enterprise_id)
    period = await run_in_threadpool(det.stop_learning, body.enterprise_id, user.username)
    if period is None:
        raise NotFound(f"no baseline for enterprise {body.enterprise_id}")
    action = "security.baseline.enforce"
    await run_in_threadpool(_audit, det, user, action, body.enterprise_id, {})
    return asdict(period)


def _check_item(body: BaselineItemIn) -> Item:
    for name in ("src_ip", "dst_ip"):
        value = getattr(body, name)
        if value is None and name == "src_ip":
            continue
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise InvalidInput(
                f"{name}: not an IP address",
                reason="security_baseline_item",
                params={"field": name},
            ) from None
    if body.kind == "conversation" and body.src_ip is None:
        raise InvalidInput(
            "a conversation needs src_ip",
            reason="security_baseline_item",
            params={"field": "src_ip"},
        )
    if body.kind == "function" and body.function is None:
        raise InvalidInput(
            "a function item needs function",
            reason="security_baseline_item",
            params={"field": "function"},
        )
    return Item(
        body.enterprise_id,
        body.kind,
        body.src_ip if body.kind == "conversation" else None,
        body.dst_ip,
        body.protocol,
        body.dst_port if body.kind == "conversation" else None,
        body.function if body.kind == "function" else None,
        "manual",
    )


def _add(det: Detection, user: User, items: list[Item], action: str) -> int:
    added = [i for i in items if det.baseline.add(i, persist=False)]
    if added:
        det.baseline_store.write(added)
    for i in added:
        _audit(det, user, action, i.enterprise_id, {"key": i.key, "kind": i.kind})
    return len(added)


def _audit(
    det: Detection, user: User, action: str, enterprise: int, detail: dict[str, Any]
) -> None:
    from indunet.core import audit

    with det.store.engine.begin() as conn:
        audit.record(
            conn,
            f"user:{user.username}",
            action,
            f"enterprise {enterprise}",
            detail,
            enterprise_id=enterprise,
        )


@router.post("/baseline/items")
async def add_baseline_item(
    request: Request, state: StateDep, body: BaselineItemIn
) -> dict[str, Any]:
    """Add a conversation or function to an enterprise's baseline."""
    det = detection_of(state)
    user = await run_in_threadpool(current_user, request, state)
    _changer(user, body.enterprise_id)
    item = _check_item(body)
    action = "security.baseline.add"
    added = await run_in_threadpool(_add, det, user, [item], action)
    return {"added": added}


@router.post("/baseline/remove")
async def remove_baseline_item(
    request: Request, state: StateDep, body: BaselineRemoveIn
) -> dict[str, Any]:
    """Remove an item from an enterprise's baseline."""
    det = detection_of(state)
    user = await run_in_threadpool(current_user, request, state)
    _changer(user, body.enterprise_id)
    item = await run_in_threadpool(det.baseline_store.delete, body.enterprise_id, body.item_id)
    if item is None:
        raise NotFound(f"no baseline item {body.item_id}")
    action = "security.baseline.remove"
    await run_in_threadpool(_audit, det, user, action, body.enterprise_id, {"key": item.key})
    return {"removed": body.item_id}


@router.post("/baseline/accept")
async def accept_from_alert(request: Request, state: StateDep, body: AcceptIn) -> dict[str, Any]:
    """Accept what an alert's event shows as normal: its conversation and function join the
    enterprise's baseline (the event as in the alert's evidence)."""
    det = detection_of(state)
    user = await run_in_threadpool(current_user, request, state)
    _changer(user, body.enterprise_id)
    event: SecurityEvent = event_from_dict(
        {k: v for k, v in body.event.items() if v not in ("", None)}
        | {"enterprise_id": body.enterprise_id}
    )
    items = [
        Item(
            i.enterprise_id,
            i.kind,
            i.src_ip,
            i.dst_ip,
            i.protocol,
            i.dst_port,
            i.function,
            "alert",
            i.first_seen,
        )
        for i in items_of(event)
    ]
    if not items:
        raise InvalidInput(
            "the event shows no conversation (src_ip, dst_ip, protocol)",
            reason="security_baseline_item",
            params={"field": "event"},
        )
    action = "security.baseline.accept"
    added = await run_in_threadpool(_add, det, user, items, action)
    return {"added": added}
