"""A top-level node's API for its secondaries (``ids.children``): what they push, and what
its operators read.

The pushes (``GET /children/self``, ``PUT /children/reports``, ``PUT /children/registry``)
are authenticated by a child's prefix credential, Basic ``300:0.NA/<prefix>`` and the secret
of that handle here, checked before the body is read; the prefix must be allocated by a
node of this process and in service. Failures are throttled and audited per source as the
Handle API's (``core.Logins``). Bodies are bounded by ``guards.limits`` (``REPORT_BODY``,
``REGISTRY_BODY``) and then by the row limits of ``ids.children``.

The reads (``GET /children``, ``/children/reports``, ``/children/reports/days``,
``/children/enterprises``, ``/children/allocations``) are for platform admins and regulators
(``core.access``: anyone else gets 404, as for any thing of no enterprise).
"""

from __future__ import annotations

import ipaddress
from datetime import date, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from indunet.core import NotFound, access
from indunet.ids import AuthenticationFailed, AuthenticationNeeded, children, childview, handle
from indunet.ids.admin import BAD_CREDENTIALS, parse_identity
from indunet.ids.prefixes import ADMIN_KEY_INDEX, allocation_of
from indunet.web.api.handle_http import PlainHttpAuth
from indunet.web.auth import client_address, split_basic
from indunet.web.deps import MAX_DB_INT, StateDep, UserDep
from indunet.web.state import AppState

router = APIRouter()
#: Bodies of the pushes: a report of ``MAX_REPORT_ROWS`` rows is about 200 KB of JSON.
REPORT_BODY = 512 * 1024
REGISTRY_BODY = 8 * 1024 * 1024
_PREFIX = "0.NA/"
_LIKE_MAX = 100


class RowIn(BaseModel):
    """Registrations and resolutions of one prefix on one day (China Standard Time)."""

    model_config = ConfigDict(extra="forbid")

    day: date
    prefix: str = Field(max_length=128)
    registrations: int = Field(ge=0, le=children.MAX_COUNT)
    resolutions: int = Field(ge=0, le=children.MAX_COUNT)


class ReportIn(BaseModel):
    """A child's report: rows of days, and the last day it has reported completely."""

    model_config = ConfigDict(extra="forbid")

    through: date = Field(description="every day up to this one is reported")
    rows: list[RowIn] = Field(max_length=children.MAX_REPORT_ROWS)


class EnterpriseIn(BaseModel):
    """An enterprise registered at the child."""

    model_config = ConfigDict(extra="forbid")

    uscc: str = Field(min_length=1, max_length=18)
    name: str = Field(min_length=1, max_length=200)
    verified: bool


class AllocationIn(BaseModel):
    """A prefix the child allocated, to an enterprise of the snapshot (or none)."""

    model_config = ConfigDict(extra="forbid")

    prefix: str = Field(max_length=128)
    uscc: str | None = Field(default=None, max_length=18)
    allocated_at: datetime | None = None


class RegistryIn(BaseModel):
    """A snapshot of the child's registry; it replaces the previous one."""

    model_config = ConfigDict(extra="forbid")

    enterprises: list[EnterpriseIn] = Field(max_length=children.MAX_REGISTRY_ROWS)
    allocations: list[AllocationIn] = Field(max_length=children.MAX_REGISTRY_ROWS)


def _check_child(state: AppState, username: str, secret: str) -> str:
    index, key = parse_identity(username)
    if index != ADMIN_KEY_INDEX or not key.startswith(_PREFIX):
        raise AuthenticationFailed(
            f"a child node authenticates as {ADMIN_KEY_INDEX}:0.NA/<its prefix>",
            reason="child_identity",
        )
    prefix = key[len(_PREFIX) :]
    node = None
    try:
        allocation = allocation_of(state.engine, prefix)
        if allocation.revoked_at is None:
            node = state.hierarchy.nodes.get(allocation.node)
    except NotFound:
        pass
    if node is None:  # refused at the cost of a wrong secret, in the same words
        state.hierarchy.front.checker.check(None, index, secret)
        raise AuthenticationFailed(BAD_CREDENTIALS)
    node.authenticate(username, secret)
    return handle.normalise_prefix(prefix)


def _loopback(request: Request) -> bool:
    try:
        return request.client is not None and ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


async def reporter_of(request: Request, state: AppState) -> str:
    """The prefix of the child node whose credential the request carries (checked in a
    thread: a secret's hash is slow on purpose)."""
    if request.url.scheme == "http" and not (
        state.settings.plain_http_auth == "loopback" and _loopback(request)
    ):
        raise PlainHttpAuth()  # the prefix's secret travels: as the Handle API's writes
    header = request.headers.get("authorization")
    if not header:
        raise AuthenticationNeeded(
            "a child node authenticates with Basic 300:0.NA/<its prefix> and its secret key"
        )
    if header.split(" ", 1)[0].lower() != "basic":
        raise AuthenticationFailed("a child node authenticates with Basic credentials")
    username, secret = split_basic(header)
    return await run_in_threadpool(
        state.logins.attempt,
        state.engine,
        username,
        client_address(request),
        "handle",
        lambda: _check_child(state, username, secret),
        per_account=False,
    )


M = TypeVar("M", bound=BaseModel)


async def _body(request: Request, model: type[M]) -> M:
    raw = await request.body()  # bounded by guards.BodyLimit
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


