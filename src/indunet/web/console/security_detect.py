"""Detection pages: the rules (search, paging, counters), the ATT&CK for ICS matrix (heat by
alerts or by rule coverage; a technique's assets, mitigations and detection strategies), and
the learned baseline of the enterprises the reader sees.

Technique, tactic and asset names stay in English as ATT&CK publishes them; labels are
translated. Every list is searched and paged on the server.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from indunet.core import IndunetError, InvalidInput, NotFound, PermissionDenied, Role, User, access
from indunet.security.attack import index
from indunet.security.detect.part import Detection
from indunet.security.detect.rules import MAX_FILE
from indunet.web.api.security_rules import (
    _audit as audit_change,
)
from indunet.web.api.security_rules import (
    _coverage,
    detection_of,
    detections_for,
    find_rules,
    refuse_if_chained,
    rule_text,
)
from indunet.web.console import fleet
from indunet.web.console.pages import error_text, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.guards.limits import PayloadTooLarge
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
TECHNIQUE = re.compile(r"T0[0-9]{3}")


def _detection(state: AppState) -> Detection:
    try:
        return detection_of(state)
    except IndunetError:
        raise fleet.NoPlatform() from None


@router.get("/security/rules")
def rules_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Every detection rule: level, techniques, on or off, matches and alerts since start."""
    return render(request, "security_rules.html", _rules_context(request, state, user))


def _rules_context(request: Request, state: AppState, user: User) -> dict[str, Any]:
    det = _detection(state)
    request.state.list_path = "/security/rules"  # also when a form's POST shows the list
    paging = paging_of(request)
    found = find_rules(det, paging.q)
    rows = found[paging.offset : paging.offset + paging.limit]
    admin = user.role == Role.PLATFORM_ADMIN
    files = [
        {"name": f.name, "builtin": bool(f.rules and f.rules[0].builtin), "rules": len(f.rules)}
        for f in det.engine.ruleset.files
    ]
    return {
        "result": PageOf(rows, len(found), paging),
        "stats": {r.id: det.engine.stats.get(r.id) for r in rows},
        "may_switch": admin,
        "files": files if admin else [],
        # the file just uploaded, named only when it is one (a link cannot claim another)
        "uploaded": next(
            (
                f["name"]
                for f in files
                if admin and not f["builtin"] and f["name"] == request.query_params.get("uploaded")
            ),
            None,
        ),
        "max_file_kib": MAX_FILE // 1024,
    }


