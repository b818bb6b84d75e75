"""How regulation records travel between instances (through ``indunet.federation``).

Every record about an enterprise (a grading, an obligation, a notice's recipient, an
evidence file) is kept at each instance on the path from the enterprise's own instance to
the top, so the enterprise, its province and the nation see the same state. A change made
here goes up to the parent and down toward the enterprise's instance (through the child it
is reached by); a change that arrives from below goes on up, one from above goes on down.
A copy is replaced only by a higher revision (``rev``): a message applied late or twice
changes nothing.

Kinds:

- ``regulation.profile`` (up): an enterprise's profile and products. A child may describe
  only enterprises it is the way to (or new ones).
- ``regulation.record`` (up and down): ``{"type": "grading" | "obligation" | "recipient",
  "record": {...}}``.
- ``regulation.notice`` (up and down): a notice and its recipients' records.
- ``regulation.evidence`` (up and down): one part of an evidence file.
- ``regulation.edition`` (down, to every child): a grading rule table.

Messages from below are checked against the registry: a child may speak only of enterprises
reached through it, a parent only of enterprises under this instance (its jurisdiction);
anything else is refused (``BodyRefused``: recorded and counted by the inbox, never
applied).
"""

from __future__ import annotations

import base64
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import orjson
import sqlalchemy as sa

from indunet.core.documents import EXTENSIONS
from indunet.core.errors import IndunetError
from indunet.federation import BodyRefused, Envelope, Federation, outbox, tree
from indunet.federation.envelope import NAME

from . import registry, rules
from .tables import editions, evidence, evidence_parts, gradings, notices, obligations, recipients
from .tables import enterprises as reg_enterprises

PROFILE, RECORD, NOTICE, EVIDENCE, EDITION = (
    "regulation.profile",
    "regulation.record",
    "regulation.notice",
    "regulation.evidence",
    "regulation.edition",
)
TABLES = {"grading": gradings, "obligation": obligations, "recipient": recipients}
MAX_EVIDENCE = 4 * 1024 * 1024
PART = 96 * 1024
"""Evidence files' bounds: at most 4 MiB, kept and sent in parts of 96 KiB (``evidence``
uses these)."""
EVIDENCE_TYPES = frozenset(EXTENSIONS)
"""The media types of evidence: those ``core.documents`` reads a licence as."""
_ENTERPRISE_STATES = {
    gradings: ("draft", "submitted"),
    recipients: ("sent", "signed", "reported"),
}
"""What an enterprise's own instance may set a record's state to; the authority's decisions
(a confirmed or returned grading, a closed or returned notice) come from above."""
_FIXED = {
    gradings: ("level",),
    recipients: ("sign_due", "dispose_due", "closed", "escalated", "escalated_to"),
    obligations: ("kind", "item", "source", "due"),
}
MAX_TEXT = 64 * 1024


def _refuse(message: str, reason: str = "regulation_message") -> BodyRefused:
    return BodyRefused(message, reason)


def checked_row(table: sa.Table, raw: Any) -> dict[str, Any]:
    """A row for ``table`` from a message: exactly its columns, each of its type and size."""
    if not isinstance(raw, dict) or set(raw) != {c.name for c in table.columns}:
        raise _refuse(f"a {table.name} row has exactly the columns of {table.name}")
    for c in table.columns:
        v = raw[c.name]
        if v is None:
            if not c.nullable or c.primary_key:
                raise _refuse(f"{table.name}.{c.name} is required")
            continue
        ok: bool
        if isinstance(c.type, sa.Float):
            ok = isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 1e11
        elif isinstance(c.type, sa.Integer):
            ok = isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**31
        elif isinstance(c.type, sa.Text):
            ok = isinstance(v, str) and len(v) <= MAX_TEXT
        elif isinstance(c.type, sa.String):
            ok = isinstance(v, str) and len(v) <= (c.type.length or 0)
        else:
            ok = False
        if not ok:
            raise _refuse(f"{table.name}.{c.name} has the wrong type or size")
    return dict(raw)


