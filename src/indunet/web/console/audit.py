"""The audit log: who did what to which thing, filtered by actor, action, object and time range
(in the page's zone), searched, paged on the server, and exported as CSV with the same filters.

Platform admins and regulators read every entry (and may narrow to one enterprise); an
enterprise admin reads their own enterprise's entries only (``core.audit``); enterprise users
do not read the audit log.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from indunet import core
from indunet.core import PermissionDenied, Role, User, access
from indunet.core.audit import EXPORT_LIMIT, AuditEntry, AuditFilter
from indunet.web.console.forms import FormError
from indunet.web.console.i18n import N_, Translator
from indunet.web.console.pages import error_text, page_zone, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.console.users import enterprise_choices
from indunet.web.console.zones import Zone
from indunet.web.deps import MAX_DB_INT, StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
#: The filters of the page (query parameters), each cut to this many characters.
FILTERS = ("actor", "action", "target", "from", "to", "enterprise_id")
MAX_FILTER = 300
#: Actions offered as suggestions in the action filter.
ACTIONS_SHOWN = 200
DETAIL_SHOWN = 300  # characters of an entry's detail on the page (the CSV has all of it)
#: Spreadsheet programs run a cell starting with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def check_reader(user: User) -> int | None:
    """The enterprise ``user`` reads the audit log of (``None``: every one), or 403 for a role
    that does not read it (enterprise users)."""
    if access.sees_all(user):
        return None
    if user.role is not Role.ENTERPRISE_ADMIN:
        raise PermissionDenied(
            f"{user.username} ({user.role}) may not read the audit log",
            reason="audit_not_allowed",
        )
    return access.scope(user)


def _time(text: str, zone: Zone, name: str) -> datetime | None:
    """A ``datetime-local`` value (``YYYY-MM-DDTHH:MM[:SS]``) in the page's zone, or None."""
    if not text:
        return None
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise FormError(N_("admin.audit.time_invalid"), field=name, text=text[:40]) from None
    when = naive if naive.tzinfo is not None else naive.replace(tzinfo=zone.info)
    return when.astimezone(UTC)  # the database compares UTC times


def audit_filter(request: Request, user: User) -> tuple[AuditFilter, dict[str, str]]:
    """The filter the query string asks for, limited to what ``user`` may read, and the
    values as typed (for the form). A bad time is ``FormError``; another enterprise is 404."""
    params = request.query_params
    typed = {k: (params.get(k) or "").strip()[:MAX_FILTER] for k in FILTERS}
    zone = page_zone(request)
    eid_text = typed["enterprise_id"]
    if eid_text and (not eid_text.isdigit() or not 1 <= int(eid_text) <= MAX_DB_INT):
        raise FormError(N_("admin.users.enterprise_invalid"), text=eid_text[:40])
    wanted = int(eid_text) if eid_text else None
    scope = check_reader(user)
    eid = access.scope(user, wanted) if scope is None else access.scope(user, wanted or scope)
    f = AuditFilter(
        actor=typed["actor"],
        action=typed["action"],
        target=typed["target"],
        q=(params.get("q") or "").strip()[:100],
        since=_time(typed["from"], zone, "from"),
        until=_time(typed["to"], zone, "to"),
        enterprise_id=eid,
    )
    return f, typed


@router.get("/admin/audit")
def audit_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """One page of the audit log with the filters applied (newest first)."""
    paging = paging_of(request, sorts=("at",), default_sort="at", default_desc=True)
    error = ""
    status = 200
    try:
        f, typed = audit_filter(request, user)
    except FormError as exc:
        scope = check_reader(user)
        f, typed = AuditFilter(enterprise_id=scope), {k: "" for k in FILTERS}
        error, status = error_text(request, exc), 400
    with state.engine.connect() as conn:
        found, total = core.audit.find(
            conn, f, offset=paging.offset, limit=paging.limit, oldest_first=not paging.desc
        )
    ctx: dict[str, Any] = {
        "entries": PageOf(found, total, paging),
        "typed": typed,
        "error": error,
        "actions": _actions(state, f.enterprise_id),
        "enterprises": enterprise_choices(state, user, f.enterprise_id),
        "export_limit": EXPORT_LIMIT,
        "export_query": request.url.query,
        "detail_text": _detail_text,  # with the page's zone: detail_text(e.detail, zone)
        "action_name": action_name,
    }
    return render(request, "admin_audit.html", ctx, status=status)


def action_name(t: Translator, action: str) -> str:
    """The name of an audit action in the reader's language (``audit.action.<action>``); an
    action the catalogue does not name shows as its code."""
    key = f"audit.action.{action}"
    return t(key) if t.has(key) else action


def _actions(state: AppState, enterprise_id: int | None) -> list[str]:
    with state.engine.connect() as conn:
        return core.audit.actions(conn, enterprise_id=enterprise_id, limit=ACTIONS_SHOWN)


def _detail_text(detail: dict[str, Any], zone: Zone) -> str:
    """``key: value`` pairs, one after another, text values as they are (not JSON-quoted) and
    times (ISO 8601 with an offset, as services record them) in the page's zone; the CSV
    export keeps the JSON."""
    parts = []
    for key in sorted(detail):
        value = detail[key]
        if isinstance(value, str):
            when = _aware_time(value)
            shown = value if when is None else zone.clock(when)
        else:
            shown = json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}: {shown}")
    text = " · ".join(parts)
    return text if len(text) <= DETAIL_SHOWN else text[: DETAIL_SHOWN - 1] + "…"


def _aware_time(text: str) -> datetime | None:
    """``text`` as a time if it is ISO 8601 with a date, a time and an offset, else None."""
    if not 20 <= len(text) <= 40 or text[10:11] != "T":
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_rows(entries: Iterator[AuditEntry], zone: Zone) -> Iterator[str]:
    """The export: a header, then one line per entry (times with the page zone's offset)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "at", "actor", "action", "target", "detail"])
    yield out.getvalue()
    for e in entries:
        out.seek(0)
        out.truncate()
        detail = json.dumps(e.detail, ensure_ascii=False, sort_keys=True) if e.detail else ""
        writer.writerow(
            [e.id, zone.iso(e.at), _cell(e.actor), _cell(e.action), _cell(e.target), _cell(detail)]
        )
        yield out.getvalue()


@router.get("/admin/audit/export.csv")
def export_csv(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The entries the filters match as CSV, newest first, at most ``EXPORT_LIMIT`` rows,
    streamed in chunks (a bad filter is 400, as on the page)."""
    try:
        f, _typed = audit_filter(request, user)
    except FormError as exc:
        return Response(error_text(request, exc), status_code=400, media_type="text/plain")
    zone = page_zone(request)
    stamp = datetime.now(zone.info).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        csv_rows(core.audit.export(state.engine, f), zone),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )
