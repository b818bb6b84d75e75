"""Grading (分类分级): 自主定级 → 定级核查 → 分级防护 → 符合性评测 → 安全整改.

An enterprise answers its type's questionnaire under the current rule edition (a draft, with
evidence files), the scoring proposes a level, and it submits. The authority returns it with
comments or confirms it (at the proposed level or, with a comment, another). A confirmed
level sets obligations with due dates (``reg_obligations``): the protection checklist of the
level, the periodic conformity evaluation, the yearly risk assessment where the level needs
one. Completing an evaluation records its findings as rectification items (安全整改), each
closed with evidence, and schedules the next evaluation.

Every change bumps the record's revision, appends to its history (who, when, what, the state
before) and is audited here; the record then travels up and down the federation
(``replicate``), so the enterprise and its authorities see the same state.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
import sqlalchemy as sa

from indunet.core import audit
from indunet.core.errors import Conflict, InvalidInput, NotFound

from . import registry, rules
from .replicate import RECORD, Link, record_body, store_edition
from .tables import editions, evidence, gradings, obligations

OPEN = ("draft", "submitted", "returned")
DAY = 86_400.0
MONTH = 30 * DAY
RECTIFY_DAYS = 90
MAX_COMMENT = 2000
MAX_FINDINGS = 50
MAX_EVIDENCE = 20
HISTORY = 50


def _load(text: str) -> dict[str, Any]:
    data = orjson.loads(text)
    return data if isinstance(data, dict) else {}


def current_edition(conn: sa.Connection) -> dict[str, Any]:
    """The newest edition here (the shipped one, stored on first use, if none)."""
    text = conn.execute(
        sa.select(editions.c.content).order_by(editions.c.published.desc()).limit(1)
    ).scalar()
    if text is None:
        table = rules.shipped()
        store_edition(conn, table, "indunet")
        return table
    return rules.parse(text)


def edition(conn: sa.Connection, name: str) -> dict[str, Any]:
    text = conn.execute(sa.select(editions.c.content).where(editions.c.edition == name)).scalar()
    if text is None and name == rules.shipped()["edition"]:
        store_edition(conn, rules.shipped(), "indunet")
        return rules.shipped()
    if text is None:
        raise NotFound(f"no rule edition {name[:40]}", reason="regulation_edition_unknown")
    return rules.parse(text)


def _comment(text: Any, required: bool) -> str:
    if not isinstance(text, str) or len(text) > MAX_COMMENT:
        raise InvalidInput(
            f"a comment has at most {MAX_COMMENT} characters", reason="regulation_comment"
        )
    if required and not text.strip():
        raise InvalidInput("this decision needs a comment", reason="regulation_comment_required")
    return text.strip()


def evidence_list(conn: sa.Connection, uscc: str, raw: Any) -> list[str]:
    """Evidence files named by SHA-256: each uploaded for this enterprise."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_EVIDENCE:
        raise InvalidInput(
            f"evidence is a list of at most {MAX_EVIDENCE} files", reason="regulation_evidence"
        )
    out = []
    for sha in raw:
        ok = isinstance(sha, str) and len(sha) == 64
        if ok:
            ok = (
                conn.execute(
                    sa.select(evidence.c.sha256).where(
                        evidence.c.sha256 == sha, evidence.c.uscc == uscc
                    )
                ).first()
                is not None
            )
        if not ok:
            raise InvalidInput(
                f"no evidence file {str(sha)[:64]} of this enterprise",
                reason="regulation_evidence_unknown",
                params={"sha256": str(sha)[:64]},
            )
        out.append(sha)
    return list(dict.fromkeys(out))


def _save(
    conn: sa.Connection,
    link: Link,
    ent: dict[str, Any],
    table: sa.Table,
    kind: str,
    row: dict[str, Any],
    actor: str,
    action: str,
    before: dict[str, Any] | None,
) -> dict[str, Any]:
    """Write a record of ``table`` (a new revision, by its primary key) with a history entry
    (who, when, the action, the state before), audit it with the record before and after,
    pass it on."""
    now = time.time()
    data = row["data"] if isinstance(row["data"], dict) else _load(row["data"])
    log = list(data.get("history", []))[-(HISTORY - 1) :]
    log.append({"at": now, "by": actor, "action": action, "state": (before or {}).get("state")})
    data["history"] = log
    row = {**row, "data": orjson.dumps(data).decode(), "updated": now}
    row["rev"] = (before or {}).get("rev", 0) + 1
    keys = list(table.primary_key.columns)
    if before is None:
        conn.execute(table.insert().values(**row))
    else:
        conn.execute(table.update().where(*(c == row[c.name] for c in keys)).values(**row))
    record_id = " ".join(str(row[c.name]) for c in keys if c.name != "uscc")
    audit.record(
        conn,
        actor,
        f"regulation.{action}",
        f"{kind} {record_id} of {ent['uscc']}",
        {
            "before": None if before is None else _public(before),
            "after": _public(row),
        },
        enterprise_id=ent["tenant_id"],
    )
    link.changed(conn, RECORD, record_body(kind, table, row), ent)
    return row


