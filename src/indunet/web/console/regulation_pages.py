"""What the authority's regulation pages share: the service, the overseer check (the one
access rule, ``core.access``, as the API applies it), how deep a region prefix goes at this
instance, region and obligation labels, and the questionnaire in the reader's language.

An enterprise's user who opens an authority page gets the 403 error page in their language;
a thing of another enterprise is 404 first, exactly like one that does not exist (the
service's own checks run before the overseer check).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from indunet.core import PermissionDenied, User, access, regions
from indunet.regulation import Regulation
from indunet.regulation.views import recipients_page
from indunet.web.api.regulation import regulation_of
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.state import AppState

#: Region prefix lengths offered on the statistics (a province, a city, a county).
DIGITS = (2, 4, 6)
#: How deep the statistics group regions at each federation level (a national instance
#: compares provinces, a province its cities, a city its counties).
DIGITS_AT = {"national": 2, "subcentre": 2, "province": 4, "city": 6, "enterprise": 6}
ETYPES = ("industrial", "platform", "identifier")
LEVELS = (0, 1, 2, 3)
GRADING_STATES = ("none", "draft", "submitted", "returned", "confirmed")
RECIPIENT_STATES = ("sent", "signed", "reported", "returned", "closed")


def service(state: AppState) -> Regulation:
    """The regulation service (404 in a process that runs none)."""
    return regulation_of(state)


def overseer(user: User, what: str) -> None:
    """403 unless ``user`` oversees every enterprise (a regulator, a platform admin)."""
    if not access.sees_all(user):
        raise PermissionDenied(
            f"{what} is read by regulators and platform administrators",
            reason="regulation_overseer_only",
        )


def region_name(prefix: str) -> str:
    """A region prefix as the console shows it: 福建省 (35), 厦门市 (3502), the code if unknown."""
    name = regions.name_of(prefix.ljust(6, "0")) if prefix.isdigit() else None
    return f"{name} ({prefix})" if name else (prefix or "—")


def localized(label: Any, locale: str) -> str:
    """A rule table's ``{"zh-CN": …, "en": …}`` text in ``locale`` (else any, else as is)."""
    if isinstance(label, dict):
        return str(label.get(locale) or next(iter(label.values()), ""))
    return "" if label is None else str(label)


def obligation_title(ob: dict[str, Any], locale: str) -> str:
    """What an obligation asks, in ``locale``: its checklist title, finding, or item."""
    data = ob.get("data") or {}
    for key in ("title", "finding", "text"):
        if data.get(key):
            return localized(data[key], locale)
    return str(ob.get("item", ""))


def questionnaire(
    table: dict[str, Any], etype: str, scoring: dict[str, Any], locale: str
) -> list[dict[str, Any]]:
    """The scoring lines of a self-assessment with each factor's question and the chosen
    option's text from the rule edition it was filled in under."""
    factors = {f["id"]: f for f in table.get("types", {}).get(etype, {}).get("factors", [])}
    lines = []
    for line in scoring.get("lines", []):
        f = factors.get(line.get("factor"), {})
        option: dict[str, Any] = next(
            (o for o in f.get("options", []) if o["value"] == line.get("value")), {}
        )
        lines.append(
            {
                **line,
                "question": localized(f.get("title"), locale) or line.get("factor"),
                "answer": localized(option.get("label"), locale) or line.get("value"),
                "decisive": line.get("factor") == scoring.get("decisive"),
            }
        )
    return lines


def choice(text: str, allowed: tuple[str, ...]) -> str:
    """``text`` if it is one of ``allowed``, else empty (a hostile filter falls back)."""
    return text if text in allowed else ""


def region_prefix(text: str) -> str:
    """A GB/T 2260 prefix from a filter (up to 6 digits), else empty."""
    return text if text.isdigit() and len(text) <= 6 else ""


def recipients_of(request: Request, state: AppState, notice: str | None = None) -> dict[str, Any]:
    """A page of recipients for the filters of ``request`` (search, state, overdue, region)."""
    params = request.query_params
    paging = paging_of(request)
    wanted = choice(params.get("state", ""), RECIPIENT_STATES)
    overdue = params.get("overdue") == "1"
    region = region_prefix(params.get("region", ""))
    with service(state).engine.connect() as conn:
        rows, total = recipients_page(
            conn,
            notice=notice,
            q=paging.q,
            state=wanted,
            overdue=overdue,
            region=region,
            offset=paging.offset,
            limit=paging.limit,
        )
    chosen = {"state": wanted, "overdue": overdue, "region": region}
    return {
        "result": PageOf(rows, total, paging),
        "chosen": chosen,
        "recipient_states": RECIPIENT_STATES,
        "region_name": region_name,
    }


def grading_view(
    state: AppState, g: dict[str, Any] | None, etype: str, locale: str
) -> dict[str, Any] | None:
    """A grading with its questionnaire lines in ``locale`` (from its own rule edition)."""
    if g is None:
        return None
    table = service(state).rules(g["edition"])
    scoring = g["data"].get("scoring") or {}
    return {
        **g,
        "lines": questionnaire(table, etype, scoring, locale),
        "points": scoring.get("points"),
        "edition_title": localized(table.get("title"), locale),
    }
