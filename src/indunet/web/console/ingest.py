"""Dead letters and ingest: what the platform rejected and why (by device, reason, time and
text, paged on the server), how many letters each reason holds, the pipeline's counters, and
retrying letters after a fix (``telemetry.resubmit``).

A tenant sees the letters of their enterprise's devices; naming another enterprise's device
answers 404, as everywhere. The pipeline's counters count every enterprise, so only
overseers see them. A retry is a POST, audited, and allowed to those who may change the
device (the service checks each letter's device); the page then says how many letters were
stored, failed again (with their new reason) or left alone.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from indunet.core import IndunetError, InvalidInput, NotFound, User, access
from indunet.telemetry import REASONS, Pipeline
from indunet.telemetry.deadletters import DeadLetter, LetterFilter
from indunet.telemetry.resubmit import MAX_RETRY, retry_letters
from indunet.web.console import fleet
from indunet.web.console.i18n import N_, Translator, locale_of, translator
from indunet.web.console.pages import error_text, page_zone, render
from indunet.web.console.paging import PageOf, Paging, paging_of
from indunet.web.console.session import ConsoleUser, safe_next
from indunet.web.deps import StateDep
from indunet.web.platform import Platform

router = APIRouter(include_in_schema=False)

REASON_KEYS = {r: f"ingest.reason.{r}" for r in REASONS}
"""Each dead-letter reason's catalogue key."""
FILTERS = ("device", "reason", "from", "to")
MAX_ID = 200
PAYLOAD_SHOWN = 160
COUNTERS = (
    ("accepted", N_("ingest.counter.accepted")),
    ("stored", N_("ingest.counter.stored")),
    ("dead_lettered_total", N_("ingest.counter.dead_lettered")),
    ("queued", N_("ingest.counter.queued")),
    ("buffered", N_("ingest.counter.buffered")),
    ("overloaded", N_("ingest.counter.overloaded")),
    ("store_failures", N_("ingest.counter.store_failures")),
)
_RETRIED = re.compile(r"(\d{1,6})\.(\d{1,6})\.(\d{1,6})\Z")


def _pipeline(platform: Platform) -> Pipeline:
    pipeline: Pipeline = platform.pipeline
    return pipeline


def _filters(request: Request) -> tuple[dict[str, str], LetterFilter, list[str]]:
    """The filters as typed, as the service takes them (without the tenant), and the
    catalogue keys of the ones that could not be read (left out)."""
    params = request.query_params
    typed = {name: (params.get(name) or "").strip()[:MAX_ID] for name in FILTERS}
    problems: list[str] = []
    zone = page_zone(request)
    since = zone.local(typed["from"]) if typed["from"] else None
    until = zone.local(typed["to"]) if typed["to"] else None
    if typed["from"] and since is None:
        problems.append(N_("ingest.problem.from"))
        typed["from"] = ""
    if typed["to"] and until is None:
        problems.append(N_("ingest.problem.to"))
        typed["to"] = ""
    if typed["reason"] and typed["reason"] not in REASONS:
        problems.append(N_("ingest.problem.reason"))
        typed["reason"] = ""
    paging = paging_of(request)
    search = paging.like if paging.q else None
    f = LetterFilter(
        device=typed["device"] or None,
        reason=typed["reason"] or None,
        since=since.astimezone(UTC) if since else None,
        until=until.astimezone(UTC) if until else None,
        search=search,
    )
    return typed, f, problems


def detail_text(t: Translator, letter: DeadLetter) -> str:
    """A letter's detail in the reader's language: the catalogue text ``letter.<why>`` (or
    ``error.<why>`` for a service error's reason) filled with its params; a letter written
    before letters named their detail, or one whose text does not fill, keeps its English."""
    if letter.why:
        for key in (f"letter.{letter.why}", f"error.{letter.why}"):
            if t.has(key):
                try:
                    return t.messages[key].format(**(letter.params or {}))
                except (KeyError, IndexError, ValueError):
                    break
    return letter.detail


def _check_device(platform: Platform, user: User, device_id: str | None) -> None:
    """Another tenant's device is not found; a device that no longer exists is no secret
    (its letters are filtered by the enterprise they were written for)."""
    if device_id is None:
        return
    device = platform.devices.lookup(device_id)
    if device is not None and not access.can_see(user, device.enterprise_id):
        raise NotFound(f"no device {device_id!r}")


