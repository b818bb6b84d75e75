"""What the enterprise's regulation pages share (``regulation_mine``,
``regulation_mine_duties``): the service, the enterprise a page is about and what its reader
may do there, evidence files uploaded with a form, and refusals in the reader's language.

Who may do what is ``core.access`` and the ``Regulation`` service; these helpers only ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from indunet.core import IndunetError, NotFound, User, access
from indunet.regulation import Regulation
from indunet.regulation import evidence as evidence_files
from indunet.web.console.i18n import N_, locale_of, translator
from indunet.web.console.pages import error_text
from indunet.web.state import AppState

BASE = "/regulation/mine"
MAX_TEXT = 2000
"""A note, report or comment (the service's own bound)."""
MAX_FINDINGS_TEXT = 20_000
"""The findings box: at most 50 lines of 300 characters, with room for line ends."""
MAX_EVIDENCE_MIB = evidence_files.MAX_BYTES // (1024 * 1024)
FORM_FIELDS = 80
"""Fields a form of these pages may carry (questionnaire answers, kept files, text)."""
GRADING_OPEN = ("draft", "returned")
"""Grading states the enterprise still edits and submits."""


def service(state: AppState) -> Regulation:
    """The regulation service of this process, or 404 (it runs none)."""
    svc = state.services.get("regulation")
    if not isinstance(svc, Regulation):
        raise NotFound("this process runs no regulation service")
    return svc


@dataclass(frozen=True, slots=True)
class Reader:
    """An enterprise under supervision as one reader sees it: may they act for it?"""

    enterprise: dict[str, Any]  # its reg_enterprises row (uscc, name, etype, level, ...)
    admin: bool  # fill in self-assessments, complete obligations
    member: bool  # sign and report notices (its users too)

    @property
    def uscc(self) -> str:
        """The enterprise's USCC."""
        return str(self.enterprise["uscc"])


def reader(svc: Regulation, user: User, uscc: str) -> tuple[Reader, dict[str, Any]]:
    """The enterprise ``uscc`` (404 unless ``user`` sees it) with its latest grading and open
    obligations (``Regulation.enterprise``)."""
    found = svc.enterprise(user, uscc[:18])
    ent = found["enterprise"]
    hosted = ent["tenant_id"] is not None
    return (
        Reader(
            ent,
            admin=hosted and access.can_change(user, ent["tenant_id"]),
            member=hosted and access.can_change(user, ent["tenant_id"], users_too=True),
        ),
        found,
    )


def text(form: FormData, name: str, most: int = MAX_TEXT) -> str:
    """A text field of ``form`` cut to ``most`` characters (the service judges the rest)."""
    value = form.get(name)
    return value[:most] if isinstance(value, str) else ""


def kept(form: FormData) -> list[str]:
    """The evidence files a form keeps (their SHA-256s, at most 20 as the service allows)."""
    return [v for v in form.getlist("keep") if isinstance(v, str)][:20]


async def upload(svc: Regulation, user: User, uscc: str, form: FormData) -> list[str]:
    """Store the file the form carries (if any) as ``uscc``'s evidence; its SHA-256 in a list.
    A file of the wrong type or size is refused by the service and nothing is stored."""
    found = form.get("file")
    if not isinstance(found, UploadFile) or not found.filename:
        return []
    data = await found.read(evidence_files.MAX_BYTES + 1)
    meta = await run_in_threadpool(svc.upload, user, uscc, found.filename, data)
    return [str(meta["sha256"])]


def files(svc: Regulation, shas: list[str]) -> list[dict[str, Any]]:
    """Name, type and size of evidence files (those whose record arrived)."""
    out = []
    with svc.engine.connect() as conn:
        for sha in shas:
            try:
                out.append(evidence_files.info(conn, sha))
            except NotFound:
                out.append({"sha256": sha, "name": sha[:12], "media_type": "", "size": None})
    return out


#: Catalogue keys of the words some refusals name (a grading's or notice's state, the act).
STATE_WORDS = {
    "draft": N_("regmine.state.draft"),
    "submitted": N_("regmine.state.submitted"),
    "returned": N_("regmine.state.returned"),
    "confirmed": N_("regmine.state.confirmed"),
    "sent": N_("regmine.rstate.sent"),
    "signed": N_("regmine.rstate.signed"),
    "reported": N_("regmine.rstate.reported"),
    "closed": N_("regmine.rstate.closed"),
}
ACT_WORDS = {
    "changed": N_("regmine.act.changed"),
    "submitted": N_("regmine.act.submitted"),
    "reviewed": N_("regmine.act.reviewed"),
    "signed": N_("regmine.act.signed"),
    "reported": N_("regmine.act.reported"),
    "verified": N_("regmine.act.verified"),
}


def refusal(request: Request, exc: IndunetError, factors: dict[str, str] | None = None) -> str:
    """``exc`` in the reader's language; the state, act and questionnaire factor it names are
    shown in that language too (``factors``: factor id → its title on the page)."""
    t = translator(locale_of(request))
    params = dict(exc.params)
    for name, words in (("state", STATE_WORDS), ("action", ACT_WORDS)):
        key = words.get(str(params.get(name, "")))
        if key is not None:
            params[name] = t(key)
    if factors and str(params.get("factor", "")) in factors:
        params["factor"] = factors[str(params["factor"])]
    shown = IndunetError(exc.message, reason=exc.reason, params=params)
    return error_text(request, shown)


def label(texts: Any, locale: str) -> str:
    """A rule table's text (``{"zh-CN": ..., "en": ...}``) in ``locale``."""
    if isinstance(texts, dict):
        return str(texts.get(locale) or texts.get("en") or next(iter(texts.values()), ""))
    return str(texts or "")
