"""Alert summaries that travel up the tree (kind ``security.alert``), and the parent's read-only
view of them.

An instance's security subsystem queues a summary of each alert it stores, in the same
transaction (``Federation.send_up``; the web layer wires the alert store's hook to it). A
parent applies each summary it receives (``apply``: the body checked, a row kept in
``fed_alerts`` with its origin, its path and when it arrived) and relays it to its own parent
(``Federation.relay_up``). A body that is not a summary is refused (``BodyRefused``,
``federation_alert``): recorded and counted by the inbox, neither kept nor relayed.

Bounded: at most ``LIMITS.per_origin`` rows per origin (the oldest go first) and none older
than ``LIMITS.keep_s``; pruned in the applying transaction every ``LIMITS.prune_every`` rows.
"""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from indunet.core.paged import contains

from .envelope import NAME, Envelope
from .inbox import BodyRefused
from .service import origin_of
from .tables import alerts, peers

KIND = "security.alert"
"""The message kind of an alert summary."""
REASON = "federation_alert"
"""Why a body that is not an alert summary is refused."""
_ALERT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,32}$")
_MAX_TS = 4_102_444_800  # 2100-01-01


@dataclass(frozen=True, slots=True)
class AlertLimits:
    """How much of the relayed alerts a parent keeps."""

    per_origin: int = 10_000
    """Rows kept per origin instance (the oldest pruned first)."""
    keep_s: float = 30 * 86_400.0
    """Rows older than this (by arrival) are pruned."""
    prune_every: int = 256
    """Prune when a row's number is a multiple of this (amortised, in the applying
    transaction)."""
    techniques: int = 8
    """ATT&CK technique ids a summary carries, at most."""


LIMITS = AlertLimits()
# built once: ``apply`` runs for every summary a parent receives
_PEER = sa.select(peers.c.role, peers.c.level).where(peers.c.name == sa.bindparam("name"))
_KEEP = alerts.insert()


def _text(body: dict[str, Any], key: str, most: int, *, empty: bool = False) -> str:
    value = body.get(key)
    if not isinstance(value, str) or len(value) > most or (not empty and not value):
        raise BodyRefused(f"an alert summary's {key} is a text of at most {most}", REASON)
    return value


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BodyRefused(f"an alert summary's {key} is a number from {low} to {high}", REASON)
    return float(value)


def _whole(body: dict[str, Any], key: str, low: int, high: int) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BodyRefused(
            f"an alert summary's {key} is a whole number from {low} to {high:,}", REASON
        )
    return value


def _address(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value if isinstance(value, str) else ""))
    except ValueError:
        raise BodyRefused(f"an alert summary's {key} is an IP address or null", REASON) from None


def summary_of(body: dict[str, Any], limits: AlertLimits = LIMITS) -> dict[str, Any]:
    """The checked columns of an alert summary's body (``BodyRefused`` naming what is
    wrong). Fields a newer sender adds are ignored."""
    alert = _text(body, "alert", 32)
    if not _ALERT_ID.match(alert):
        raise BodyRefused("an alert summary's alert is an alert id", REASON)
    techniques = body.get("techniques", [])
    if (
        not isinstance(techniques, list)
        or len(techniques) > limits.techniques
        or not all(isinstance(t, str) and 0 < len(t) <= 16 for t in techniques)
    ):
        raise BodyRefused(
            f"an alert summary's techniques are at most {limits.techniques} ATT&CK ids", REASON
        )
    first = _number(body, "first_seen", 0, _MAX_TS)
    last = _number(body, "last_seen", first, _MAX_TS)
    return {
        "alert": alert,
        "rule": _text(body, "rule", 100),
        "title": _text(body, "title", 300, empty=True),
        "level": _whole(body, "level", 0, 15),
        "techniques": orjson.dumps(techniques).decode(),
        "src_ip": _address(body, "src_ip"),
        "dst_ip": _address(body, "dst_ip"),
        "first_seen": first,
        "last_seen": last,
        "count": _whole(body, "count", 1, 2**31 - 1),
    }


def apply(conn: sa.Connection, env: Envelope, limits: AlertLimits = LIMITS) -> None:
    """Keep a child's alert summary (the handler given to ``relay_up``); a summary from
    anyone but a child (the parent sending one down) is refused, so none travels back up."""
    peer = conn.execute(_PEER, {"name": env.sender}).first()
    if peer is None or peer.role != "child":
        raise BodyRefused("alert summaries travel up: from a child only", REASON)
    row = summary_of(env.body, limits)
    relays = peer.level != "enterprise"  # an enterprise has no children: it is the origin
    path = env.body.get("path") if relays else None
    hops = (
        [p for p in path if isinstance(p, str) and NAME.match(p)] if isinstance(path, list) else []
    )
    now = time.time()
    row |= {
        "origin": origin_of(env) if relays else env.sender,
        "path": orjson.dumps([*hops, env.sender][-8:]).decode(),
        "sender": env.sender,
        "received": now,
    }
    no = conn.execute(_KEEP, row).inserted_primary_key
    if no and int(no[0]) % limits.prune_every == 0:
        prune(conn, now, limits)


def prune(conn: sa.Connection, now: float | None = None, limits: AlertLimits = LIMITS) -> int:
    """Drop rows past ``limits.keep_s`` and past ``limits.per_origin`` per origin; how many."""
    cutoff = (time.time() if now is None else now) - limits.keep_s
    gone = conn.execute(alerts.delete().where(alerts.c.received < cutoff)).rowcount
    for origin in conn.execute(sa.select(alerts.c.origin).distinct()).scalars().all():
        last_dropped = conn.execute(
            sa.select(alerts.c.no)
            .where(alerts.c.origin == origin)
            .order_by(alerts.c.no.desc())
            .offset(limits.per_origin)
            .limit(1)
        ).scalar()
        if last_dropped is not None:
            gone += conn.execute(
                alerts.delete().where(alerts.c.origin == origin, alerts.c.no <= last_dropped)
            ).rowcount
    return int(gone)


def page(
    engine: sa.Engine, q: str = "", origin: str = "", offset: int = 0, limit: int = 20
) -> tuple[list[dict[str, Any]], int]:
    """A page of the kept summaries, newest first: a search over rule, title, alert id,
    addresses and origin, an origin filter; and how many match."""
    where = []
    if q:
        columns = (alerts.c.rule, alerts.c.title, alerts.c.alert, alerts.c.origin,
                   alerts.c.src_ip, alerts.c.dst_ip, alerts.c.techniques)  # fmt: skip
        where.append(sa.or_(*(contains(c, q) for c in columns)))
    if origin:
        where.append(alerts.c.origin == origin)
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(alerts).where(*where)).scalar()
        rows = conn.execute(
            sa.select(alerts).where(*where).order_by(alerts.c.no.desc()).offset(offset).limit(limit)
        ).all()
    now = time.time()
    return [
        {
            "origin": r.origin,
            "path": orjson.loads(r.path),
            "alert": r.alert,
            "rule": r.rule,
            "title": r.title,
            "level": r.level,
            "techniques": orjson.loads(r.techniques),
            "src_ip": r.src_ip,
            "dst_ip": r.dst_ip,
            "first_seen": r.first_seen,
            "last_seen": r.last_seen,
            "count": r.count,
            "received": r.received,
            "age_s": round(max(0.0, now - r.received), 1),
        }
        for r in rows
    ], int(total or 0)
