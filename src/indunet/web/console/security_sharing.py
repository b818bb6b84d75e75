"""The threat-sharing page, ``/security/sharing``: the TAXII collections the reader may read
(objects held, last added, the address TAXII clients use), a STIX bundle download of one,
and the TAXII feeds this installation pulls (overseers see them; platform admins add and
delete them; their password is sealed and never shown back).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from indunet.core import IndunetError, InvalidInput, NotFound, Role, User, access
from indunet.security import Security
from indunet.security.sharing import collection_bundle, feeds, rights, store
from indunet.security.sharing.destinations import FeedPolicy
from indunet.web.console.pages import error_text, render
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import QueryId, StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
BASE = "/security/sharing"
MAX_FIELD = 2000


def _when(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _context(state: AppState, user: User, base: str) -> dict[str, Any]:
    with state.engine.begin() as conn:
        cols = rights.visible(conn, user)
        held = store.counts(conn, [c.id for c in cols])
    rows = [
        {
            "collection": c,
            "count": held.get(c.id, (0, None))[0],
            "last": _when(held.get(c.id, (0, None))[1]),
            "url": f"{base}/taxii2/api1/collections/{c.id}/",
            "can_write": rights.can_write(user, c),
        }
        for c in cols
    ]
    overseer = access.sees_all(user)
    return {
        "collections": rows,
        "feeds": feeds.list_feeds(state.engine, user) if overseer else [],
        "show_feeds": overseer,
        "may_manage": user.role == Role.PLATFORM_ADMIN,
        "discovery": f"{base}/taxii2/",
        "form": {},
    }


@router.get(BASE)
async def sharing_page(
    request: Request, state: StateDep, user: ConsoleUser, edit: QueryId = None
) -> Response:
    """Collections, feeds, and the feed form for platform admins (``?edit=<feed>``: the
    form filled with that feed, its password never shown)."""
    base = str(request.base_url).rstrip("/")
    ctx = await run_in_threadpool(_context, state, user, base)
    if edit is not None and ctx["may_manage"]:
        feed = next((f for f in ctx["feeds"] if f.id == edit), None)
        if feed is None:
            raise NotFound(f"no feed {edit}")
        ctx |= {"editing": feed.id, "form": _shown(feed)}
    return render(request, "security_sharing.html", ctx)


def _shown(feed: feeds.Feed) -> dict[str, str]:
    return {
        "name": feed.name,
        "api_root": feed.api_root,
        "remote_collection": feed.remote_collection,
        "username": feed.username,
        "interval_s": str(feed.interval_s),
        "enabled": "1" if feed.enabled else "",
    }


@router.get(f"{BASE}/export")
def export_bundle(
    request: Request, state: StateDep, user: ConsoleUser, enterprise_id: QueryId = None
) -> Response:
    """The newest version of every object of a collection, as one STIX 2.1 bundle: the
    reader's enterprise's (an overseer names one, or gets the installation's)."""
    eid = access.scope(user, enterprise_id)
    with state.engine.begin() as conn:
        col = rights.own_collection(conn, eid)
        body = collection_bundle(conn, col.id)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"indunet-stix-{eid if eid is not None else 'installation'}-{stamp}.json"
    return Response(
        body,
        media_type="application/stix+json;version=2.1",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    text = value if isinstance(value, str) else ""
    if len(text) > MAX_FIELD:
        raise InvalidInput(
            f"{name} is too long",
            reason="sharing_feed_field",
            params={"field": name, "why": f"over {MAX_FIELD} characters"},
        )
    return text.strip() if name != "password" else text


def _wake(state: AppState) -> None:
    svc = state.services.get("security")
    puller = svc.part("sharing") if isinstance(svc, Security) else None
    if puller is not None:
        puller.wake()


@router.post(f"{BASE}/feeds")
async def create_feed(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Add a feed (platform admins); a refusal shows the form again (never the password)."""
    return await _save_feed(request, state, user, None)


@router.post(f"{BASE}/feeds/{{feed_no}}/edit")
async def edit_feed(request: Request, state: StateDep, user: ConsoleUser, feed_no: int) -> Response:
    """Change a feed (platform admins): its server, collection, account, interval, paused or
    not; an empty password keeps the stored one, a new server or collection starts over."""
    return await _save_feed(request, state, user, feed_no)


async def _save_feed(
    request: Request, state: StateDep, user: User, feed_id: int | None
) -> Response:
    form = await request.form()
    try:
        interval = _text(form, "interval_s")
        if not interval.isdigit() or len(interval) > 9:
            raise InvalidInput(
                "interval_s: give whole seconds",
                reason="sharing_feed_field",
                params={"field": "interval_s", "why": "give whole seconds"},
            )
        made = feeds.FeedForm(
            name=_text(form, "name"),
            api_root=_text(form, "api_root"),
            remote_collection=_text(form, "remote_collection"),
            username=_text(form, "username"),
            password=_text(form, "password"),
            interval_s=int(interval),
            enabled=feed_id is None or form.get("enabled") == "1",
        )
        policy = FeedPolicy.from_env()
        if feed_id is None:
            await run_in_threadpool(feeds.create_feed, state.engine, user, made, policy)
        else:
            await run_in_threadpool(feeds.update_feed, state.engine, user, feed_id, made, policy)
    except IndunetError as exc:
        base = str(request.base_url).rstrip("/")
        ctx = await run_in_threadpool(_context, state, user, base)
        shown = ("name", "api_root", "remote_collection", "username", "interval_s", "enabled")
        ctx |= {"error": error_text(request, exc), "editing": feed_id,
                "form": {k: str(form.get(k) or "")[:500] for k in shown}}  # fmt: skip
        return render(request, "security_sharing.html", ctx, status=exc.status)
    _wake(state)
    return RedirectResponse(f"{BASE}?{'made' if feed_id is None else 'changed'}=1", status_code=303)


@router.post(f"{BASE}/feeds/delete")
async def delete_feed(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Delete a feed (platform admins); what it brought stays."""
    form = await request.form()
    text = str(form.get("feed") or "")
    try:
        if not text.isdigit() or len(text) > 18:
            raise InvalidInput(
                "feed: choose a feed",
                reason="sharing_feed_field",
                params={"field": "feed", "why": "choose a feed"},
            )
        await run_in_threadpool(feeds.delete_feed, state.engine, user, int(text))
    except IndunetError as exc:
        base = str(request.base_url).rstrip("/")
        ctx = await run_in_threadpool(_context, state, user, base)
        ctx["error"] = error_text(request, exc)
        return render(request, "security_sharing.html", ctx, status=exc.status)
    return RedirectResponse(f"{BASE}?deleted=1", status_code=303)
