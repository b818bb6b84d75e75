"""The regulation subsystem as a running service: its federation handlers, and the upkeep
loop that escalates late notices and sends hosted enterprises' changed product lists up.

Every public method is one transaction (callers run them off the event loop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from indunet.core import access, audit
from indunet.core.enterprises import get_enterprise_by_id
from indunet.core.errors import Conflict, NotFound, PermissionDenied
from indunet.core.users import User
from indunet.federation import Federation, tree

from . import evidence, grading, notices, registry, replicate, rules
from .replicate import Handlers, Link
from .tables import editions
from .tables import enterprises as reg_enterprises

log = logging.getLogger(__name__)
CHECK_S = 60.0
"""How often late notices are looked for (``INDUNET_REGULATION_CHECK_S``)."""
PRODUCTS_S = 600.0
"""How often hosted enterprises' inventories are compared with the products sent up."""
Products = Callable[[int], list[tuple[str, str]]]


class Regulation:
    """Grading and notices at this instance, linked to the federation when it runs."""

    def __init__(
        self,
        engine: sa.Engine,
        fed: Federation | None = None,
        products: Products | None = None,
        check_s: float = CHECK_S,
    ) -> None:
        self.engine = engine
        self.link = Link(fed)
        self.products = products
        self.check_s = check_s
        self.escalated = 0
        self._products_at = -PRODUCTS_S
        self._task: asyncio.Task[None] | None = None
        if fed is not None:
            Handlers(self.link).register(fed)

    # -- running ------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="regulation-upkeep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.upkeep)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("regulation upkeep (escalation, products) failed")
            await asyncio.sleep(self.check_s)

    def upkeep(self, now: float | None = None) -> int:
        """Escalate late notices (and refresh hosted enterprises' products); how many were
        escalated."""
        with self.engine.begin() as conn:
            n = notices.escalate_due(conn, self.link, now)
        self.escalated += n
        mono = time.monotonic()
        if self.products is not None and mono - self._products_at >= PRODUCTS_S:
            self._products_at = mono
            self.refresh_products()
        return n

    def refresh_products(self) -> int:
        """Send up the product lists of hosted enterprises whose inventory changed."""
        assert self.products is not None
        changed = 0
        with self.engine.begin() as conn:
            hosted = (
                conn.execute(
                    sa.select(reg_enterprises).where(reg_enterprises.c.tenant_id.is_not(None))
                )
                .mappings()
                .all()
            )
            for ent in hosted:
                items = registry.product_pairs(
                    [list(p) for p in self.products(ent["tenant_id"])][: registry.MAX_PRODUCTS]
                )
                if items != registry.products_of(conn, ent["uscc"]):
                    row = registry.upsert(
                        conn, _fields(ent), tenant_id=ent["tenant_id"], items=items
                    )
                    self.link.profile(conn, registry.as_message(row, items))
                    changed += 1
        return changed

    # -- who acts on what -----------------------------------------------------------------

    def _enterprise_for_change(
        self, conn: sa.Connection, user: User, uscc: str, what: str, users_too: bool = False
    ) -> dict[str, Any]:
        """An enterprise hosted here whose things ``user`` may change."""
        ent = self._visible(conn, user, uscc)
        if ent["tenant_id"] is None:
            raise Conflict(
                f"enterprise {uscc} is managed at its own instance, {ent['instance']}",
                reason="regulation_remote",
                params={"instance": ent["instance"] or ""},
            )
        access.check_change(user, ent["tenant_id"], what, users_too=users_too)
        return ent

    def _visible(self, conn: sa.Connection, user: User, uscc: str) -> dict[str, Any]:
        ent = registry.get(conn, uscc)
        access.check_see(user, ent["tenant_id"], f"enterprise {uscc}")
        return ent

    def _regulator(self, conn: sa.Connection, user: User, what: str) -> None:
        access.check_regulate(user, what)
        me = tree.me(conn)
        if me is not None and me[1] == "enterprise":
            raise PermissionDenied(
                f"an enterprise's instance does not {what}; its authority's instance does",
                reason="regulation_not_authority",
            )

    # -- enterprises ----------------------------------------------------------------------

    def set_profile(self, user: User, enterprise_id: int, etype: str) -> dict[str, Any]:
        """Put a hosted enterprise (a tenant) under supervision with its type."""
        with self.engine.begin() as conn:
            access.check_change(user, enterprise_id, f"enterprise {enterprise_id}")
            try:
                e = get_enterprise_by_id(conn, enterprise_id)
            except NotFound:
                raise NotFound(f"no enterprise {enterprise_id}") from None
            fields = registry.profile_fields(
                {
                    "uscc": e.uscc,
                    "name": e.name,
                    "etype": etype,
                    "region": e.region if registry.REGION.match(e.region or "") else "",
                    "industry": e.industry_code
                    if registry.INDUSTRY.match((e.industry_code or "").upper())
                    else "",
                }
            )
            before = (
                conn.execute(
                    sa.select(reg_enterprises).where(reg_enterprises.c.uscc == fields["uscc"])
                )
                .mappings()
                .first()
            )
            if before is not None and before["tenant_id"] != enterprise_id:
                raise Conflict(
                    f"enterprise {e.uscc} is supervised through "
                    f"{before['instance'] or 'another tenant'}",
                    reason="regulation_remote",
                    params={"instance": before["instance"] or ""},
                )
            items = (
                registry.product_pairs(
                    [list(p) for p in self.products(enterprise_id)][: registry.MAX_PRODUCTS]
                )
                if self.products is not None
                else None
            )
            row = registry.upsert(conn, fields, tenant_id=enterprise_id, items=items)
            audit.record(
                conn,
                f"user:{user.username}",
                "regulation.profile",
                f"enterprise {e.uscc}",
                {"before": None if before is None else before.get("etype"), "after": etype},
                enterprise_id=enterprise_id,
            )
            self.link.profile(conn, registry.as_message(row, items))
            return row

    def enterprise(self, user: User, uscc: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            ent = self._visible(conn, user, uscc)
            g = grading.latest(conn, uscc)
            obs, _ = grading.obligations_page(
                conn, grading.obligation_filters(uscc=uscc, open_only=True), 0, 200
            )
            return {
                "enterprise": ent,
                "grading": g,
                "obligations": obs,
                "products": registry.products_of(conn, uscc)[:50],
            }

    def enterprises(
        self, user: User, offset: int, limit: int, **filters: Any
    ) -> tuple[list[dict[str, Any]], int]:
        tenant = access.scope(user)
        with self.engine.connect() as conn:
            where = registry.filters(**filters, tenant_id=tenant)
            return registry.page(conn, where, offset, limit)

    def obligations(
        self, user: User, offset: int, limit: int, **filters: Any
    ) -> tuple[list[dict[str, Any]], int]:
        """Obligations of the enterprises ``user`` sees (naming another's: 404)."""
        if filters.get("uscc"):
            self.check_visible(user, filters["uscc"])
        tenant = access.scope(user)
        mine = None
        if tenant is not None:
            mine = sa.select(reg_enterprises.c.uscc).where(reg_enterprises.c.tenant_id == tenant)
        with self.engine.connect() as conn:
            where = grading.obligation_filters(**filters, uscc_in=mine)
            return grading.obligations_page(conn, where, offset, limit)

    def check_visible(self, user: User, uscc: str) -> None:
        """404 unless ``user`` sees enterprise ``uscc``."""
        with self.engine.connect() as conn:
            self._visible(conn, user, uscc[:18])

    def mine(self, user: User) -> dict[str, Any] | None:
        """The user's own enterprise under supervision (None: no profile yet)."""
        if user.enterprise_id is None:
            return None
        with self.engine.connect() as conn:
            return registry.of_tenant(conn, user.enterprise_id)

    # -- rules ----------------------------------------------------------------------------

    def rules(self, name: str | None = None) -> dict[str, Any]:
        with self.engine.begin() as conn:
            return grading.current_edition(conn) if name is None else grading.edition(conn, name)

    def editions(self) -> list[dict[str, Any]]:
        with self.engine.begin() as conn:
            grading.current_edition(conn)
            return [
                dict(r)
                for r in conn.execute(
                    sa.select(
                        editions.c.edition,
                        editions.c.title,
                        editions.c.published_by,
                        editions.c.published,
                    ).order_by(editions.c.published.desc())
                ).mappings()
            ]

    def publish(self, user: User, table: Any) -> dict[str, Any]:
        """Publish a rule edition here and to every instance below."""
        checked = rules.check(table)
        with self.engine.begin() as conn:
            self._regulator(conn, user, "publish rule tables")
            me = tree.me(conn)
            if me is not None and me[1] not in ("national", "province", "subcentre"):
                raise PermissionDenied(
                    "rule tables are published by a national or provincial instance",
                    reason="regulation_not_authority",
                )
            grading.current_edition(conn)
            if not replicate.store_edition(conn, checked, me[0] if me else "local"):
                raise Conflict(
                    f"edition {checked['edition']} exists", reason="regulation_edition_exists"
                )
            audit.record(
                conn,
                f"user:{user.username}",
                "regulation.edition",
                f"edition {checked['edition']}",
                {"title": checked["title"]},
                enterprise_id=None,
            )
            self.link.edition(conn, checked, came_from=None)
        return {"edition": checked["edition"]}

    # -- grading --------------------------------------------------------------------------

    def start_grading(
        self, user: User, uscc: str, answers: Any, files: Any, note: Any
    ) -> dict[str, Any]:
        with self.engine.begin() as conn:
            ent = self._enterprise_for_change(conn, user, uscc, "fill in a self-assessment")
            return grading.start(
                conn, self.link, ent, f"user:{user.username}", answers, files, note
            )

    def update_grading(
        self, user: User, uid: str, answers: Any, files: Any, note: Any
    ) -> dict[str, Any]:
        with self.engine.begin() as conn:
            g = self._grading_visible(conn, user, uid)
            ent = self._enterprise_for_change(conn, user, g["uscc"], "change a self-assessment")
            return grading.update(
                conn, self.link, ent, uid, f"user:{user.username}", answers, files, note
            )

    def submit_grading(self, user: User, uid: str) -> dict[str, Any]:
        with self.engine.begin() as conn:
            g = self._grading_visible(conn, user, uid)
            ent = self._enterprise_for_change(conn, user, g["uscc"], "submit a self-assessment")
            return grading.submit(conn, self.link, ent, uid, f"user:{user.username}")

    def review_grading(
        self, user: User, uid: str, decision: str, comment: Any, level: int | None
    ) -> dict[str, Any]:
        with self.engine.begin() as conn:
            g = self._grading_visible(conn, user, uid)
            self._regulator(conn, user, "review gradings")
            ent = registry.get(conn, g["uscc"])
            return grading.review(
                conn, self.link, ent, uid, f"user:{user.username}", decision, comment, level
            )

    def _grading_visible(self, conn: sa.Connection, user: User, uid: str) -> dict[str, Any]:
        g = grading.get(conn, uid)
        try:
            self._visible(conn, user, g["uscc"])
        except NotFound:
            raise NotFound(f"no grading {uid[:32]}", reason="regulation_grading_unknown") from None
        return g

    def grading(self, user: User, uid: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return self._grading_visible(conn, user, uid)

    def complete(
        self, user: User, uid: str, note: Any, files: Any, findings: Any
    ) -> dict[str, Any]:
        with self.engine.begin() as conn:
            ob = grading.obligation(conn, uid)
            try:
                self._visible(conn, user, ob["uscc"])
            except NotFound:
                raise NotFound(
                    f"no obligation {uid[:32]}", reason="regulation_obligation_unknown"
                ) from None
            ent = self._enterprise_for_change(conn, user, ob["uscc"], "complete obligations")
            return grading.complete(
                conn, self.link, ent, uid, f"user:{user.username}", note, files, findings
            )

    # -- evidence -------------------------------------------------------------------------

    def upload(self, user: User, uscc: str, name: str, data: bytes) -> dict[str, Any]:
        with self.engine.begin() as conn:
            ent = self._enterprise_for_change(conn, user, uscc, "upload evidence")
            return evidence.upload(conn, self.link, ent, f"user:{user.username}", name, data)

    def evidence(self, user: User, sha: str) -> tuple[dict[str, Any], bytes | None]:
        with self.engine.connect() as conn:
            meta = evidence.info(conn, sha)
            try:
                self._visible(conn, user, meta["uscc"])
            except NotFound:
                raise NotFound(
                    f"no evidence file {sha[:64]}",
                    reason="regulation_evidence_unknown",
                    params={"sha256": sha[:64]},
                ) from None
            return meta, evidence.content(conn, sha)

    # -- notices --------------------------------------------------------------------------

    def issue(self, user: User, fields: dict[str, Any], selection: Any) -> dict[str, Any]:
        with self.engine.begin() as conn:
            self._regulator(conn, user, "issue notices")
            return notices.issue(conn, self.link, f"user:{user.username}", fields, selection)

    def notice(self, user: User, uid: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            n = notices.get(conn, uid)
            if not access.sees_all(user):
                mine = self.mine(user)
                if mine is None:
                    raise NotFound(f"no notice {uid[:32]}", reason="regulation_notice_unknown")
                notices.recipient(conn, uid, mine["uscc"])  # 404 unless sent to it
            return n

    def act(
        self,
        user: User,
        uid: str,
        uscc: str,
        action: str,
        text: Any = "",
        files: Any = None,
        decision: str = "",
    ) -> dict[str, Any]:
        """Sign, report (the enterprise) or verify (the issuer) one recipient's disposal."""
        with self.engine.begin() as conn:
            actor = f"user:{user.username}"
            if action == "verify":
                ent = self._visible(conn, user, uscc)  # another's: 404 before 403
                self._regulator(conn, user, "verify disposals")
                return notices.verify(conn, self.link, ent, uid, actor, decision, text)
            ent = self._enterprise_for_change(
                conn, user, uscc, "dispose of notices", users_too=True
            )
            if action == "sign":
                return notices.sign(conn, self.link, ent, uid, actor)
            return notices.report(conn, self.link, ent, uid, actor, text, files)


def _fields(ent: Any) -> dict[str, Any]:
    return {k: ent[k] for k in ("uscc", "name", "etype", "region", "industry")}


def from_state(state: Any) -> Regulation:
    """The descriptor's service factory (after the federation and security services)."""
    raw = os.environ.get("INDUNET_REGULATION_CHECK_S", "")
    try:
        check_s = float(raw) if raw else CHECK_S
    except ValueError:
        raise ValueError(f"INDUNET_REGULATION_CHECK_S={raw!r} is not seconds") from None
    if not 0.05 <= check_s <= 86_400:
        raise ValueError("INDUNET_REGULATION_CHECK_S is from 0.05 to 86,400 seconds")
    fed = state.services.get("federation")
    products: Products | None = None
    if state.services.get("security") is not None:
        from indunet.security.assets.store import Assets

        store = Assets(state.engine)

        def products(tenant: int) -> list[tuple[str, str]]:
            return sorted(
                {(a.vendor or "-", a.product or "-") for a in store.list_for_matching(tenant)}
            )[: registry.MAX_PRODUCTS]

    return Regulation(state.engine, fed if isinstance(fed, Federation) else None, products, check_s)


def metric_lines(state: Any) -> list[str]:
    svc = state.services.get("regulation")
    if not isinstance(svc, Regulation):
        return []
    now = time.time()
    from .views import overview

    with svc.engine.connect() as conn:
        o = overview(conn, now)
    return [
        "# HELP indunet_regulation_enterprises Enterprises under this instance's supervision.",
        "# TYPE indunet_regulation_enterprises gauge",
        f"indunet_regulation_enterprises {o['enterprises']}",
        "# HELP indunet_regulation_overdue Overdue obligations and notices.",
        "# TYPE indunet_regulation_overdue gauge",
        f'indunet_regulation_overdue{{what="obligation"}} {o["overdue_obligations"]}',
        f'indunet_regulation_overdue{{what="notice"}} {o["overdue_notices"]}',
        "# HELP indunet_regulation_escalated_total Notices escalated by this process.",
        "# TYPE indunet_regulation_escalated_total counter",
        f"indunet_regulation_escalated_total {svc.escalated}",
    ]
