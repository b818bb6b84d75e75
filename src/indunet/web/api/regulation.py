"""The regulation API: grading (分类分级) and notices (通报处置), docs/regulation/.

Who may do what follows the one access rule (``core.access``): enterprises read and change
their own things (an enterprise user may sign and report notices, its admins also fill in
self-assessments and complete obligations); regulators (and platform admins operating the
authority's instance) see every enterprise under this instance and perform the regulatory
acts: review gradings, issue and verify notices, publish rule tables. An enterprise hosted at
another instance is read here and changed there (409 ``regulation_remote``).
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from indunet.core import InvalidInput, NotFound, PermissionDenied, access
from indunet.core.documents import EXTENSIONS
from indunet.regulation import Regulation
from indunet.regulation import evidence as evidence_files
from indunet.regulation.views import gradings_page, notices_page, overview, recipients_page, stats
from indunet.web.api.security_events import read_body
from indunet.web.deps import StateDep, UserDep
from indunet.web.state import AppState

router = APIRouter(tags=["regulation"])
MAX_RULES_BODY = 128 * 1024
MAX_EVIDENCE_BODY = evidence_files.MAX_BYTES
Limit = Query(50, ge=1, le=500)
Offset = Query(0, ge=0, le=10_000_000)


def regulation_of(state: AppState) -> Regulation:
    svc = state.services.get("regulation")
    if not isinstance(svc, Regulation):
        raise NotFound("this process runs no regulation service")
    return svc


def _overseer(user: Any, what: str) -> None:
    if not access.sees_all(user):
        raise PermissionDenied(f"{what} is read by regulators and platform administrators")


def _page(rows: list[dict[str, Any]], total: int, offset: int, limit: int) -> dict[str, Any]:
    return {"items": rows, "total": total, "offset": offset, "limit": limit}


@router.get("/regulation")
def regulation_overview(user: UserDep, state: StateDep) -> dict[str, Any]:
    """The enterprises under this instance by type, level and grading state; overdue counts."""
    _overseer(user, "the regulation overview")
    svc = regulation_of(state)
    with svc.engine.connect() as conn:
        return overview(conn)


@router.get("/regulation/stats")
def notice_stats(
    user: UserDep,
    state: StateDep,
    by: Literal["region", "level"] = "region",
    digits: int = Query(2, ge=2, le=6),
) -> dict[str, Any]:
    """Notices issued, signed and disposed in time, mean time to dispose, by region or level."""
    _overseer(user, "notice statistics")
    svc = regulation_of(state)
    with svc.engine.connect() as conn:
        return {"by": by, "rows": stats(conn, by, digits)}


@router.get("/regulation/enterprises")
def enterprises(
    user: UserDep,
    state: StateDep,
    q: str = Query("", max_length=100),
    etype: str = Query("", max_length=16),
    level: int | None = Query(None, ge=0, le=3),
    region: str = Query("", max_length=6, pattern=r"^\d*$"),
    industry: str = Query("", max_length=8),
    grading_state: str = Query("", max_length=16),
    offset: int = Offset,
    limit: int = Limit,
) -> dict[str, Any]:
    """Enterprises under supervision (an enterprise's users: their own)."""
    rows, total = regulation_of(state).enterprises(
        user,
        offset,
        limit,
        q=q,
        etype=etype,
        level=level,
        region=region,
        industry=industry,
        state=grading_state,
    )
    return _page(rows, total, offset, limit)


@router.get("/regulation/enterprises/{uscc}")
def enterprise(uscc: str, user: UserDep, state: StateDep) -> dict[str, Any]:
    """One enterprise: its profile, current grading and open obligations."""
    return regulation_of(state).enterprise(user, uscc[:18])


class ProfileIn(BaseModel):
    etype: str = Field(max_length=16)
    enterprise_id: int | None = None


@router.put("/regulation/profile")
def set_profile(body: ProfileIn, user: UserDep, state: StateDep) -> dict[str, Any]:
    """Put an enterprise hosted here under supervision with its type (its admins, platform
    admins naming ``enterprise_id``)."""
    eid = body.enterprise_id if body.enterprise_id is not None else user.enterprise_id
    if eid is None:
        raise InvalidInput(
            "name the enterprise (enterprise_id)",
            reason="regulation_field",
            params={"field": "enterprise_id", "max": 0},
        )
    return regulation_of(state).set_profile(user, eid, body.etype)


@router.get("/regulation/rules")
def current_rules(
    user: UserDep, state: StateDep, edition: str | None = Query(None, max_length=40)
) -> dict[str, Any]:
    """The current grading rule table (or a named edition)."""
    return regulation_of(state).rules(edition)


@router.get("/regulation/editions")
def rule_editions(user: UserDep, state: StateDep) -> list[dict[str, Any]]:
    """The rule editions known here, newest first."""
    return regulation_of(state).editions()


@router.post("/regulation/rules", status_code=201)
async def publish_rules(request: Request, user: UserDep, state: StateDep) -> dict[str, Any]:
    """Publish a new rule edition (JSON, docs/regulation/grading.md); it flows down to every
    instance below."""
    raw = await read_body(request, MAX_RULES_BODY)
    try:
        table = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"not JSON: {exc}", reason="regulation_rules", params={"problem": "not JSON"}
        ) from None
    return await run_in_threadpool(regulation_of(state).publish, user, table)


