"""The federation as a running service: this instance's inbox and its sender.

Kinds of message are applied by handlers that subsystems register (``Federation.handle``);
the federation itself applies ``federation.status``: a child's report of its version,
backlog and indicators (named counts subsystems contribute, ``Federation.indicator``; its own
and its subtree's totals, ``reports``), kept on its peer row (a parent sees its children's
state and the sum over its subtree, ``Federation.aggregate``). The sender starts once
the instance has an identity (``indunet federation init``); before that the inbox refuses
every delivery (``federation_not_initialised``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from . import destinations, identity, outbox, reports
from .envelope import NAME, Envelope, Refused
from .identity import Identity
from .inbox import BodyRefused, Handler, Inbox, Receipt
from .indicators import Indicator, Indicators
from .tables import outbox as outbox_table
from .tables import peers, received

log = logging.getLogger(__name__)
STATUS_KIND = "federation.status"
PRUNE_S = 600.0
KEEP_S = 30 * 86_400.0
"""How long acknowledged messages and the record of applied ones are kept."""
STATUS_S = 60.0
"""How often a child reports its state to its parent (``INDUNET_FEDERATION_STATUS_S``)."""


class Federation:
    """This instance's federation: identity (if any), inbox, sender."""

    def __init__(self, engine: sa.Engine, version: str = "", status_s: float = STATUS_S) -> None:
        self.engine = engine
        self.version = version
        self.status_s = status_s
        self._status: asyncio.Task[None] | None = None
        self.handlers: dict[str, Handler] = {STATUS_KIND: _apply_status}
        self.me: Identity | None = None
        self.inbox: Inbox | None = None
        self.sender: outbox.Sender | None = None
        # the destination policy for peers' addresses (enrolment, deliveries)
        self.check_url: Callable[[str], None] = destinations.check
        self.indicators = Indicators()

    def indicator(self, group: str, fn: Indicator) -> None:
        """Report ``fn``'s counts (read in the reporting transaction: SQL aggregates) as
        ``<group>.<name>`` in every status report and the aggregate."""
        self.indicators.register(group, fn)

    def handle(self, kind: str, handler: Handler) -> None:
        """Apply messages of ``kind`` with ``handler`` (in the receiving transaction)."""
        self.handlers[kind] = handler
        if self.inbox is not None:
            self.inbox.handlers[kind] = handler

    def relay_up(self, kind: str, apply: Handler | None = None) -> None:
        """Messages of ``kind`` travel up the tree: from a child they are applied here by
        ``apply`` (if any: a local view, an aggregate) and passed on to this instance's
        parent in the same transaction, so each is relayed exactly once. The body gains
        ``origin`` (the instance it started at) and ``path`` (the instances it passed)."""

        def relay(conn: sa.Connection, env: Envelope) -> None:
            if apply is not None:
                apply(conn, env)
            parent = _parent(conn)
            if parent is not None:
                body = dict(env.body)
                relays = _level_of(conn, env.sender) != "enterprise"
                body["origin"] = origin_of(env) if relays else env.sender
                path = body.get("path") if relays else None
                body["path"] = [*(path if isinstance(path, list) else []), env.sender][-8:]
                try:
                    outbox.put(conn, parent, kind, body)
                except outbox.OutboxRefused as exc:  # not passed on: refused, the stream goes on
                    raise BodyRefused(str(exc), exc.reason) from None

        self.handle(kind, relay)

    def send_up(self, conn: sa.Connection, kind: str, body: dict[str, Any]) -> int:
        """Queue a message of an upward kind to the parent in ``conn``'s transaction (its
        number; 0 when this instance has no parent)."""
        parent = _parent(conn)
        if parent is None or self.me is None:
            return 0
        return outbox.put(conn, parent, kind, {**body, "origin": self.me.name, "path": []})

    def reload(self) -> Identity | None:
        """Read the identity again (after ``init``)."""
        self.me = identity.load(self.engine)
        if self.me is not None:
            self.inbox = Inbox(self.engine, self.me.name, self.handlers)
        return self.me

    def receive(self, messages: Any) -> Receipt:
        if self.inbox is None and self.reload() is None:
            raise Refused(
                "this instance has no federation identity yet", "federation_not_initialised"
            )
        assert self.inbox is not None
        return self.inbox.receive(messages)

    def report_status(self) -> int:
        """Queue a status report to the parent (if any); its number, or 0."""
        with self.engine.begin() as conn:
            parent = conn.execute(
                sa.select(peers.c.name).where(peers.c.role == "parent", peers.c.status == "active")
            ).scalar()
            if parent is None:
                return 0
            backlog = outbox.backlog(conn)
            report = reports.subtree(conn, self.indicators.collect(conn), time.time())
            return outbox.put(
                conn,
                parent,
                STATUS_KIND,
                {"version": self.version, "backlog": sum(backlog.values()), **report.body()},
            )

    def aggregate(
        self, q: str = "", offset: int = 0, limit: int | None = None, now: float | None = None
    ) -> dict[str, Any]:
        """This instance's indicators and its subtree's totals now, and a page of its active
        children (``q`` searches name and title) each with its last reported totals, when
        it reported, how old that is and whether it is stale."""
        now = time.time() if now is None else now
        stale_after = reports.STALE_INTERVALS * self.status_s
        me = self.me or identity.load(self.engine)
        with self.engine.connect() as conn:
            mine = reports.subtree(conn, self.indicators.collect(conn), now)
            rows, matched = reports.child_rows(conn, now, stale_after, q, offset, limit)
        return {
            "instance": None if me is None else me.name,
            "at": now,
            "oldest": mine.oldest,
            "stale_after_s": stale_after,
            "names": sorted(mine.totals),
            "own": mine.indicators,
            "totals": mine.totals,
            "children": rows,
            "children_matched": matched,
        }

    async def start(self) -> None:
        if await asyncio.to_thread(self.reload) is None:
            log.info("no federation identity: not sending (indunet federation init)")
            return
        assert self.me is not None
        self.sender = outbox.Sender(
            self.engine, self.me.name, self.me.key, check_url=self.check_url
        )
        await self.sender.start()
        self._status = asyncio.create_task(self._report_loop(), name="federation-status")

    async def stop(self) -> None:
        if self._status is not None:
            self._status.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._status
            self._status = None
        if self.sender is not None:
            await self.sender.stop()
            await self.sender.client.aclose()
            self.sender = None

    async def _report_loop(self) -> None:
        """A status report to the parent every ``status_s`` (the first at start); the
        records of what was delivered and applied pruned every ``PRUNE_S``."""
        pruned = 0.0
        while True:
            try:
                await asyncio.to_thread(self.report_status)
                if time.monotonic() - pruned >= PRUNE_S:
                    pruned = time.monotonic()
                    await asyncio.to_thread(self.prune)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("federation upkeep (status report, pruning) failed")
            await asyncio.sleep(self.status_s)

    def prune(self, now: float | None = None) -> tuple[int, int]:
        """Forget acknowledged messages and the record of applied ones after ``KEEP_S``
        (an applied message is known by its sender's number, not by this record); how
        many of each."""
        cutoff = (time.time() if now is None else now) - KEEP_S
        with self.engine.begin() as conn:
            sent = conn.execute(
                outbox_table.delete().where(
                    outbox_table.c.acked.is_(True), outbox_table.c.ts < cutoff
                )
            ).rowcount
            got = conn.execute(received.delete().where(received.c.applied < cutoff)).rowcount
        return int(sent), int(got)

    def children_page(self, q: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """A page of the children (a search over name and title) and how many match, each
        with its backlog and its oldest message waiting."""
        where = [peers.c.role == "child", *reports.search(q)]
        with self.engine.connect() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(peers).where(*where)
            ).scalar()
            rows = conn.execute(
                sa.select(peers).where(*where).order_by(peers.c.name).offset(offset).limit(limit)
            ).all()
            names = [r.name for r in rows]
            waiting = {
                r[0]: (int(r[1]), r[2])
                for r in conn.execute(
                    sa.select(
                        outbox_table.c.recipient, sa.func.count(), sa.func.min(outbox_table.c.ts)
                    )
                    .where(outbox_table.c.acked.is_(False), outbox_table.c.recipient.in_(names))
                    .group_by(outbox_table.c.recipient)
                )
            }
        out = [
            {
                "name": r.name,
                "level": r.level,
                "title": r.title,
                "url": r.url,
                "status": r.status,
                "enrolled": r.enrolled,
                "last_contact": r.last_contact,
                "version": r.version,
                "backlog": waiting.get(r.name, (0, None))[0],
                "oldest_pending": waiting.get(r.name, (0, None))[1],
            }
            for r in rows
        ]
        return out, int(total or 0)

    def overview(self) -> dict[str, Any]:
        """Identity, peers and backlog, for the API and the console."""
        me = self.me or identity.load(self.engine)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(peers).order_by(peers.c.role, peers.c.name)).all()
            pending = outbox.backlog(conn)
            oldest = dict(
                conn.execute(
                    sa.select(outbox_table.c.recipient, sa.func.min(outbox_table.c.ts))
                    .where(outbox_table.c.acked.is_(False))
                    .group_by(outbox_table.c.recipient)
                ).all()
            )
        return {
            "identity": None
            if me is None
            else {
                "name": me.name,
                "level": me.level,
                "title": me.title,
                "url": me.url,
                "algorithm": me.key.algorithm,
                "key": me.public.text(),
                "handle": identity.handle_of(me.name),
            },
            "peers": [
                {
                    "name": r.name,
                    "role": r.role,
                    "level": r.level,
                    "title": r.title,
                    "url": r.url,
                    "status": r.status,
                    "algorithm": r.algorithm,
                    "enrolled": r.enrolled,
                    "last_contact": r.last_contact,
                    "version": r.version,
                    "backlog": pending.get(r.name, 0),
                    "oldest_pending": oldest.get(r.name),
                }
                for r in rows
            ],
        }


