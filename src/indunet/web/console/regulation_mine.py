"""The enterprise's regulation pages (本企业): ``/regulation/mine`` (its type, level and
grading state; a platform admin first picks an enterprise hosted here) and its
self-assessment (自主定级) at ``/regulation/mine/{uscc}/grading``: the questionnaire of the
enterprise's type read from the current rule table (data, not code) in the reader's
language, evidence files, a note; saved as a draft that shows the proposed level and its
scoring lines, then submitted; a returned one shows the authority's comments; its history.

Obligations and notices are ``regulation_mine_duties``. The service decides who may do
what (its admins fill in the self-assessment); the pages offer only what it will allow.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from indunet import core
from indunet.core import IndunetError, InvalidInput, User, access
from indunet.regulation import registry, rules
from indunet.web.console import regulation_mine_duties as duties
from indunet.web.console.i18n import locale_of
from indunet.web.console.pages import render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.regulation_mine_kit import (
    BASE,
    FORM_FIELDS,
    GRADING_OPEN,
    MAX_EVIDENCE_MIB,
    files,
    kept,
    label,
    reader,
    refusal,
    service,
    text,
    upload,
)
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
TYPES = ("industrial", "platform", "identifier")


# -- my enterprise --------------------------------------------------------------------------


def _mine_context(
    request: Request, state: AppState, user: User, enterprise_id: int | None
) -> dict[str, Any]:
    svc = service(state)
    # an overseer picks the enterprise; anyone else sees their own (naming another: 404)
    eid = enterprise_id if access.sees_all(user) else access.scope(user, enterprise_id)
    table = svc.rules()
    types = [(k, label(table["types"][k]["title"], locale_of(request))) for k in TYPES]
    ctx: dict[str, Any] = {"types": types, "table_title": label(table["title"], locale_of(request))}
    if eid is None:  # an overseer who has not picked an enterprise yet
        paging = paging_of(request)
        with state.engine.connect() as conn:
            rows, total = core.enterprises.page_enterprises(
                conn,
                like=paging.like if paging.q else None,
                offset=paging.offset,
                limit=paging.limit,
            )
        return ctx | {"picking": True, "result": PageOf(rows, total, paging)}
    with state.engine.connect() as conn:
        tenant = core.get_enterprise_by_id(conn, eid)
        profile = registry.of_tenant(conn, eid)
    ctx |= {
        "picking": False,
        "tenant": tenant,
        "profile": profile,
        "admin": access.can_change(user, eid),
        "overseer": access.sees_all(user),
    }
    if profile is not None:
        ctx["etype_title"] = dict(types).get(profile["etype"], profile["etype"])
        ctx["authority"] = label(table["types"][profile["etype"]]["authority"], locale_of(request))
        found = svc.enterprise(user, profile["uscc"])
        ctx["grading"] = found["grading"]
        ctx["open_obligations"] = len(found["obligations"])
        ctx["overdue_obligations"] = duties.overdue_count(found["obligations"])
    return ctx


@router.get(BASE)
def mine_page(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    enterprise_id: int | None = Query(None, ge=1, le=2**63 - 1),
) -> Response:
    """My enterprise: its type (or the form to choose one), level and grading state."""
    ctx = _mine_context(request, state, user, enterprise_id)
    return render(request, "regulation_mine.html", ctx)


@router.post(f"{BASE}/profile")
async def set_profile(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Put the enterprise under supervision with its type (its admins; platform admins)."""
    form = await request.form(max_fields=FORM_FIELDS)
    raw = text(form, "enterprise_id", 20)
    eid = int(raw) if raw.isdigit() and len(raw) < 19 else user.enterprise_id
    svc = service(state)
    try:
        if eid is None:
            raise InvalidInput("pick an enterprise", reason="regulation_pick_enterprise")
        await run_in_threadpool(svc.set_profile, user, eid, text(form, "etype", 16))
    except IndunetError as exc:
        shown = eid if access.sees_all(user) and exc.status != 404 else None
        ctx = await run_in_threadpool(_mine_context, request, state, user, shown)
        ctx["error"] = refusal(request, exc)
        return render(request, "regulation_mine.html", ctx, status=exc.status)
    back = f"{BASE}?enterprise_id={eid}" if access.sees_all(user) else BASE
    return RedirectResponse(back, status_code=303)


# -- the self-assessment ----------------------------------------------------------------------


def _questionnaire(table: dict[str, Any], etype: str, locale: str) -> list[dict[str, Any]]:
    """The factors of ``etype`` with their options, in ``locale``."""
    return [
        {
            "id": f["id"],
            "title": label(f["title"], locale),
            "options": [
                {
                    "value": o["value"],
                    "label": label(o["label"], locale),
                    "points": o["points"],
                    "level": o.get("level"),
                }
                for o in f["options"]
            ],
        }
        for f in table["types"][etype]["factors"]
    ]