@router.get("/regulation/gradings")
def gradings(
    user: UserDep,
    state: StateDep,
    grading_state: str = Query("", max_length=16),
    q: str = Query("", max_length=100),
    offset: int = Offset,
    limit: int = Limit,
) -> dict[str, Any]:
    """Gradings (``grading_state=submitted``: the review queue)."""
    svc = regulation_of(state)
    tenant = access.scope(user)
    with svc.engine.connect() as conn:
        rows, total = gradings_page(
            conn, state=grading_state, q=q, offset=offset, limit=limit, tenant_id=tenant
        )
    return _page(rows, total, offset, limit)


class GradingIn(BaseModel):
    enterprise_uscc: str = Field(max_length=18)
    answers: dict[str, Any] = Field(max_length=40)
    evidence: list[str] = Field(default_factory=list, max_length=20)
    note: str = Field(default="", max_length=2000)


class GradingChange(BaseModel):
    answers: dict[str, Any] = Field(max_length=40)
    evidence: list[str] = Field(default_factory=list, max_length=20)
    note: str = Field(default="", max_length=2000)


class ReviewIn(BaseModel):
    decision: Literal["confirm", "return"]
    comment: str = Field(default="", max_length=2000)
    level: int | None = Field(default=None, ge=1, le=3)


@router.post("/regulation/gradings", status_code=201)
def start_grading(body: GradingIn, user: UserDep, state: StateDep) -> dict[str, Any]:
    """自主定级: a new self-assessment (a draft), scored under the current edition."""
    return regulation_of(state).start_grading(
        user, body.enterprise_uscc, body.answers, body.evidence, body.note
    )


@router.get("/regulation/gradings/{grading_id}")
def get_grading(grading_id: str, user: UserDep, state: StateDep) -> dict[str, Any]:
    return regulation_of(state).grading(user, grading_id[:32])


@router.put("/regulation/gradings/{grading_id}")
def change_grading(
    grading_id: str, body: GradingChange, user: UserDep, state: StateDep
) -> dict[str, Any]:
    """Change a draft or a returned self-assessment."""
    return regulation_of(state).update_grading(
        user, grading_id[:32], body.answers, body.evidence, body.note
    )


@router.post("/regulation/gradings/{grading_id}/submit")
def submit_grading(grading_id: str, user: UserDep, state: StateDep) -> dict[str, Any]:
    """Submit a self-assessment for review."""
    return regulation_of(state).submit_grading(user, grading_id[:32])


@router.post("/regulation/gradings/{grading_id}/review")
def review_grading(
    grading_id: str, body: ReviewIn, user: UserDep, state: StateDep
) -> dict[str, Any]:
    """定级核查: confirm a level (with a comment when it is not the proposed one) or return
    the self-assessment with comments."""
    return regulation_of(state).review_grading(
        user, grading_id[:32], body.decision, body.comment, body.level
    )


@router.get("/regulation/obligations")
def list_obligations(
    user: UserDep,
    state: StateDep,
    uscc: str = Query("", max_length=18),
    kind: str = Query("", max_length=16),
    overdue: bool = False,
    open_only: bool = Query(False, alias="open"),
    offset: int = Offset,
    limit: int = Limit,
) -> dict[str, Any]:
    """Obligations (overdue ones with ``overdue=true``), of one enterprise or all visible."""
    rows, total = regulation_of(state).obligations(
        user, offset, limit, uscc=uscc, kind=kind, overdue=overdue, open_only=open_only
    )
    return _page(rows, total, offset, limit)


class CompleteIn(BaseModel):
    note: str = Field(default="", max_length=2000)
    evidence: list[str] = Field(default_factory=list, max_length=20)
    findings: list[str] | None = Field(default=None, max_length=50)


@router.post("/regulation/obligations/{obligation_id}/complete")
def complete_obligation(
    obligation_id: str, body: CompleteIn, user: UserDep, state: StateDep
) -> dict[str, Any]:
    """Complete an obligation with evidence (an evaluation's findings become rectification
    items)."""
    return regulation_of(state).complete(
        user, obligation_id[:32], body.note, body.evidence, body.findings
    )


@router.post("/regulation/evidence", status_code=201)
async def upload_evidence(
    request: Request,
    user: UserDep,
    state: StateDep,
    uscc: str = Query(max_length=18),
    name: str = Query("evidence", max_length=200),
) -> dict[str, Any]:
    """An evidence file (PNG, JPEG or PDF, at most 4 MiB, judged by its content) as the raw
    body; answers its SHA-256 to name in a self-assessment, an obligation or a report."""
    data = await read_body(request, MAX_EVIDENCE_BODY)
    return await run_in_threadpool(regulation_of(state).upload, user, uscc, name, data)


