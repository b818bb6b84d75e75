"""A node of the identifier hierarchy: root, top-level, secondary, enterprise or recursive.

Every role runs this same code. A node holds one prefix (the root holds ``""``, a recursive
node none). It answers for handles under its prefix from its store, refers handles whose
prefix it has delegated (``0.NA/<child>`` records with HS_SITE values) to the child's sites,
and says "not responsible" for the rest, unless it recurses, in which case its resolver
finds the answer.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from indunet.core import audit
from indunet.ids import changes, history, schemekeys, terms
from indunet.ids.admin import (
    ALL_RIGHTS,
    BAD_CREDENTIALS,
    DEFAULT_RIGHTS,
    CredentialChecker,
    Perm,
    Principal,
    authorize,
    check_delegation,
    check_platform_record,
    hash_seckeys,
    parse_identity,
)
from indunet.ids.answercache import AnswerCache, echo
from indunet.ids.answers import Answer, Referral
from indunet.ids.errors import (
    RC,
    AuthenticationFailed,
    HandleExists,
    HandleNotFound,
    InvalidHandle,
    NotResponsible,
    ValueExists,
    ValuesNotFound,
)
from indunet.ids.groups import Groups
from indunet.ids.listing import Listing, list_prefix
from indunet.ids.owners import prefix_owner
from indunet.ids.resolver import Resolver
from indunet.ids.sites import SitePolicy
from indunet.ids.stats import NodeStats
from indunet.ids.store import HandleStore, Listed, StoredRecord, decode_values
from indunet.ids.syntax import handle as hdl
from indunet.ids.syntax.scheme import HANDLE, Scheme, Target
from indunet.ids.templates import TemplateRegistry
from indunet.ids.values import (
    ADMIN_TYPE,
    GUARDED_TYPES,
    SITE_TYPE,
    HandleValue,
    now_timestamp,
    parse_values,
)


class NodeRole(StrEnum):
    """The roles of the hierarchy (根节点, 国家顶级节点, 二级节点, 企业节点, 递归节点)."""

    ROOT = "root"
    TOP_LEVEL = "top-level"
    SECONDARY = "secondary"
    ENTERPRISE = "enterprise"
    RECURSIVE = "recursive"
    #: A disaster-recovery copy of a primary node (灾备节点): answers, never writes.
    DR = "dr"


class _Local:
    pass


#: A check run inside a write's transaction on the record locked for it (see ``Node.put``).
Guard = Callable[[sa.Connection, StoredRecord | None], None]


LOCAL = _Local()


class Node:
    """One node: its prefix, its records, its delegations and (optionally) its resolver."""

    def __init__(
        self,
        name: str,
        role: NodeRole,
        prefix: str | None,
        engine: sa.Engine,
        templates: TemplateRegistry,
        *,
        resolver: Resolver | None = None,
        caches: Resolver | None = None,
        checker: CredentialChecker | None = None,
        policy: SitePolicy | None = None,
        scheme: Scheme[Any] = HANDLE,
        answers: AnswerCache | None = None,
        copy_of: str | None = None,
    ) -> None:
        self.name = name
        self.role = role
        self.scheme = scheme
        self.prefix = scheme.normalise_prefix(prefix) if prefix is not None else None
        self.engine = engine
        #: The primary's URL when this node is a disaster-recovery copy (read-only).
        self.copy_of = copy_of
        self.store = HandleStore(engine, name, copy_of=copy_of)
        self.templates = templates
        self.resolver = resolver  # answers recursively through it when asked to
        self.caches = caches or resolver  # whose cached answers this node's writes make stale
        self.checker = checker or CredentialChecker()
        self.policy = policy or SitePolicy()
        self.stats = NodeStats()
        #: The answers this node gave from its own records (dropped by every write).
        self.answers = answers or AnswerCache()
        self.delegations: dict[str, Referral] = {}
        self._revoked: frozenset[str] = frozenset()
        #: The end of each term-bound prefix's term (``ids.terms``; refreshed with revocations).
        self.terms: Mapping[str, datetime] = {}
        self.load_delegations()

    @property
    def revoked(self) -> frozenset[str]:
        """Prefixes revoked (refreshed by ``ids.prefixes.load_revoked``)."""
        return self._revoked

    @revoked.setter
    def revoked(self, prefixes: frozenset[str]) -> None:
        if prefixes != self._revoked:
            self._revoked = prefixes
            self.answers.clear()  # cached answers under a newly revoked prefix must go

    def load_delegations(self) -> None:
        """Read the HS_SITE delegations of every prefix handle this node holds."""
        self.delegations.clear()
        for rec in self.store.prefix_handles():
            self._note_prefix_record(rec.handle, rec.values)

    def _note_prefix_record(self, handle: str, values: list[HandleValue] | None) -> None:
        child = hdl.normalise_prefix(handle.partition("/")[2])
        ref = Referral.from_values(child, values) if values else None
        if ref is None or child == self.prefix:
            self.delegations.pop(child, None)
        else:
            self.delegations[child] = ref

    # -- reading -------------------------------------------------------------------------
    def route(self, h: hdl.Handle) -> _Local | Referral | None:
        """``LOCAL`` if this node holds ``h``, the delegation to follow, or ``None``."""
        return self.route_prefix(h.routing_prefix)

    def route_prefix(self, r: str) -> _Local | Referral | None:
        """Where an identifier with routing prefix ``r`` is held (see ``route``)."""
        p = r
        under, parent = self.scheme.is_under, self.scheme.parent
        while p and p != self.prefix:
            if self.prefix is not None and not under(p, self.prefix):
                break
            ref = self.delegations.get(p)
            if ref is not None:
                return ref
            p = parent(p)
        if self.prefix is not None and under(r, self.prefix):
            return LOCAL
        return None

    async def resolve(self, text: str, *, recurse: bool = False, fresh: bool = False) -> Answer:
        """Answer for ``text``: authoritatively, by referral, or (``recurse``) by resolving."""
        t0 = time.perf_counter()
        try:
            answer = await self._resolve(text, recurse, fresh)
        finally:
            self.stats.resolved(time.perf_counter() - t0)
        return answer

    async def _resolve(self, text: str, recurse: bool, fresh: bool) -> Answer:
        try:
            t = self.scheme.target(text)
        except InvalidHandle as exc:
            return Answer(RC.INVALID_HANDLE, text, message=exc.message)
        route = self.route_prefix(t.routing)
        if route is None and self.prefix and t.key == hdl.prefix_handle_key(self.prefix):
            # the prefix identity this node holds a copy of (ids.enrolment), as its clients
            # (pyhandle) read it; the parent stays the authority for its delegation
            route = LOCAL if await self.store.aget(t.key) is not None else None
        if route is LOCAL:
            if self.revoked and any(self.scheme.is_under(t.routing, p) for p in self.revoked):
                return Answer(
                    RC.HANDLE_NOT_FOUND,
                    t.text,
                    message=f"prefix {t.routing} is revoked",
                    reason="prefix_revoked",
                    params={"prefix": t.routing},
                )
            hit = None if fresh else self.answers.get(t.key)
            if hit is not None:
                self.stats.daily.resolved(t.routing)
                return Answer(RC.SUCCESS, hit[0].handle, hit[0].values)
            ticket = self.answers.ticket()
            rec = await self.store.aget(t.key)
            if rec is None:
                return self._not_found(t)
            self.stats.daily.resolved(t.routing)  # ids.daily: counted in memory, stored later
            answer = Answer(RC.SUCCESS, rec.handle, rec.values)
            self.answers.put(t.key, answer, t.routing, ticket)  # ``fresh``: refreshed here
            return Answer(RC.SUCCESS, rec.handle, rec.values)
        if recurse and self.resolver is not None:
            return await self.resolver.resolve(t.text, fresh=fresh)
        if isinstance(route, Referral):
            return Answer(RC.SERVICE_REFERRAL, t.text, referral=route)
        return Answer(
            RC.SERVER_NOT_RESPONSIBLE,
            t.text,
            message=f"node {self.name} does not serve prefix {t.routing or '(the root)'}",
            reason="node_not_serving",
            params={"node": self.name, "prefix": t.routing or "(root)"},
        )

    def cached_body(self, key: str, asked: str) -> bytes | None:
        """The hot path: the stored body of a cached answer for ``key`` with ``handle`` as
        ``asked``, counted as a resolution of its prefix; ``None`` when not cached."""
        hit = self.answers.get(key)
        if hit is None:
            return None
        answer, body, routing = hit
        self.stats.daily.resolved(routing)
        return echo(answer, body, asked)

    def _not_found(self, t: Target) -> Answer:
        if self.prefix == "" and t.routing:
            message = f"prefix {t.routing} is not delegated by the root"
            params = {"prefix": t.routing}
            return Answer(
                RC.HANDLE_NOT_FOUND,
                t.text,
                message=message,
                reason="prefix_not_found",
                params=params,
            )
        message = f"handle {t.text} is not registered"
        params = {"handle": t.text}
        return Answer(
            RC.HANDLE_NOT_FOUND,
            t.text,
            message=message,
            reason="handle_not_registered",
            params=params,
        )

    def authenticate(self, username: str, secret: str) -> Principal:
        """Check Handle Basic credentials (``index:handle`` and its HS_SECKEY secret)."""
        index, key = parse_identity(username)
        rec = self.store.get(key)
        self.checker.check(rec.values if rec else None, index, secret)
        if rec is None:  # check() has refused it already; this keeps the type checker sure
            raise AuthenticationFailed(BAD_CREDENTIALS)
        return Principal(actor=f"{index}:{rec.handle}", identity=(index, key))

    # -- writing -------------------------------------------------------------------------
    def _local(self, h: hdl.Handle) -> None:
        self.store.check_writable()  # a copy refuses before checking anything else
        route = self.route(h)
        if isinstance(route, Referral):
            sites = ", ".join(s.url for s in route.sites)
            raise NotResponsible(
                f"prefix {route.prefix} is delegated to {sites}; write there",
                reason="prefix_delegated",
                params={"prefix": route.prefix, "sites": sites},
            )
        if route is not LOCAL:
            raise NotResponsible(
                f"node {self.name} does not serve prefix {h.routing_prefix}",
                reason="node_not_responsible",
                params={"node": self.name, "prefix": h.routing_prefix},
            )

    def _template_prefix(self, h: hdl.Handle) -> str:
        return h.routing_prefix if h.is_prefix_handle else hdl.normalise_prefix(h.prefix)

    def mint(self, text: str) -> str:
        """A new handle under ``text`` (``prefix`` or ``prefix/base``) with a UUID suffix."""
        prefix, _, base = text.partition("/")
        hdl.validate_prefix(prefix)
        return hdl.format(prefix, f"{base}{uuid.uuid4()}")

    def put(
        self,
        text: str,
        raw_values: Any,
        principal: Principal,
        *,
        indices: Sequence[int] | None = None,
        overwrite: bool = True,
        guard: Guard | None = None,
    ) -> tuple[str, bool]:
        """Create or modify ``text``; return the handle and whether it was created.

        Without ``indices`` the record is created, or replaced when ``overwrite``; with
        ``indices`` only those values are added or replaced in an existing record. ``guard``
        sees the record as locked for the write (``None`` if absent) in the write's
        transaction and may refuse it by raising (``ids.active`` checks a device's key and
        records its nonce there).
        """
        h = hdl.parse(text)
        schemekeys.check_suffix(h.suffix)
        self._local(h)
        terms.check_writable(self.terms, h.routing_prefix)
        ts = now_timestamp()
        values = hash_seckeys(parse_values(raw_values, timestamp=ts))
        prefix_key = hdl.prefix_handle_key(h.routing_prefix)
        with self.engine.begin() as conn:
            existing = self.store.get_for_update(conn, h.key)
            if guard is not None:
                guard(conn, existing)
            prefix_rec = self.store.get_for_update(conn, prefix_key) if h.routing_prefix else None
            pvals = prefix_rec.values if prefix_rec else None
            groups = self._groups(conn, {h.key: existing, prefix_key: prefix_rec})
            check = _Checker(principal, h, pvals, groups)
            if indices:
                if existing is None:
                    raise _not_registered(h.text)
                final = self._merge(existing, values, set(indices), overwrite, check)
                action, created = "handle.modify", False
            elif existing is None:
                check(Perm.ADD_DERIVED_PREFIX if h.is_prefix_handle else Perm.ADD_HANDLE, None)
                final = (
                    values
                    if any(v.type == ADMIN_TYPE for v in values)
                    else [*values, default_admin(principal, h, values, ts)]
                )
                action, created = "handle.create", True
            else:
                if not overwrite:
                    raise HandleExists(
                        f"handle {h.text} already exists (overwrite=false)",
                        reason="handle_exists",
                        params={"handle": h.text},
                    )
                check(Perm.MODIFY_VALUE, existing.values)
                new_indices = {x.index for x in values}
                final = (
                    values
                    if any(v.type == ADMIN_TYPE for v in values)
                    else [
                        *values,
                        *(
                            v
                            for v in existing.values
                            if v.type == ADMIN_TYPE and v.index not in new_indices
                        ),
                    ]
                )
                if _admins(existing.values) != _admins(final):
                    check(Perm.MODIFY_ADMIN, existing.values)
                action, created = "handle.modify", False
            self._check_sites(principal, h, existing.values if existing else None, final, created)
            self.templates.validate(self._template_prefix(h), final)
            if created:
                self.store.insert(conn, h.key, h.text, hdl.normalise_prefix(h.prefix), final)
            else:
                self.store.replace(conn, h.key, final)
            history.record(
                conn,
                node=self.name,
                hkey=h.key,
                handle=existing.handle if existing else h.text,
                action=action,
                actor=principal.actor,
                before=existing.values if existing else None,
            )
            audit.record(
                conn,
                principal.actor,
                action,
                h.text,
                {"node": self.name, "indices": sorted(v.index for v in values)},
                enterprise_id=prefix_owner(conn, h.prefix),
            )
            changes.note(conn, self.name, [h.key])
        self._written(h, final)
        if created and not h.is_prefix_handle:
            self.stats.daily.registered(hdl.normalise_prefix(h.prefix))
        return (existing.handle if existing else h.text), created

    def _check_sites(
        self,
        principal: Principal,
        h: hdl.Handle,
        before: list[HandleValue] | None,
        after: list[HandleValue],
        created: bool,
    ) -> None:
        """Delegation changes need a prefix administrator, and new site URLs the policy."""
        check_platform_record(principal, h.suffix, h.text)
        old, new = _sites(before), _sites(after)
        if (created and h.is_prefix_handle) or old != new:
            check_delegation(principal, h.key, creating_prefix=created and h.is_prefix_handle)
        for url in sorted(new - old):
            self.policy.check_url(url)

    def _merge(
        self,
        existing: StoredRecord,
        values: list[HandleValue],
        indices: set[int],
        overwrite: bool,
        check: _Checker,
    ) -> list[HandleValue]:
        by_index = {v.index: v for v in existing.values}
        chosen = [v for v in values if v.index in indices]
        if not chosen:
            raise ValuesNotFound(
                f"the body has no value with index {sorted(indices)}",
                reason="values_not_in_body",
                params={"indices": ", ".join(map(str, sorted(indices)))},
            )
        for v in chosen:
            old = by_index.get(v.index)
            admin = _guarded(v, old, check)
            if old is not None:
                if not overwrite:
                    raise ValueExists(
                        f"handle {existing.handle} already has a value at index {v.index}",
                        reason="value_exists",
                        params={"handle": existing.handle, "index": v.index},
                    )
                check(Perm.MODIFY_ADMIN if admin else Perm.MODIFY_VALUE, existing.values)
            else:
                check(Perm.ADD_ADMIN if admin else Perm.ADD_VALUE, existing.values)
            by_index[v.index] = v
        return sorted(by_index.values(), key=lambda v: v.index)

    def delete(
        self, text: str, principal: Principal, *, indices: Sequence[int] | None = None
    ) -> str:
        """Delete ``text``, or only the values at ``indices``."""
        h = hdl.parse(text)
        self._local(h)
        terms.check_writable(self.terms, h.routing_prefix)
        prefix_key = hdl.prefix_handle_key(h.routing_prefix)
        with self.engine.begin() as conn:
            existing = self.store.get_for_update(conn, h.key)
            if existing is None:
                raise _not_registered(h.text)
            prefix_rec = self.store.get_for_update(conn, prefix_key) if h.routing_prefix else None
            groups = self._groups(conn, {h.key: existing, prefix_key: prefix_rec})
            check = _Checker(principal, h, prefix_rec.values if prefix_rec else None, groups)
            if not indices:
                check_platform_record(principal, h.suffix, h.text)
                check(
                    Perm.DELETE_DERIVED_PREFIX if h.is_prefix_handle else Perm.DELETE_HANDLE,
                    existing.values,
                )
                self.store.delete(conn, h.key)
                remaining: list[HandleValue] | None = None
                action = "handle.delete"
            else:
                # As Handle.Net: one index the record lacks refuses the whole request, so a
                # removal is all or nothing.
                missing = sorted(set(indices) - {v.index for v in existing.values})
                if missing:
                    raise ValuesNotFound(
                        f"handle {existing.handle} has no value at index {missing}; "
                        "nothing was removed",
                        reason="values_not_found",
                        params={
                            "handle": existing.handle,
                            "indices": ", ".join(map(str, missing)),
                        },
                    )
                gone = [v for v in existing.values if v.index in set(indices)]
                for v in gone:
                    check(
                        Perm.REMOVE_ADMIN if v.type in GUARDED_TYPES else Perm.REMOVE_VALUE,
                        existing.values,
                    )
                remaining = [v for v in existing.values if v.index not in set(indices)]
                self._check_sites(principal, h, existing.values, remaining, False)
                self.templates.validate(self._template_prefix(h), remaining)
                self.store.replace(conn, h.key, remaining)
                action = "handle.remove_values"
            history.record(
                conn,
                node=self.name,
                hkey=h.key,
                handle=existing.handle,
                action=action,
                actor=principal.actor,
                before=existing.values,
            )
            audit.record(
                conn,
                principal.actor,
                action,
                existing.handle,
                {"node": self.name, "indices": sorted(indices or [])},
                enterprise_id=prefix_owner(conn, h.prefix),
            )
            changes.note(conn, self.name, [h.key])
        self._written(h, remaining)
        return existing.handle

    def _groups(self, conn: sa.Connection, known: dict[str, StoredRecord | None]) -> Groups:
        """Admin groups read in a write's transaction: the records it has locked as read, the
        others read (unlocked) on its connection, a level of the walk per query."""

        def read(keys: Sequence[str]) -> dict[str, list[HandleValue]]:
            return {k: decode_values(r) for k, r in self.store.existing(conn, keys).items()}

        return Groups(read, {k: (r.values if r else None) for k, r in known.items()})

    def admin_groups(self) -> Groups:
        """Admin groups read from this node's records, for one request outside a write."""

        def read(keys: Sequence[str]) -> dict[str, list[HandleValue]]:
            with self.engine.connect() as conn:
                found = self.store.existing(conn, keys)
            return {k: decode_values(r) for k, r in found.items()}

        return Groups(read)

    def _written(self, h: hdl.Handle, values: list[HandleValue] | None) -> None:
        self.stats.registrations += 1
        self.answers.drop(h.key)
        if h.is_prefix_handle:
            self._note_prefix_record(h.text, values)
        if self.caches is not None:
            self.caches.forget(h.key)
            if h.is_prefix_handle:  # its delegation may have changed
                self.caches.referrals.drop(hdl.normalise_prefix(h.suffix))

    def browse(
        self, prefix: str, *, search: str = "", offset: int = 0, limit: int = 20, desc: bool = False
    ) -> tuple[int, list[Listed]]:
        """One page of the records under exactly ``prefix`` whose suffix contains ``search``
        (case-insensitive), by handle, with the total; the caller checks who may see them."""
        norm = hdl.normalise_prefix(hdl.validate_prefix(prefix))
        return self.store.browse(norm, search=search, offset=offset, limit=limit, desc=desc)

    def record(self, text: str) -> StoredRecord | None:
        """The stored record of ``text`` held here (``None`` if not registered)."""
        return self.store.get(hdl.parse(text).key)

    def history(
        self, text: str, *, offset: int = 0, limit: int = 20
    ) -> tuple[int, list[history.Change]]:
        """One page of the changes of ``text`` on this node, newest first, with the total."""
        return history.changes(
            self.engine, self.name, hdl.parse(text).key, offset=offset, limit=limit
        )

    def list_handles(
        self, prefix: str, principal: Principal, *, page: int = 0, page_size: int = 100
    ) -> tuple[int, list[str]]:
        """One page of the handles registered under exactly ``prefix`` (``88.100`` or
        ``0.NA/88.100``), with the total (needs the list-handles right)."""
        norm = self._may_list(prefix, principal)
        return self.store.list_page(norm, page=page, page_size=page_size)

    def listing(self, prefix: str, principal: Principal) -> Listing:
        """All the handles under exactly ``prefix``, counted and ready to walk in batches
        (needs the list-handles right; ``ListTooLarge`` above ``MAX_WHOLE_LIST``)."""
        return Listing.start(self.store, self._may_list(prefix, principal))

    def _may_list(self, prefix: str, principal: Principal) -> str:
        """The normalised prefix to list, once ``principal`` may list it."""
        norm = list_prefix(prefix)
        prefix_rec = self.store.get(hdl.prefix_handle_key(norm))
        fake = hdl.Handle(norm, "*")
        _Checker(principal, fake, prefix_rec.values if prefix_rec else None, self.admin_groups())(
            Perm.LIST_HANDLES, None
        )
        return norm