# Built once: a relay asks both for every message it passes on.
_PARENT = sa.select(peers.c.name).where(peers.c.role == "parent", peers.c.status == "active")
_LEVEL = sa.select(peers.c.level).where(peers.c.name == sa.bindparam("name"))


def _parent(conn: sa.Connection) -> str | None:
    name = conn.execute(_PARENT).scalar()
    return None if name is None else str(name)


def _level_of(conn: sa.Connection, name: str) -> str | None:
    level = conn.execute(_LEVEL, {"name": name}).scalar()
    return None if level is None else str(level)


def origin_of(env: Envelope) -> str:
    """Where a relayed message started, as a relaying child (a city, a province) says; an
    enterprise has no children, so what it sends starts at it whatever its body claims.
    (The origin's own signature does not travel up: a parent trusts its children for what
    they relay.)"""
    origin = env.body.get("origin")
    path = env.body.get("path")
    if isinstance(origin, str) and NAME.match(origin) and isinstance(path, list) and path:
        return origin
    return env.sender


def _apply_status(conn: sa.Connection, env: Envelope) -> None:
    version = env.body.get("version")
    if not isinstance(version, str) or len(version) > 40:
        raise BodyRefused(
            "a status report names a version (at most 40 characters)", "federation_status"
        )
    report = reports.checked(env.body, time.time())  # checked whole before anything changes
    conn.execute(peers.update().where(peers.c.name == env.sender).values(version=version))
    if report is not None:
        reports.store(conn, env.sender, report)


