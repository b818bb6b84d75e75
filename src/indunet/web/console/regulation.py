"""The authority's regulation pages (监管): the overview (enterprises by type and level,
grading states, overdue obligations and notices; notice statistics by region and by level as
charts and tables, each region drilling down to its recipients), the enterprises under
supervision (searched, filtered and paged on the server) with one enterprise's grading and
open obligations, evidence downloads, and the recipients list (by region, state, overdue).

The review queue and the notices live in ``regulation_gradings`` and ``regulation_notices``;
this router includes them. Regulators and platform admins read these pages; an enterprise's
user gets the 403 page (``regulation_pages.overseer``). Every figure is one SQL aggregate
(``regulation.views``).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from indunet.core import access
from indunet.federation import tree
from indunet.regulation.views import overview, stats
from indunet.web.api.regulation import download_evidence
from indunet.web.console import regulation_gradings, regulation_notices
from indunet.web.console.i18n import locale_of, translator
from indunet.web.console.pages import render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.regulation_pages import (
    DIGITS,
    DIGITS_AT,
    ETYPES,
    GRADING_STATES,
    LEVELS,
    choice,
    grading_view,
    obligation_title,
    overseer,
    recipients_of,
    region_name,
    region_prefix,
    service,
)
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep

router = APIRouter(include_in_schema=False)
HOUR = 3600.0


def _digits(request: Request, level: str | None) -> int:
    asked = request.query_params.get("digits", "")
    if asked.isdigit() and int(asked) in DIGITS:
        return int(asked)
    return DIGITS_AT.get(level or "", DIGITS[0])


def _stat_rows(rows: list[dict[str, Any]], name: Any) -> list[dict[str, Any]]:
    return [
        {
            **r,
            "label": name(r["key"]),
            "mean_h": None if r["mean_dispose_s"] is None else r["mean_dispose_s"] / HOUR,
        }
        for r in rows
    ]


@router.get("/regulation")
def overview_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Counts of the enterprises under this instance and the notice statistics by region
    (2 digits at a national instance, 4 at a province; ``digits`` switches) and by level.
    An enterprise's user is sent to its own enterprise's page (the section's entry)."""
    if not access.sees_all(user):
        return RedirectResponse("/regulation/mine", status_code=303)
    svc = service(state)
    with svc.engine.connect() as conn:
        me = tree.me(conn)
        digits = _digits(request, me[1] if me else None)
        counts = overview(conn)
        by_region = stats(conn, "region", digits)
        by_level = stats(conn, "level")
    t = translator(locale_of(request))
    cells = {(c["etype"], c["level"]): c["count"] for c in counts["by_type_level"]}
    regions = _stat_rows(by_region, region_name)
    levels = _stat_rows(by_level, lambda k: t(f"regulation.level.{k}"))
    chart = {
        "types": [t(f"regulation.etype.{e}") for e in ETYPES],
        "levels": [
            [t(f"regulation.level.{lv}"), [cells.get((e, lv), 0) for e in ETYPES]] for lv in LEVELS
        ],
        "regions": [
            [r["label"], r["issued"], r["signed_in_time"], r["disposed_in_time"], r["overdue"]]
            for r in regions
        ],
        "text": {
            k: t(f"regulation.stats.{k}")
            for k in ("issued", "signed_in_time", "disposed_in_time", "overdue", "empty")
        },
    }
    return render(
        request,
        "regulation_overview.html",
        {
            "me": me,
            "counts": counts,
            "cells": cells,
            "etypes": ETYPES,
            "levels": LEVELS,
            "grading_states": GRADING_STATES,
            "digits": digits,
            "digit_choices": DIGITS,
            "regions": regions,
            "by_level": levels,
            "chart": chart,
        },
    )


@router.get("/regulation/enterprises")
def enterprises_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Enterprises under supervision: search by name or USCC; type, level, grading state and
    region filters; paged on the server."""
    overseer(user, "the enterprises under supervision")
    params = request.query_params
    paging = paging_of(request)
    level = params.get("level", "")
    chosen = {
        "etype": choice(params.get("etype", ""), ETYPES),
        "level": level if level in {str(x) for x in LEVELS} else "",
        "state": choice(params.get("state", ""), GRADING_STATES),
        "region": region_prefix(params.get("region", "")),
    }
    rows, total = service(state).enterprises(
        user,
        paging.offset,
        paging.limit,
        q=paging.q,
        etype=chosen["etype"],
        level=int(chosen["level"]) if chosen["level"] else None,
        region=chosen["region"],
        state=chosen["state"],
    )
    ctx = {
        "result": PageOf(rows, total, paging),
        "chosen": chosen,
        "etypes": ETYPES,
        "levels": LEVELS,
        "grading_states": GRADING_STATES,
        "region_name": region_name,
    }
    return render(request, "regulation_enterprises.html", ctx)


@router.get("/regulation/enterprises/{uscc}")
def enterprise_page(request: Request, state: StateDep, user: ConsoleUser, uscc: str) -> Response:
    """One enterprise: where it lives, its level, its current grading with the scoring and
    evidence, and its open obligations with due dates (overdue ones marked)."""
    found = service(state).enterprise(user, uscc[:18])  # another tenant's: 404 first
    overseer(user, "an enterprise's regulation page")
    locale = locale_of(request)
    ent = found["enterprise"]
    obligations = [{**ob, "title": obligation_title(ob, locale)} for ob in found["obligations"]]
    ctx = {
        "ent": ent,
        "grading": grading_view(state, found["grading"], ent["etype"], locale),
        "obligations": obligations,
        "products": found["products"],
        "now": time.time(),
        "region_name": region_name,
    }
    return render(request, "regulation_enterprise.html", ctx)


@router.get("/regulation/evidence/{sha256}")
def evidence_file(state: StateDep, user: ConsoleUser, sha256: str) -> Response:
    """An evidence file, to whoever sees its enterprise (as ``GET /api/v1/regulation/evidence``)."""
    return download_evidence(sha256, user, state)


@router.get("/regulation/recipients")
def recipients_list(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Every notice's recipients (the statistics' drill-down; ``overdue=1``: the late ones)."""
    overseer(user, "the notices' recipients")
    return render(request, "regulation_recipients.html", recipients_of(request, state))


router.include_router(regulation_gradings.router)
router.include_router(regulation_notices.router)