@router.get("/regulation/evidence/{sha256}")
def download_evidence(sha256: str, user: UserDep, state: StateDep) -> Response:
    """An evidence file's content (to those who see its enterprise)."""
    meta, data = regulation_of(state).evidence(user, sha256[:64])
    if data is None:
        raise NotFound("this file's parts are still arriving", reason="regulation_evidence_partial")
    ext = EXTENSIONS.get(meta["media_type"], "bin")
    return Response(
        data,
        media_type=meta["media_type"],
        headers={
            "Content-Disposition": f'attachment; filename="evidence-{meta["sha256"][:12]}.{ext}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


class NoticeIn(BaseModel):
    kind: str = Field(max_length=16)
    severity: str = Field(max_length=8)
    title: str = Field(max_length=200)
    body: str = Field(default="", max_length=20_000)
    select: dict[str, Any] = Field(max_length=6)
    sign_within_s: float | None = None
    dispose_within_s: float | None = None


@router.get("/regulation/notices")
def list_notices(
    user: UserDep,
    state: StateDep,
    q: str = Query("", max_length=100),
    offset: int = Offset,
    limit: int = Limit,
) -> dict[str, Any]:
    """Notices, newest first, with their progress (an enterprise: those sent to it)."""
    svc = regulation_of(state)
    uscc = None
    if not access.sees_all(user):
        mine = svc.mine(user)
        if mine is None:
            return _page([], 0, offset, limit)
        uscc = mine["uscc"]
    with svc.engine.connect() as conn:
        rows, total = notices_page(conn, q=q, offset=offset, limit=limit, uscc=uscc)
    return _page(rows, total, offset, limit)


@router.post("/regulation/notices", status_code=201)
def issue_notice(body: NoticeIn, user: UserDep, state: StateDep) -> dict[str, Any]:
    """Issue a notice to the enterprises ``select`` names (uscc list, region, industry,
    etype, level, products: all given criteria hold)."""
    fields = body.model_dump(exclude={"select"})
    return regulation_of(state).issue(user, fields, body.select)


@router.get("/regulation/notices/{notice_id}")
def get_notice(notice_id: str, user: UserDep, state: StateDep) -> dict[str, Any]:
    return regulation_of(state).notice(user, notice_id[:32])


@router.get("/regulation/recipients")
def list_recipients(
    user: UserDep,
    state: StateDep,
    notice: str = Query("", max_length=32),
    uscc: str = Query("", max_length=18),
    recipient_state: str = Query("", max_length=16, alias="state"),
    overdue: bool = False,
    region: str = Query("", max_length=6, pattern=r"^\d*$"),
    offset: int = Offset,
    limit: int = Limit,
) -> dict[str, Any]:
    """Each recipient's disposal (the drill-down of the statistics; an enterprise: its own)."""
    svc = regulation_of(state)
    if uscc:
        svc.check_visible(user, uscc)
    if not access.sees_all(user):
        mine = svc.mine(user)
        if mine is None:
            return _page([], 0, offset, limit)
        uscc = mine["uscc"]
    with svc.engine.connect() as conn:
        rows, total = recipients_page(
            conn,
            notice=notice or None,
            uscc=uscc or None,
            state=recipient_state,
            overdue=overdue,
            region=region,
            offset=offset,
            limit=limit,
        )
    return _page(rows, total, offset, limit)


class ActIn(BaseModel):
    text: str = Field(default="", max_length=2000)
    evidence: list[str] = Field(default_factory=list, max_length=20)
    decision: Literal["close", "return", ""] = ""


@router.post("/regulation/notices/{notice_id}/recipients/{uscc}/sign")
def sign_notice(notice_id: str, uscc: str, user: UserDep, state: StateDep) -> dict[str, Any]:
    """签收: the enterprise acknowledges the notice."""
    return regulation_of(state).act(user, notice_id[:32], uscc[:18], "sign")


@router.post("/regulation/notices/{notice_id}/recipients/{uscc}/report")
def report_notice(
    notice_id: str, uscc: str, body: ActIn, user: UserDep, state: StateDep
) -> dict[str, Any]:
    """处置 and report: what was done (``text``), with evidence files."""
    return regulation_of(state).act(
        user, notice_id[:32], uscc[:18], "report", body.text, body.evidence
    )


@router.post("/regulation/notices/{notice_id}/recipients/{uscc}/verify")
def verify_notice(
    notice_id: str, uscc: str, body: ActIn, user: UserDep, state: StateDep
) -> dict[str, Any]:
    """The issuer's verdict on a report: ``close``, or ``return`` with a comment."""
    return regulation_of(state).act(
        user, notice_id[:32], uscc[:18], "verify", body.text, None, body.decision
    )