@router.post("/security/rules/files")
async def upload_rule_file(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Add or replace a rule file (platform admins; YAML, at most 256 KiB). The file is
    checked with every other rule first: a bad file changes nothing and the page names the
    file, rule and line."""
    det = _detection(state)
    try:
        if user.role != Role.PLATFORM_ADMIN:
            raise PermissionDenied(f"{user.username} may not upload detection rules")
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput(
                "choose a rule file (.yml)", reason="security_rule_file_name", params={"file": ""}
            )
        name = str(form.get("name") or upload.filename).strip()[:100]
        data = await upload.read(MAX_FILE + 1)
        if len(data) > MAX_FILE:
            raise PayloadTooLarge(f"{name}: a rule file is at most {MAX_FILE:,} bytes")
        text = rule_text(name, data)
        await run_in_threadpool(det.store.put_file, user, name, text)
        await det.reload()
    except IndunetError as exc:
        ctx = _rules_context(request, state, user) | {"error": error_text(request, exc)}
        return render(request, "security_rules.html", ctx, status=exc.status)
    return RedirectResponse(f"/security/rules?uploaded={quote(name)}", status_code=303)


@router.post("/security/rules/files/{file_name}/delete")
async def delete_rule_file(
    request: Request, state: StateDep, user: ConsoleUser, file_name: str
) -> Response:
    """Remove an uploaded rule file (platform admins); refused while other files' rules
    chain to its rules. Its history stays."""
    det = _detection(state)
    name = file_name[:100]
    try:
        if user.role != Role.PLATFORM_ADMIN:
            raise PermissionDenied(f"{user.username} may not remove detection rules")
        refuse_if_chained(det.engine.ruleset, name)
        await run_in_threadpool(det.store.delete_file, user, name)
        await det.reload()
    except IndunetError as exc:
        ctx = _rules_context(request, state, user) | {"error": error_text(request, exc)}
        return render(request, "security_rules.html", ctx, status=exc.status)
    return RedirectResponse("/security/rules", status_code=303)


@router.post("/security/rules/{detection_rule}/enabled")
async def switch_rule(
    request: Request, state: StateDep, user: ConsoleUser, detection_rule: str
) -> Response:
    """Switch a rule on or off (platform admins; audited), then back to the list."""
    det = _detection(state)
    form = await request.form()
    on = form.get("enabled") == "1"
    try:
        if user.role != Role.PLATFORM_ADMIN:
            raise PermissionDenied(f"{user.username} may not switch detection rules")
        rules = det.engine.ruleset
        await run_in_threadpool(det.store.set_enabled, user, rules, detection_rule[:80], on)
        await det.reload()
    except IndunetError as exc:
        ctx = _rules_context(request, state, user) | {"error": error_text(request, exc)}
        return render(request, "security_rules.html", ctx, status=exc.status)
    return RedirectResponse("/security/rules", status_code=303)


def _heat(value: int, top: int) -> int:
    """0–5: the shade of a matrix cell."""
    if value <= 0 or top <= 0:
        return 0
    return max(1, min(5, round(5 * value / top)))


@router.get("/security/attack")
def attack_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The ATT&CK for ICS matrix: tactics as columns, techniques as cells, shaded by alerts
    (or by rules covering them); a chosen technique's assets, mitigations and detection."""
    det = _detection(state)
    idx = index()
    by = "coverage" if request.query_params.get("by") == "coverage" else "detections"
    cover = _coverage(det)
    seen = detections_for(det, user)
    values = {t: len(r) for t, r in cover.items()} if by == "coverage" else seen
    top = max(values.values(), default=0)
    columns = [
        (
            tactic,
            [
                (tech, _heat(values.get(tech.id, 0), top), values.get(tech.id, 0))
                for tech in idx.techniques_for_tactic(tactic.shortname)
            ],
        )
        for tactic in idx.tactics
    ]
    chosen = request.query_params.get("technique", "")
    detail: dict[str, Any] | None = None
    if TECHNIQUE.fullmatch(chosen) and (tech := idx.technique(chosen)) is not None:
        detail = {
            "technique": tech,
            "assets": idx.asset_types(chosen),
            "mitigations": idx.mitigations_for(chosen),
            "strategies": idx.detection_strategies_for(chosen),
            "rules": cover.get(chosen, []),
            "detections": seen.get(chosen, 0),
        }
    return render(
        request,
        "security_attack.html",
        {"columns": columns, "by": by, "detail": detail, "covered": len(cover)},
    )


def _baseline_context(state: AppState, user: User, request: Request) -> dict[str, Any]:
    det = _detection(state)
    paging = paging_of(request)
    eid = access.scope(user)
    kind = request.query_params.get("kind", "")
    kind = kind if kind in ("conversation", "function") else ""
    rows, total = det.baseline_store.page(eid, paging.q, kind, paging.offset, paging.limit)
    periods = sorted((e, p) for e, p in det.baseline.periods.items() if eid is None or e == eid)
    return {
        "result": PageOf(rows, total, paging),
        "may_change": user.role in (Role.PLATFORM_ADMIN, Role.ENTERPRISE_ADMIN),
        "own": user.enterprise_id,
        "kind": kind,
        "periods": periods,
        "names": fleet.enterprise_names(state, user, [e for e, _ in periods]),
    }


@router.get("/security/baseline")
async def baseline_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The learned baseline: each enterprise's learning period, and its conversations and
    function codes (search, filter, paging)."""
    try:
        ctx = await run_in_threadpool(_baseline_context, state, user, request)
    except IndunetError as exc:
        return render(
            request,
            "security_baseline.html",
            {"error": error_text(request, exc), "result": None, "periods": [], "kind": ""},
            status=exc.status,
        )
    return render(request, "security_baseline.html", ctx)


def _form_int(value: object) -> int:
    text = value if isinstance(value, str) else ""
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput(
            "choose an enterprise or item", reason="security_baseline_item", params={"field": "id"}
        )
    return int(text)


@router.post("/security/baseline")
async def change_baseline(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Start learning, stop learning (enforce) or remove an item, for an enterprise the user
    may change (another enterprise's: not found); audited; back to the page."""
    det = _detection(state)
    form = await request.form()
    op = form.get("op")
    try:
        enterprise = _form_int(form.get("enterprise_id"))
        access.check_change(user, enterprise, f"enterprise {enterprise}")
        if op == "learn":
            await run_in_threadpool(det.start_learning, enterprise, user.username)
            action = "security.baseline.learn"
            detail: dict[str, Any] = {"days": 7}
        elif op == "enforce":
            if await run_in_threadpool(det.stop_learning, enterprise, user.username) is None:
                raise NotFound(f"no baseline for enterprise {enterprise}")
            action, detail = "security.baseline.enforce", {}
        else:
            item_id = _form_int(form.get("item_id"))
            item = await run_in_threadpool(det.baseline_store.delete, enterprise, item_id)
            if item is None:
                raise NotFound(f"no baseline item {item_id}")
            action, detail = "security.baseline.remove", {"key": item.key}
        await run_in_threadpool(audit_change, det, user, action, enterprise, detail)
    except IndunetError as exc:
        ctx = await run_in_threadpool(_baseline_context, state, user, request)
        ctx["error"] = error_text(request, exc)
        return render(request, "security_baseline.html", ctx, status=exc.status)
    return RedirectResponse("/security/baseline", status_code=303)