def _not_registered(text: str) -> HandleNotFound:
    return HandleNotFound(
        f"handle {text} is not registered", reason="handle_not_registered", params={"handle": text}
    )


class _Checker:
    """Binds a principal and target for repeated permission checks within one write."""

    def __init__(
        self,
        principal: Principal,
        h: hdl.Handle,
        prefix_values: list[HandleValue] | None,
        groups: Groups | None = None,
    ) -> None:
        self.principal, self.h, self.prefix_values = principal, h, prefix_values
        self.groups = groups

    def __call__(self, perm: Perm, record: list[HandleValue] | None) -> None:
        authorize(
            self.principal,
            perm,
            target=self.h.text,
            routing_prefix=self.h.routing_prefix
            if self.h.is_prefix_handle
            else hdl.normalise_prefix(self.h.prefix),
            record=record,
            prefix_record=self.prefix_values,
            groups=self.groups,
        )


def _sites(values: Sequence[HandleValue] | None) -> set[str]:
    return {
        str(v.value.get("url", ""))
        for v in values or ()
        if v.type == SITE_TYPE and isinstance(v.value, dict)
    }


def _admins(values: Sequence[HandleValue]) -> list[tuple[int, str, str]]:
    """The values that decide who may act on a record (HS_ADMIN and the keys)."""
    return sorted((v.index, v.type, repr(v.value)) for v in values if v.type in GUARDED_TYPES)