def _text(most: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and len(v) <= most


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 1e11


def _whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**31


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _list(item: Callable[[Any], bool], most: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, list) and len(v) <= most and all(item(x) for x in v)


def _entry(fields: dict[str, Callable[[Any], bool]]) -> Callable[[Any], bool]:
    """An object holding only ``fields`` (each optional), each of its kind."""
    return lambda v: (
        isinstance(v, dict) and set(v) <= set(fields) and all(fields[k](x) for k, x in v.items())
    )


_SHA = _text(64)
_STEP = _entry(
    {
        "at": _number,
        "by": _text(200),
        "action": _text(80),
        "state": _optional(_text(16)),
        "decision": _text(16),
        "text": _text(MAX_TEXT),
        "evidence": _list(_SHA, 20),
    }
)
_LABEL = _entry({"zh-CN": _text(300), "en": _text(300)})
_LINE = _entry({"factor": _text(40), "value": _text(40), "points": _whole, "level": _whole})
_DATA = _entry(
    {
        "history": _list(_STEP, 100),
        "comments": _list(_STEP, 100),
        "reports": _list(_STEP, 100),
        "verdicts": _list(_STEP, 100),
        "evidence": _list(_SHA, 20),
        "findings": _list(_text(300), 50),
        "answers": lambda v: (
            isinstance(v, dict)
            and len(v) <= 40
            and all(isinstance(k, str) and len(k) <= 40 and _text(40)(x) for k, x in v.items())
        ),
        "scoring": _entry(
            {
                "points": _whole,
                "level": _whole,
                "lines": _list(_LINE, 40),
                "decisive": _optional(_text(40)),
            }
        ),
        "title": _LABEL,
        "note": _text(MAX_TEXT),
        "superseded_by": _text(32),
        "decided_by": _text(200),
        "escalation": _text(16),
        "submitted": _number,
        "decided": _number,
        "months": _whole,
        "level": _optional(_whole),
    }
)
"""The shape of a record's ``data`` (JSON) that the console and the API read: a peer's record
of any other shape is refused, so no page meets a value it cannot show."""


def checked_data(row: dict[str, Any]) -> None:
    """Refuse a record whose ``data`` is not JSON of the shape records carry."""
    try:
        data = orjson.loads(row["data"])
    except orjson.JSONDecodeError:
        raise _refuse("a record's data is not JSON") from None
    if not _DATA(data):
        raise _refuse("a record's data has a field of the wrong kind or size")


def upsert_newer(conn: sa.Connection, table: sa.Table, row: dict[str, Any]) -> bool:
    """Store ``row`` unless a copy of the same or a higher revision is here; whether stored."""
    keys = [c for c in table.primary_key.columns]
    where = sa.and_(*(c == row[c.name] for c in keys))
    have = conn.execute(sa.select(table.c.rev).where(where)).scalar()
    if have is None:
        conn.execute(table.insert().values(**row))
        return True
    if row["rev"] <= have:
        return False
    conn.execute(table.update().where(where).values(**row))
    return True


def row_of(table: sa.Table, row: Any) -> dict[str, Any]:
    return {str(c.name): row[c.name] for c in table.columns}


class Link:
    """The federation as the regulation subsystem uses it: where a change goes next. With no
    federation (or no identity yet) nothing travels and everything still works here."""

    def __init__(self, fed: Federation | None) -> None:
        self.fed = fed

    def me(self, conn: sa.Connection) -> tuple[str, str] | None:
        return tree.me(conn) if self.fed is not None else None

    def _put(self, conn: sa.Connection, peer: str, kind: str, body: dict[str, Any]) -> None:
        try:
            outbox.put(conn, peer, kind, body)
        except outbox.OutboxRefused as exc:
            # a message that cannot travel is refused with the change it reports
            raise _Untravellable(str(exc), reason=exc.reason) from None

    def changed(
        self,
        conn: sa.Connection,
        kind: str,
        body: dict[str, Any],
        ent: dict[str, Any],
        came_from: str | None = None,
    ) -> None:
        """Pass a change about enterprise ``ent`` on: up to the parent, down toward the
        enterprise's instance; never back to ``came_from``."""
        if self.fed is None or tree.me(conn) is None:
            return
        parent = tree.parent(conn)
        if parent is not None and came_from != parent:
            self._put(conn, parent, kind, body)
        via = ent.get("via")
        if via and came_from != via:
            self._put(conn, via, kind, body)

    def profile(self, conn: sa.Connection, body: dict[str, Any]) -> None:
        """Send an enterprise's profile up."""
        if self.fed is None or (me := tree.me(conn)) is None:
            return
        parent = tree.parent(conn)
        if parent is not None:
            self._put(conn, parent, PROFILE, {**body, "instance": body.get("instance") or me[0]})

    def edition(self, conn: sa.Connection, content: dict[str, Any], came_from: str | None) -> None:
        """Pass a rule table down to every child."""
        if self.fed is None or tree.me(conn) is None:
            return
        for child in tree.children(conn):
            if child != came_from:
                self._put(conn, child, EDITION, {"content": content})

    def notice(
        self,
        conn: sa.Connection,
        notice: dict[str, Any],
        rows: list[dict[str, Any]],
        ents: dict[str, dict[str, Any]],
        came_from: str | None,
    ) -> None:
        """Pass a notice on: to the parent with every recipient, and to each child with the
        recipients reached through it."""
        if self.fed is None or tree.me(conn) is None:
            return
        parent = tree.parent(conn)
        if parent is not None and came_from != parent:
            self._put(conn, parent, NOTICE, _notice_body(notice, rows, ents))
        down: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            via = ents[r["uscc"]].get("via")
            if via and via != came_from:
                down[via].append(r)
        for via, some in sorted(down.items()):
            self._put(conn, via, NOTICE, _notice_body(notice, some, ents))


class _Untravellable(IndunetError):
    code = "invalid_input"
    status = 400


def _notice_body(
    notice: dict[str, Any], rows: list[dict[str, Any]], ents: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    return {
        "notice": notice,
        "recipients": rows,
        "profiles": [registry.as_message(ents[r["uscc"]], None) for r in rows],
    }


class Handlers:
    """What the federation calls for each regulation kind, in its receiving transaction."""

    def __init__(self, link: Link) -> None:
        self.link = link

    def register(self, fed: Federation) -> None:
        fed.handle(PROFILE, self.profile)
        fed.handle(RECORD, self.record)
        fed.handle(NOTICE, self.notice)
        fed.handle(EVIDENCE, self.evidence)
        fed.handle(EDITION, self.edition)

    # -- who may speak of what -------------------------------------------------------------

    def _direction(self, conn: sa.Connection, env: Envelope) -> str:
        role = tree.role_of(conn, env.sender)
        if role not in ("parent", "child"):
            raise _refuse(f"{env.sender} is no active peer", "regulation_peer")
        return role

    def _entitled(self, conn: sa.Connection, env: Envelope, uscc: Any, role: str) -> dict[str, Any]:
        """The enterprise a message from ``role`` may speak of, or refused."""
        try:
            ent = registry.get(conn, str(uscc)[:18])
        except IndunetError:
            raise _refuse(
                f"enterprise {str(uscc)[:18]} is not under this instance",
                "regulation_enterprise_unknown",
            ) from None
        if role == "child" and ent["via"] != env.sender:
            raise _refuse(
                f"{env.sender} may not speak for enterprise {ent['uscc']}", "regulation_not_yours"
            )
        return ent

    def _profile(self, conn: sa.Connection, env: Envelope, raw: Any) -> dict[str, Any]:
        """Apply a profile from a child: checked, and only for an enterprise it reaches."""
        if not isinstance(raw, dict):
            raise _refuse("a profile is an object")
        try:
            fields = registry.profile_fields(raw)
            items = registry.product_pairs(raw.get("products")) if "products" in raw else None
        except IndunetError as exc:
            raise _refuse(exc.message, exc.reason or "regulation_message") from None
        level = tree.level_of(conn, env.sender)
        instance = env.sender if level == "enterprise" else raw.get("instance")
        if not isinstance(instance, str) or not NAME.match(instance):
            raise _refuse("a relayed profile names the instance it came from")
        have = conn.execute(
            sa.select(reg_enterprises.c.via).where(reg_enterprises.c.uscc == fields["uscc"])
        ).first()
        if have is not None and have.via != env.sender:
            raise _refuse(
                f"{env.sender} may not speak for enterprise {fields['uscc']}",
                "regulation_not_yours",
            )
        return registry.upsert(conn, fields, instance=instance, via=env.sender, items=items)

    # -- the kinds ------------------------------------------------------------------------

    def profile(self, conn: sa.Connection, env: Envelope) -> None:
        if self._direction(conn, env) != "child":
            raise _refuse("profiles travel up only")
        ent = self._profile(conn, env, env.body)
        items = registry.products_of(conn, ent["uscc"]) if "products" in env.body else None
        self.link.profile(conn, {**registry.as_message(ent, items), "instance": ent["instance"]})

    def record(self, conn: sa.Connection, env: Envelope) -> None:
        role = self._direction(conn, env)
        kind, raw = env.body.get("type"), env.body.get("record")
        table = TABLES.get(kind) if isinstance(kind, str) else None
        if table is None:
            raise _refuse(f"no record type {str(kind)[:20]!r}")
        row = checked_row(table, raw)
        checked_data(row)
        ent = self._entitled(conn, env, row["uscc"], role)
        if role == "child" and tree.level_of(conn, env.sender) == "enterprise":
            _enterprise_may(conn, table, row)
        if upsert_newer(conn, table, row) and table is gradings:
            current = conn.execute(
                sa.select(gradings.c.uid)
                .where(gradings.c.uscc == row["uscc"])
                .order_by(gradings.c.updated.desc())
                .limit(1)
            ).scalar()
            if current == row["uid"]:
                confirmed = row["level"] if row["state"] == "confirmed" else None
                registry.set_grading(conn, row["uscc"], row["state"], confirmed)
        self.link.changed(conn, RECORD, {"type": kind, "record": row}, ent, came_from=env.sender)

    def notice(self, conn: sa.Connection, env: Envelope) -> None:
        role = self._direction(conn, env)
        body = env.body
        notice = checked_row(notices, body.get("notice"))
        me = tree.me(conn)
        if role == "child" and me is not None and notice["issuer"] == me[0]:
            raise _refuse(
                "a child may not speak for this instance's notices", "regulation_not_yours"
            )
        raw_rows, profiles = body.get("recipients"), body.get("profiles")
        if not isinstance(raw_rows, list) or not 0 < len(raw_rows) <= 10_000:
            raise _refuse("a notice names 1 to 10,000 recipients")
        rows = [checked_row(recipients, r) for r in raw_rows]
        for r in rows:
            checked_data(r)
        if any(r["notice"] != notice["uid"] for r in rows):
            raise _refuse("a recipient belongs to another notice")
        if role == "child" and isinstance(profiles, list):
            for p in profiles[: len(rows)]:
                # a child's notice may name enterprises the parent has not heard of yet
                if isinstance(p, dict) and p.get("uscc"):
                    exists = conn.execute(
                        sa.select(reg_enterprises.c.uscc).where(
                            reg_enterprises.c.uscc == str(p["uscc"])[:18]
                        )
                    ).first()
                    if exists is None:
                        self._profile(conn, env, {**p, "instance": p.get("instance", env.sender)})
        ents = {r["uscc"]: self._entitled(conn, env, r["uscc"], role) for r in rows}
        if conn.execute(sa.select(notices.c.uid).where(notices.c.uid == notice["uid"])).first():
            pass  # the same notice for more recipients (another branch's copy): keep it
        else:
            conn.execute(notices.insert().values(**notice))
        for r in rows:
            upsert_newer(conn, recipients, r)
        self.link.notice(conn, notice, rows, ents, came_from=env.sender)

    def evidence(self, conn: sa.Connection, env: Envelope) -> None:
        role = self._direction(conn, env)
        meta = checked_row(evidence, env.body.get("meta"))
        n, data = env.body.get("n"), env.body.get("data")
        if not isinstance(n, int) or not 0 <= n < meta["parts"] or not isinstance(data, str):
            raise _refuse("an evidence part has its number and its data")
        try:
            content = base64.b64decode(data, validate=True)
        except ValueError:
            raise _refuse("evidence data is base64") from None
        if meta["size"] > MAX_EVIDENCE or meta["parts"] != -(-meta["size"] // PART):
            raise _refuse("an evidence file's size and parts do not agree")
        if len(content) != min(PART, meta["size"] - n * PART):
            raise _refuse("an evidence part is not the size its number says")
        if meta["media_type"] not in EVIDENCE_TYPES:
            raise _refuse("evidence is a PNG or JPEG image or a PDF file")
        ent = self._entitled(conn, env, meta["uscc"], role)
        have = conn.execute(
            sa.select(evidence.c.uscc).where(evidence.c.sha256 == meta["sha256"])
        ).first()
        if have is not None and have.uscc != meta["uscc"]:
            raise _refuse("that file is another enterprise's", "regulation_not_yours")
        if have is None:
            conn.execute(evidence.insert().values(**meta))
        part = sa.and_(evidence_parts.c.sha256 == meta["sha256"], evidence_parts.c.n == n)
        if conn.execute(sa.select(evidence_parts.c.n).where(part)).first() is None:
            conn.execute(evidence_parts.insert().values(sha256=meta["sha256"], n=n, data=content))
        passed = {"meta": meta, "n": n, "data": data}  # what was checked, nothing else
        self.link.changed(conn, EVIDENCE, passed, ent, came_from=env.sender)

    def edition(self, conn: sa.Connection, env: Envelope) -> None:
        if self._direction(conn, env) != "parent":
            raise _refuse("rule tables travel down only")
        try:
            table = rules.check(env.body.get("content"))
        except IndunetError as exc:
            raise _refuse(exc.message, "regulation_rules") from None
        store_edition(conn, table, env.sender)
        self.link.edition(conn, table, came_from=env.sender)


def _enterprise_may(conn: sa.Connection, table: sa.Table, row: dict[str, Any]) -> None:
    """Refuse what an enterprise's instance may not decide: the authority's states, and
    the fields the authority or the workflow set (deadlines, levels, due dates)."""
    keys = list(table.primary_key.columns)
    have = (
        conn.execute(sa.select(table).where(sa.and_(*(c == row[c.name] for c in keys))))
        .mappings()
        .first()
    )
    allowed = _ENTERPRISE_STATES.get(table)
    if (
        allowed is not None
        and row["state"] not in allowed
        and (have is None or have["state"] != row["state"])
    ):
        raise _refuse(
            f"an enterprise does not set a {table.name} to {row['state']}", "regulation_not_yours"
        )
    if have is None:
        if table is obligations and row["kind"] not in ("rectification", "evaluation", "risk"):
            raise _refuse("an enterprise does not set its own obligations", "regulation_not_yours")
        if table is recipients:
            raise _refuse("an enterprise does not address notices", "regulation_not_yours")
        if table is gradings and row["level"] != 0:
            raise _refuse("an enterprise does not confirm its level", "regulation_not_yours")
        return
    changed = [c for c in _FIXED.get(table, ()) if have[c] != row[c]]
    if changed:
        raise _refuse(
            f"an enterprise does not change {table.name}.{changed[0]}", "regulation_not_yours"
        )


def store_edition(conn: sa.Connection, table: dict[str, Any], by: str) -> bool:
    """Keep a rule table (an edition already here is left as it is); whether it was new."""
    if conn.execute(
        sa.select(editions.c.edition).where(editions.c.edition == table["edition"])
    ).first():
        return False
    conn.execute(
        editions.insert().values(
            edition=table["edition"],
            title=table["title"]["zh-CN"][:200],
            published_by=by,
            published=time.time(),
            content=orjson.dumps(table).decode(),
        )
    )
    return True


def record_body(kind: str, table: sa.Table, row: Any) -> dict[str, Any]:
    return {"type": kind, "record": row_of(table, row)}