def _public(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != "data"}
    data = row["data"] if isinstance(row["data"], dict) else _load(row["data"])
    out["data"] = {k: v for k, v in data.items() if k != "history"}
    return out


def get(conn: sa.Connection, uid: str) -> dict[str, Any]:
    row = conn.execute(sa.select(gradings).where(gradings.c.uid == uid)).first()
    if row is None:
        raise NotFound(f"no grading {uid[:32]}", reason="regulation_grading_unknown")
    out = dict(row._mapping)
    out["data"] = _load(out["data"])
    return out


def latest(conn: sa.Connection, uscc: str) -> dict[str, Any] | None:
    uid = conn.execute(
        sa.select(gradings.c.uid)
        .where(gradings.c.uscc == uscc)
        .order_by(gradings.c.updated.desc())
        .limit(1)
    ).scalar()
    return None if uid is None else get(conn, uid)


def _answers(conn: sa.Connection, ent: dict[str, Any], table: dict[str, Any], raw: Any) -> Any:
    return rules.score(table, ent["etype"], raw)


def start(
    conn: sa.Connection,
    link: Link,
    ent: dict[str, Any],
    actor: str,
    answers: Any,
    evidence_shas: Any = None,
    note: Any = "",
) -> dict[str, Any]:
    """A new self-assessment (a draft) under the current edition, scored."""
    last = latest(conn, ent["uscc"])
    if last is not None and last["state"] in OPEN:
        raise Conflict(
            f"grading {last['uid']} is still {last['state']}",
            reason="regulation_grading_open",
            params={"state": last["state"]},
        )
    table = current_edition(conn)
    scoring = _answers(conn, ent, table, answers)
    row = {
        "uid": uuid.uuid4().hex,
        "uscc": ent["uscc"],
        "state": "draft",
        "edition": table["edition"],
        "data": {
            "answers": answers,
            "evidence": evidence_list(conn, ent["uscc"], evidence_shas),
            "scoring": scoring.as_dict(),
            "note": _comment(note, False),
            "comments": [],
        },
        "proposed": scoring.level,
        "level": 0,
    }
    saved = _save(conn, link, ent, gradings, "grading", row, actor, "grading.draft", None)
    registry.set_grading(conn, ent["uscc"], "draft", None)
    return get(conn, saved["uid"])


def _open_for_enterprise(conn: sa.Connection, uid: str, ent: dict[str, Any]) -> dict[str, Any]:
    g = get(conn, uid)
    if g["uscc"] != ent["uscc"]:
        raise NotFound(f"no grading {uid[:32]}", reason="regulation_grading_unknown")
    return g


def _expect(g: dict[str, Any], states: tuple[str, ...], action: str) -> None:
    if g["state"] not in states:
        raise Conflict(
            f"a {g['state']} grading cannot be {action}",
            reason="regulation_grading_state",
            params={"state": g["state"], "action": action},
        )


def update(
    conn: sa.Connection,
    link: Link,
    ent: dict[str, Any],
    uid: str,
    actor: str,
    answers: Any,
    evidence_shas: Any = None,
    note: Any = "",
) -> dict[str, Any]:
    """Change a draft's (or a returned grading's) answers; scored again."""
    g = _open_for_enterprise(conn, uid, ent)
    _expect(g, ("draft", "returned"), "changed")
    scoring = _answers(conn, ent, edition(conn, g["edition"]), answers)
    data = {
        **g["data"],
        "answers": answers,
        "evidence": evidence_list(conn, ent["uscc"], evidence_shas),
        "scoring": scoring.as_dict(),
        "note": _comment(note, False),
    }
    row = {**g, "data": data, "proposed": scoring.level}
    _save(conn, link, ent, gradings, "grading", row, actor, "grading.update", _raw(g))
    return get(conn, uid)