def _letters_context(request: Request, platform: Platform, user: User) -> dict[str, Any]:
    typed, f, problems = _filters(request)
    paging: Paging = paging_of(request)
    _check_device(platform, user, f.device)
    scope = None if access.sees_all(user) else access.scope(user)
    f = LetterFilter(
        enterprise_id=scope,
        device=f.device,
        reason=f.reason,
        since=f.since,
        until=f.until,
        search=f.search,
    )
    letters = _pipeline(platform).dead_letters
    t = translator(locale_of(request))
    items, total = letters.page(f, offset=paging.offset, limit=paging.limit)
    # The summaries scan every letter in scope: shown on the list itself (and per device),
    # not on a search or a narrowed list, which stays within its time budget that way.
    narrowed = bool(f.search or f.reason or f.since or f.until)
    by_reason = {} if narrowed else letters.counts_by_reason(device=f.device, enterprise_id=scope)
    top = [] if narrowed or f.device else letters.top_devices(enterprise_id=scope)
    ctx: dict[str, Any] = {
        "result": PageOf(items, total, paging),
        "details": {x.id: detail_text(t, x) for x in items},
        "typed": typed,
        "problems": problems,
        "reasons": REASON_KEYS,
        "by_reason": sorted(by_reason.items(), key=lambda kv: -kv[1]),
        "top_devices": top,
        "narrowed": narrowed,
        "may_retry": user.role in access.CHANGERS,
        "max_retry": MAX_RETRY,
        "payload_shown": PAYLOAD_SHOWN,
        "back": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "filter_query": urlencode({k: v for k, v in typed.items() if v}),
    }
    if access.sees_all(user):
        stats = _pipeline(platform).stats()
        ctx["counters"] = [(key, label, stats.get(key, 0)) for key, label in COUNTERS]
    done = _RETRIED.match(request.query_params.get("retried", ""))
    if done:
        ctx["retried"] = {
            "stored": int(done[1]),
            "failed": int(done[2]),
            "skipped": int(done[3]),
        }
    return ctx


@router.get("/platform/ingest")
def ingest_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The dead letters the user may see, filtered and paged, and the ingest counters."""
    platform = fleet.platform_of(state)
    try:
        ctx = _letters_context(request, platform, user)
    except NotFound:
        device = (request.query_params.get("device") or "")[:MAX_ID]
        return render(request, "ingest.html", {"missing": device}, status=404)
    return render(request, "ingest.html", ctx)


def letter_ids(values: list[str]) -> list[int]:
    """The chosen letters' ids, or ``InvalidInput`` for a value that is not one."""
    if len(values) > MAX_RETRY:
        raise InvalidInput(
            f"at most {MAX_RETRY} letters per retry, not {len(values)}",
            reason="retry_too_many",
            params={"max": MAX_RETRY, "count": len(values)},
        )
    ids: list[int] = []
    for value in values:
        text = value.strip()
        if not text.isdigit() or len(text) > 12:
            raise InvalidInput(
                f"not a letter id: {text[:20]!r}",
                reason="retry_bad_id",
                params={"value": text[:20]},
            )
        ids.append(int(text))
    return ids


def _retried_url(back: str, report: dict[str, int]) -> str:
    target = safe_next(back)
    if not target.startswith("/platform/ingest"):
        target = "/platform/ingest"
    target = re.sub(r"([?&])retried=[^&]*&?", r"\1", target).rstrip("?&")
    done = f"{report['stored']}.{report['failed']}.{report['skipped']}"
    return target + ("&" if "?" in target else "?") + f"retried={done}"


@router.post("/platform/ingest/retry")
async def retry(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Re-submit the chosen letters (``ids``) or every letter of ``device`` (``all``)."""
    platform = fleet.platform_of(state)
    form = await request.form(max_files=0, max_fields=MAX_RETRY + 10)
    back = str(form.get("back", ""))[:2000]
    device = str(form.get("device", "")).strip()[:MAX_ID] or None
    try:
        if form.get("scope") == "device":
            if device is None:
                raise InvalidInput(
                    "choose letters or a device to retry",
                    reason="retry_nothing_chosen",
                    params={},
                )
            await run_in_threadpool(_check_device, platform, user, device)
            report = await retry_letters(
                _pipeline(platform),
                user,
                platform.devices.lookup,
                device=device,
                run=run_in_threadpool,
            )
        else:
            ids = letter_ids([str(v) for v in form.getlist("ids")])
            if not ids:
                raise InvalidInput(
                    "choose letters or a device to retry",
                    reason="retry_nothing_chosen",
                    params={},
                )
            report = await retry_letters(
                _pipeline(platform), user, platform.devices.lookup, ids=ids, run=run_in_threadpool
            )
    except IndunetError as exc:
        try:
            ctx = await run_in_threadpool(_letters_context, request, platform, user)
        except NotFound:
            ctx = {"missing": device or ""}
        ctx["error"] = error_text(request, exc)
        return render(request, "ingest.html", ctx, status=exc.status)
    counts = {"stored": report.stored, "failed": report.failed, "skipped": report.skipped}
    return RedirectResponse(_retried_url(back, counts), status_code=303)
