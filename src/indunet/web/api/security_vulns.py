"""Vulnerability matching over HTTP: ``/api/v1/security/vulns/...``.

- ``POST /advisories`` (platform admins): one CSAF 2.0 document as the body (JSON, 8 MiB at most);
  a document failing the schema is a 400 naming the JSON paths of its first problems.
- ``POST /advisories/sync`` (platform admins): read the operator's directory (``INDUNET_CSAF_DIR``;
  never a path from the request), only files changed since the last sync.
- ``GET /advisories``: shared advisories, searched and paged.
- ``GET /matches``: the caller's enterprise's matches (overseers: any), by asset, severity,
  state, text; ``GET /matches/{id}``: one, with why it matched, CVSS and remediation.
- ``PUT /matches/{id}/state`` (admins of the asset's enterprise): confirm, dismiss (with a reason)…
- ``GET /summary``: open vulnerabilities by severity with affected assets.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from indunet.core import NotFound
from indunet.security import Vulnerabilities
from indunet.web.api.security_events import read_body, security_of
from indunet.web.deps import PathId, QueryId, StateDep, UserDep, current_user
from indunet.web.state import AppState

router = APIRouter(prefix="/security/vulns", tags=["security"])
MAX_DOCUMENT = 8 * 1024 * 1024
MAX_OFFSET = 1_000_000
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1, le=100)]
Text = Annotated[str, Query(max_length=100)]
Severity = Annotated[
    str | None, Query(max_length=16, description="critical, high, medium, low, none")
]
State = Annotated[
    str | None, Query(max_length=16, description="confirmed, probable, needs_review, dismissed")
]
FileName = Annotated[
    str, Query(max_length=200, pattern=r"^[\w.\-]+$", description="the file's name, for messages")
]


class StateChange(BaseModel):
    """A person's decision on a match."""

    state: str = Field(max_length=16, description="confirmed, probable, needs_review, dismissed")
    reason: str = Field(default="", max_length=500, description="why (needed to dismiss)")


def vulns_of(state: AppState) -> Vulnerabilities:
    """The vulnerability part of this process's security service, or 404."""
    part = security_of(state).part("vulns")
    if not isinstance(part, Vulnerabilities):
        raise NotFound("this process runs no vulnerability matching")
    return part


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


@router.post(
    "/advisories",
    responses={
        400: {
            "description": "not JSON, fails the CSAF 2.0 schema (JSON paths named), or not TLP:WHITE/CLEAR"
        },
        403: {"description": "only platform admins import advisories"},
        413: {"description": "the document is over 8 MiB"},
    },
)
async def import_advisory(
    request: Request, state: StateDep, name: FileName = "upload.json"
) -> dict[str, Any]:
    """Import one CSAF 2.0 document (the body), then re-match it against every asset."""
    part = vulns_of(state)
    user = await run_in_threadpool(current_user, request, state)
    body = await read_body(request, MAX_DOCUMENT)
    report = await run_in_threadpool(part.import_bytes, user, name, body)
    return report.to_dict()


@router.post("/advisories/sync")
async def sync_advisories(state: StateDep, user: UserDep) -> dict[str, Any]:
    """Read the operator's CSAF directory (changes since the last sync) and re-match."""
    part = vulns_of(state)
    report = await run_in_threadpool(part.sync, user)
    return report.to_dict()


@router.get("/advisories")
async def list_advisories(
    state: StateDep,
    user: UserDep,
    q: Text = "",
    severity: Severity = None,
    offset: Offset = 0,
    limit: Limit = 20,
) -> dict[str, Any]:
    """Advisories (shared by every enterprise), newest first; search by id, title, CVE."""
    part = vulns_of(state)
    items, total = await run_in_threadpool(part.advisories, q, severity, offset, limit)
    return {"items": [_json(i) for i in items], "total": total}


@router.get("/matches")
async def list_matches(
    state: StateDep,
    user: UserDep,
    enterprise_id: QueryId = None,
    asset_id: QueryId = None,
    severity: Severity = None,
    match_state: Annotated[State, Query(alias="state")] = None,
    q: Text = "",
    offset: Offset = 0,
    limit: Limit = 20,
) -> dict[str, Any]:
    """Matches the caller may see, highest CVSS first (an asset the caller may not see, or
    that does not exist, is 404)."""
    part = vulns_of(state)
    if asset_id is not None:
        from indunet.web.api.security_assets import inventory

        await run_in_threadpool(inventory(state).store.get, user, asset_id)
    items, total = await run_in_threadpool(
        lambda: part.matches(
            user, enterprise_id=enterprise_id, asset_id=asset_id, severity=severity, state=match_state,
            q=q, offset=offset, limit=limit,
        )
    )  # fmt: skip
    return {"items": [_json(i) for i in items], "total": total}


@router.get("/matches/{match_id}")
async def get_match(state: StateDep, user: UserDep, match_id: PathId) -> dict[str, Any]:
    """One match: why it matched, CVSS, remediation, its state and who set it."""
    part = vulns_of(state)
    return _json(await run_in_threadpool(part.match, user, match_id))


@router.put("/matches/{match_id}/state")
async def set_match_state(
    state: StateDep, user: UserDep, match_id: PathId, change: StateChange
) -> dict[str, Any]:
    """Set a match's state (admins of the asset's enterprise); kept across re-matching."""
    part = vulns_of(state)
    return _json(
        await run_in_threadpool(part.set_state, user, match_id, change.state, change.reason)
    )


@router.get("/summary")
async def summary(state: StateDep, user: UserDep, enterprise_id: QueryId = None) -> dict[str, Any]:
    """Open (not dismissed) vulnerabilities by severity, with the number of affected assets."""
    part = vulns_of(state)
    return {"severities": await run_in_threadpool(part.summary, user, enterprise_id)}