def from_state(state: Any) -> Federation:
    """The descriptor's service factory."""
    from indunet import __version__

    raw = os.environ.get("INDUNET_FEDERATION_STATUS_S", "")
    try:
        status_s = float(raw) if raw else STATUS_S
    except ValueError:
        raise ValueError(
            f"INDUNET_FEDERATION_STATUS_S={raw!r} is not a number of seconds"
        ) from None
    if not 0.01 <= status_s <= 86_400:
        raise ValueError("INDUNET_FEDERATION_STATUS_S is from 0.01 to 86,400 seconds")
    return Federation(state.engine, version=__version__, status_s=status_s)


def metric_lines(state: Any) -> list[str]:
    """Prometheus lines: messages applied, resends, refusals by reason, the backlog per peer."""
    svc = state.services.get("federation")
    if not isinstance(svc, Federation):
        return []
    lines = [
        "# HELP indunet_federation_received_total Messages from peers by what became of them.",
        "# TYPE indunet_federation_received_total counter",
    ]
    if svc.inbox is not None:
        s = svc.inbox.stats
        lines += [
            f'indunet_federation_received_total{{result="applied"}} {s.applied}',
            f'indunet_federation_received_total{{result="duplicate"}} {s.duplicates}',
            f'indunet_federation_received_total{{result="body_refused"}} {s.bodies_refused}',
        ]
        lines += [
            f'indunet_federation_received_total{{result="refused",reason="{r}"}} {n}'
            for r, n in sorted(s.refused.items())
        ]
    with svc.engine.connect() as conn:
        pending = outbox.backlog(conn)
    lines += [
        "# HELP indunet_federation_backlog Messages not yet acknowledged, per peer.",
        "# TYPE indunet_federation_backlog gauge",
        *(f'indunet_federation_backlog{{peer="{p}"}} {n}' for p, n in sorted(pending.items())),
    ]
    return lines