@router.get("/children/self", tags=["children"])
async def child_self(request: Request, state: StateDep) -> dict[str, Any]:
    """What this node holds of the calling child: the last day it reported through (China
    Standard Time) and the digest of its registry ("" before the first push)."""
    reporter = await reporter_of(request, state)
    held = await run_in_threadpool(children.state_of, state.engine, reporter)
    return {
        "reporter": held.reporter,
        "last_report_day": held.last_report_day.isoformat() if held.last_report_day else None,
        "registry_digest": held.registry_digest,
        "zone": children.REPORT_ZONE.key,
    }


@router.put("/children/reports", tags=["children"])
async def put_report(request: Request, state: StateDep) -> dict[str, Any]:
    """Store the calling child's counts per day and prefix (upserts keyed by child, day and
    prefix: sending a day again replaces it). Only prefixes at or under the child's own."""
    reporter = await reporter_of(request, state)
    body = await _body(request, ReportIn)
    rows = [children.DayRow(r.day, r.prefix, r.registrations, r.resolutions) for r in body.rows]
    stored = await run_in_threadpool(
        children.store_report, state.engine, reporter, rows, through=body.through
    )
    return {"reporter": reporter, "stored": stored, "through": body.through.isoformat()}


@router.put("/children/registry", tags=["children"])
async def put_registry(request: Request, state: StateDep) -> dict[str, Any]:
    """Replace the calling child's registry (its enterprises and the prefixes it allocated,
    all under its own prefix) by this snapshot; answers the digest stored."""
    reporter = await reporter_of(request, state)
    body = await _body(request, RegistryIn)
    digest = await run_in_threadpool(
        children.store_registry,
        state.engine,
        reporter,
        [children.ChildEnterprise(e.uscc, e.name, e.verified) for e in body.enterprises],
        [children.ChildAllocation(a.prefix, a.uscc, a.allocated_at) for a in body.allocations],
    )
    return {
        "reporter": reporter,
        "enterprises": len(body.enterprises),
        "allocations": len(body.allocations),
        "digest": digest,
    }


# -- what operators read --------------------------------------------------------------------
Q = Annotated[str, Query(max_length=_LIKE_MAX, description="in the reporter or prefix")]
Reporter = Annotated[str, Query(max_length=128, description="one child, by its prefix")]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_DB_INT)]
Day = Annotated[date | None, Query(description="a day of China Standard Time, inclusive")]


def _filter(
    q: str, reporter: str, since: date | None, until: date | None
) -> childview.ReportFilter:
    if since is not None and until is not None and until - since > timedelta(days=10_000):
        until = since + timedelta(days=10_000)
    return childview.ReportFilter(
        q=q, reporter=handle.normalise_prefix(reporter.strip()), since=since, until=until
    )


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, date | datetime) else v


def _rows(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: _iso(v) for k, v in r.items()} for r in found]


@router.get("/children", tags=["children"])
def list_children(state: StateDep, user: UserDep) -> list[dict[str, Any]]:
    """The secondaries that reported or pushed their registry here, with when they last did."""
    access.check_see(user, None, "child nodes")
    with state.engine.connect() as conn:
        return _rows(childview.children(conn))


@router.get("/children/reports", tags=["children"])
def list_reports(
    response: Response,
    state: StateDep,
    user: UserDep,
    q: Q = "",
    reporter: Reporter = "",
    since: Day = None,
    until: Day = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """The children's reports, a row per child, day and prefix, newest day first;
    ``X-Total-Count`` says how many match."""
    access.check_see(user, None, "child reports")
    with state.engine.connect() as conn:
        found, total = childview.page_reports(
            conn, _filter(q, reporter, since, until), offset=offset, limit=limit
        )
    response.headers["X-Total-Count"] = str(total)
    return _rows(found)


@router.get("/children/reports/days", tags=["children"])
def report_days(
    state: StateDep,
    user: UserDep,
    q: Q = "",
    reporter: Reporter = "",
    since: Day = None,
    until: Day = None,
) -> list[dict[str, Any]]:
    """Registrations and resolutions of the matching reports summed per day (the last
    ``childview.MAX_SPAN`` days that have any), oldest first."""
    access.check_see(user, None, "child reports")
    with state.engine.connect() as conn:
        days = childview.per_day(conn, _filter(q, reporter, since, until))
    return [{"day": d.isoformat(), "registrations": g, "resolutions": s} for d, g, s in days]


@router.get("/children/enterprises", tags=["children"])
def list_child_enterprises(
    response: Response,
    state: StateDep,
    user: UserDep,
    q: Annotated[str, Query(max_length=_LIKE_MAX, description="in the name, USCC or child")] = "",
    reporter: Reporter = "",
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Enterprises registered at the children (as each last pushed its registry)."""
    access.check_see(user, None, "child enterprises")
    with state.engine.connect() as conn:
        found, total = childview.page_enterprises(
            conn,
            q=q,
            reporter=handle.normalise_prefix(reporter.strip()),
            offset=offset,
            limit=limit,
        )
    response.headers["X-Total-Count"] = str(total)
    return _rows(found)


@router.get("/children/allocations", tags=["children"])
def list_child_allocations(
    response: Response,
    state: StateDep,
    user: UserDep,
    q: Annotated[str, Query(max_length=_LIKE_MAX, description="in the prefix, USCC or name")] = "",
    reporter: Reporter = "",
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Prefixes the children allocated, and to which of their enterprises."""
    access.check_see(user, None, "child allocations")
    with state.engine.connect() as conn:
        found, total = childview.page_allocations(
            conn,
            q=q,
            reporter=handle.normalise_prefix(reporter.strip()),
            offset=offset,
            limit=limit,
        )
    response.headers["X-Total-Count"] = str(total)
    return _rows(found)