def _guarded(new: HandleValue, old: HandleValue | None, check: _Checker) -> bool:
    """Whether writing ``new`` over ``old`` takes the admin rights: it is, or replaces, an
    HS_ADMIN or a key (HS_SECKEY, HS_PUBKEY), unless an identity replaces its own key (a
    rotation, as ``ids.active`` does). So a device whose HS_ADMIN grants value rights only
    cannot add a key, or replace another identity's, by a Handle API write."""
    types = {new.type, old.type if old is not None else new.type}
    if not types & GUARDED_TYPES:
        return False
    own = (new.index, check.h.key) == check.principal.identity
    return ADMIN_TYPE in types or old is None or old.type != new.type or not own


def default_admin(
    principal: Principal, h: hdl.Handle, values: Sequence[HandleValue], ts: str
) -> HandleValue:
    """HS_ADMIN for a record created without one: its creator, or the prefix's admins."""
    used = {v.index for v in values}
    index = 100
    while index in used:
        index += 1
    if principal.identity is not None:
        admin = {
            "handle": principal.identity[1],
            "index": principal.identity[0],
            "permissions": DEFAULT_RIGHTS,
        }
    elif h.is_prefix_handle:  # the prefix's own key (where ``allocate`` puts HS_SECKEY), with
        # every right, as ``allocate`` gives it: Handle.Net's default withholds listing
        admin = {"handle": h.text, "index": 300, "permissions": ALL_RIGHTS}
    else:
        admin = {"handle": f"0.NA/{h.prefix}", "index": 0, "permissions": DEFAULT_RIGHTS}
    return HandleValue(index, ADMIN_TYPE, "admin", admin, 86_400, ts)