def _lines(scoring: dict[str, Any] | None, factors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scoring lines with the factor's title and the chosen option's label."""
    by_id = {f["id"]: f for f in factors}
    out = []
    for line in (scoring or {}).get("lines", []):
        f = by_id.get(line["factor"], {"title": line["factor"], "options": []})
        o = next((o for o in f["options"] if o["value"] == line["value"]), None)
        out.append({**line, "title": f["title"], "label": o["label"] if o else line["value"]})
    return out


def _grading_context(
    request: Request, state: AppState, user: User, uscc: str, answers: dict[str, str] | None
) -> dict[str, Any]:
    svc = service(state)
    me, found = reader(svc, user, uscc)
    g = found["grading"]
    fresh = g is None or g["state"] == "confirmed"  # saving starts a new self-assessment
    table = svc.rules(None if g is None else g["edition"])
    locale = locale_of(request)
    factors = _questionnaire(table, me.enterprise["etype"], locale)
    data = g["data"] if g is not None else {}
    if fresh and g is not None and table["edition"] != svc.rules()["edition"]:
        factors = _questionnaire(svc.rules(), me.enterprise["etype"], locale)
    return {
        "me": me,
        "grading": g,
        "factors": factors,
        "edition": label(table["title"], locale),
        "answers": answers if answers is not None else (data.get("answers") or {}),
        "note_text": data.get("note", ""),
        "evidence": files(svc, list(data.get("evidence") or [])),
        "scoring": data.get("scoring"),
        "lines": _lines(data.get("scoring"), _questionnaire(table, me.enterprise["etype"], locale)),
        "comments": list(reversed(data.get("comments") or [])),
        "history": list(reversed(data.get("history") or [])),
        "editable": me.admin and (fresh or g["state"] in GRADING_OPEN),
        "fresh": fresh,
        "max_mib": MAX_EVIDENCE_MIB,
    }


@router.get(f"{BASE}/{{uscc}}/grading")
def grading_page(request: Request, state: StateDep, user: ConsoleUser, uscc: str) -> Response:
    """The self-assessment: the questionnaire, its scoring, comments and history."""
    ctx = _grading_context(request, state, user, uscc, None)
    return render(request, "regulation_mine_grading.html", ctx)


async def _save(
    request: Request, state: AppState, user: User, uscc: str, g: dict[str, Any] | None
) -> Response:
    """Start (``g`` None) or change the self-assessment ``g`` from the questionnaire's form."""
    svc = service(state)
    form = await request.form(max_files=1, max_fields=FORM_FIELDS)
    answers = {k[7:]: v for k, v in form.items() if k.startswith("answer.") and isinstance(v, str)}
    note = text(form, "note")
    titles: dict[str, str] = {}
    try:
        me, _ = await run_in_threadpool(reader, svc, user, uscc)
        table = await run_in_threadpool(svc.rules, None if g is None else g["edition"])
        factors = table["types"][me.enterprise["etype"]]["factors"]
        titles = {f["id"]: label(f["title"], locale_of(request)) for f in factors}
        answers = {f["id"]: answers.get(f["id"], "") for f in factors}
        if me.admin:  # the service's own scoring first, so a refused one stores no file
            rules.score(table, me.enterprise["etype"], answers)
        shas = [*kept(form), *await upload(svc, user, me.uscc, form)]
        if g is None:
            await run_in_threadpool(svc.start_grading, user, me.uscc, answers, shas, note)
        else:
            await run_in_threadpool(svc.update_grading, user, g["uid"], answers, shas, note)
    except IndunetError as exc:
        ctx = await run_in_threadpool(_grading_context, request, state, user, uscc, answers)
        ctx |= {"error": refusal(request, exc, titles), "note_text": note}
        return render(request, "regulation_mine_grading.html", ctx, status=exc.status)
    return RedirectResponse(f"{BASE}/{uscc[:18]}/grading#scoring", status_code=303)


@router.post(f"{BASE}/{{uscc}}/grading")
async def start_grading(
    request: Request, state: StateDep, user: ConsoleUser, uscc: str
) -> Response:
    """Save a new self-assessment (a draft, scored)."""
    return await _save(request, state, user, uscc, None)


@router.post(f"{BASE}/gradings/{{grading_id}}")
async def change_grading(
    request: Request, state: StateDep, user: ConsoleUser, grading_id: str
) -> Response:
    """Save a draft or returned self-assessment again (scored again)."""
    svc = service(state)
    g = await run_in_threadpool(svc.grading, user, grading_id[:32])
    return await _save(request, state, user, g["uscc"], g)


@router.post(f"{BASE}/gradings/{{grading_id}}/submit")
async def submit_grading(
    request: Request, state: StateDep, user: ConsoleUser, grading_id: str
) -> Response:
    """Submit the self-assessment for the authority's review."""
    svc = service(state)
    g = await run_in_threadpool(svc.grading, user, grading_id[:32])
    try:
        await run_in_threadpool(svc.submit_grading, user, g["uid"])
    except IndunetError as exc:
        ctx = await run_in_threadpool(_grading_context, request, state, user, g["uscc"], None)
        ctx["error"] = refusal(request, exc)
        return render(request, "regulation_mine_grading.html", ctx, status=exc.status)
    return RedirectResponse(f"{BASE}/{g['uscc']}/grading", status_code=303)


router.include_router(duties.router)