def _raw(g: dict[str, Any]) -> dict[str, Any]:
    return {**g, "data": orjson.dumps(g["data"]).decode()}


def submit(
    conn: sa.Connection, link: Link, ent: dict[str, Any], uid: str, actor: str
) -> dict[str, Any]:
    """自主定级: the enterprise submits its self-assessment for review."""
    g = _open_for_enterprise(conn, uid, ent)
    _expect(g, ("draft", "returned"), "submitted")
    data = {**g["data"], "submitted": time.time()}
    row = {**g, "state": "submitted", "data": data}
    _save(conn, link, ent, gradings, "grading", row, actor, "grading.submit", _raw(g))
    registry.set_grading(conn, ent["uscc"], "submitted", None)
    return get(conn, uid)


def review(
    conn: sa.Connection,
    link: Link,
    ent: dict[str, Any],
    uid: str,
    actor: str,
    decision: str,
    comment: Any = "",
    level: int | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """定级核查: the authority returns the grading with comments, or confirms a level."""
    g = _open_for_enterprise(conn, uid, ent)
    _expect(g, ("submitted",), "reviewed")
    if decision not in ("confirm", "return"):
        raise InvalidInput("decision is confirm or return", reason="regulation_decision")
    final = g["proposed"] if level is None else level
    if final not in rules.LEVELS:
        raise InvalidInput("level is 1, 2 or 3", reason="regulation_level")
    text = _comment(comment, decision == "return" or final != g["proposed"])
    now = time.time() if now is None else now
    data = dict(g["data"])
    data["comments"] = [
        *data.get("comments", [])[-20:],
        {"at": now, "by": actor, "decision": decision, "text": text},
    ]
    if decision == "return":
        row = {**g, "state": "returned", "data": data}
        _save(conn, link, ent, gradings, "grading", row, actor, "grading.return", _raw(g))
        registry.set_grading(conn, ent["uscc"], "returned", None)
        return get(conn, uid)
    data["decided"], data["decided_by"] = now, actor
    row = {**g, "state": "confirmed", "level": final, "data": data}
    _save(conn, link, ent, gradings, "grading", row, actor, "grading.confirm", _raw(g))
    registry.set_grading(conn, ent["uscc"], "confirmed", final)
    _oblige(conn, link, ent, uid, edition(conn, g["edition"]), final, actor, now)
    return get(conn, uid)


def _oblige(
    conn: sa.Connection,
    link: Link,
    ent: dict[str, Any],
    source: str,
    table: dict[str, Any],
    level: int,
    actor: str,
    now: float,
) -> None:
    """The obligations a confirmed level sets; those of an earlier level are superseded."""
    for old in conn.execute(
        sa.select(obligations).where(
            obligations.c.uscc == ent["uscc"],
            obligations.c.done.is_(None),
            obligations.c.kind != "rectification",
        )
    ).mappings():
        data = {**_load(old["data"]), "superseded_by": source}
        row = {**dict(old), "done": now, "data": data}
        _save(
            conn,
            link,
            ent,
            obligations,
            "obligation",
            row,
            actor,
            "obligation.supersede",
            dict(old),
        )
    duty = rules.duties(table, level)
    new: list[tuple[str, str, float, dict[str, Any]]] = [
        ("protection", it["id"], now + duty["protection_days"] * DAY, {"title": it["title"]})
        for it in duty["protection"]
    ]
    if duty["evaluation_months"]:
        new.append(
            (
                "evaluation",
                "evaluation",
                now + duty["evaluation_months"] * MONTH,
                {"months": duty["evaluation_months"]},
            )
        )
    if duty["risk_assessment_months"]:
        new.append(
            (
                "risk",
                "risk_assessment",
                now + duty["risk_assessment_months"] * MONTH,
                {"months": duty["risk_assessment_months"]},
            )
        )
    for kind, item, due, data in new:
        row = {
            "uid": uuid.uuid4().hex,
            "uscc": ent["uscc"],
            "kind": kind,
            "item": item,
            "source": source,
            "due": due,
            "done": None,
            "data": {**data, "level": level},
        }
        _save(conn, link, ent, obligations, "obligation", row, actor, "obligation.set", None)


def obligation(conn: sa.Connection, uid: str) -> dict[str, Any]:
    row = conn.execute(sa.select(obligations).where(obligations.c.uid == uid)).first()
    if row is None:
        raise NotFound(f"no obligation {uid[:32]}", reason="regulation_obligation_unknown")
    out = dict(row._mapping)
    out["data"] = _load(out["data"])
    return out


def complete(
    conn: sa.Connection,
    link: Link,
    ent: dict[str, Any],
    uid: str,
    actor: str,
    note: Any = "",
    evidence_shas: Any = None,
    findings: Any = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The enterprise completes an obligation. An evaluation or a rectification needs
    evidence; an evaluation's findings become rectification items (due in 90 days) and the
    next evaluation is scheduled; a risk assessment schedules the next one."""
    ob = obligation(conn, uid)
    if ob["uscc"] != ent["uscc"]:
        raise NotFound(f"no obligation {uid[:32]}", reason="regulation_obligation_unknown")
    if ob["done"] is not None:
        raise Conflict("this obligation is already completed", reason="regulation_obligation_done")
    files = evidence_list(conn, ent["uscc"], evidence_shas)
    if ob["kind"] in ("evaluation", "rectification") and not files:
        raise InvalidInput(
            "completing this obligation needs at least one evidence file",
            reason="regulation_evidence_required",
        )
    items: list[str] = []
    if findings is not None:
        if ob["kind"] != "evaluation":
            raise InvalidInput("only an evaluation has findings", reason="regulation_findings")
        if (
            not isinstance(findings, list)
            or len(findings) > MAX_FINDINGS
            or not all(isinstance(f, str) and 0 < len(f.strip()) <= 300 for f in findings)
        ):
            raise InvalidInput(
                f"findings are at most {MAX_FINDINGS} texts of 1 to 300 characters",
                reason="regulation_findings",
            )
        items = [f.strip() for f in findings]
    now = time.time() if now is None else now
    data = {**ob["data"], "note": _comment(note, False), "evidence": files}
    if items:
        data["findings"] = items
    row = {**ob, "done": now, "data": data}
    _save(
        conn,
        link,
        ent,
        obligations,
        "obligation",
        row,
        actor,
        "obligation.complete",
        {**ob, "data": orjson.dumps(ob["data"]).decode()},
    )
    for text in items:
        rect = {
            "uid": uuid.uuid4().hex,
            "uscc": ent["uscc"],
            "kind": "rectification",
            "item": text,
            "source": uid,
            "due": now + RECTIFY_DAYS * DAY,
            "done": None,
            "data": {"title": {"zh-CN": text, "en": text}},
        }
        _save(conn, link, ent, obligations, "obligation", rect, actor, "obligation.set", None)
    months = ob["data"].get("months")
    if ob["kind"] in ("evaluation", "risk") and isinstance(months, int) and months > 0:
        nxt = {
            "uid": uuid.uuid4().hex,
            "uscc": ent["uscc"],
            "kind": ob["kind"],
            "item": ob["item"],
            "source": ob["source"],
            "due": now + months * MONTH,
            "done": None,
            "data": {"months": months, "level": ob["data"].get("level")},
        }
        _save(conn, link, ent, obligations, "obligation", nxt, actor, "obligation.set", None)
    return obligation(conn, uid)


def obligations_page(
    conn: sa.Connection,
    where: list[sa.ColumnElement[bool]],
    offset: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    from indunet.core.paged import page_of_rows

    rows, total = page_of_rows(
        conn,
        obligations,
        [obligations],
        where,
        [obligations.c.due, obligations.c.uid],
        offset=offset,
        limit=limit,
        scan=False,
    )
    for r in rows:
        r["data"] = _load(r["data"])
    return rows, total


def obligation_filters(
    *,
    uscc: str = "",
    kind: str = "",
    overdue: bool = False,
    open_only: bool = False,
    uscc_in: sa.Select[Any] | None = None,
    now: float | None = None,
) -> list[sa.ColumnElement[bool]]:
    now = time.time() if now is None else now
    where: list[sa.ColumnElement[bool]] = []
    if uscc:
        where.append(obligations.c.uscc == uscc)
    if uscc_in is not None:
        where.append(obligations.c.uscc.in_(uscc_in))
    if kind:
        where.append(obligations.c.kind == kind)
    if overdue:
        where += [obligations.c.done.is_(None), obligations.c.due < now]
    elif open_only:
        where.append(obligations.c.done.is_(None))
    return where


def queue_filters(*, state: str = "submitted") -> list[sa.ColumnElement[bool]]:
    return [gradings.c.state == state] if state else []
