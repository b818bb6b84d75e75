"""Builds nodes: a whole hierarchy in one process, or a single node of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from indunet.ids.admin import OPERATOR
from indunet.ids.answercache import AnswerCache
from indunet.ids.answers import Site
from indunet.ids.node import Node, NodeRole
from indunet.ids.resolver import Resolver
from indunet.ids.sites import SiteLimits, SitePolicy
from indunet.ids.store import HandleStore
from indunet.ids.syntax import handle as hdl
from indunet.ids.templates import TemplateRegistry
from indunet.ids.transport import HttpTransport, LocalTransport, NodeTransport
from indunet.ids.values import FIRST_SITE_INDEX, SITE_TYPE

TOP_PREFIX = "88"
SECONDARY_PREFIX = "88.100"


@dataclass
class Hierarchy:
    """The nodes this process runs, by name, and the one that answers ``/api/handles``."""

    nodes: dict[str, Node]
    front: Node
    transport: NodeTransport
    resolver: Resolver | None
    policy: SitePolicy = field(default_factory=SitePolicy)

    async def close(self) -> None:
        """Release network clients."""
        await self.transport.close()


def _site_of(base_url: str, name: str) -> str:
    return f"{base_url}/nodes/{name}"


def _delegate(parent: Node, child_prefix: str, urls: list[str]) -> None:
    """Make ``parent`` refer ``child_prefix`` to ``urls`` (idempotent)."""
    text = f"0.NA/{child_prefix}"
    rec = parent.store.get(hdl.parse(text).key)
    wanted = [{"url": u} for u in urls]
    if rec is not None and [v.value.get("url") for v in rec.values if v.type == SITE_TYPE] == urls:
        return
    values = [
        {
            "index": FIRST_SITE_INDEX + i,
            "type": SITE_TYPE,
            "data": {"format": "site", "value": {**w, "primary": i == 0}},
        }
        for i, w in enumerate(wanted)
    ]
    values.append(
        {
            "index": 2,
            "type": "DESC",
            "data": {"format": "string", "value": f"delegation of prefix {child_prefix}"},
        }
    )
    parent.put(text, values, OPERATOR, overwrite=True)


def embedded(
    engine: sa.Engine,
    base_url: str,
    *,
    max_ttl: int = 300,
    negative_ttl: int = 30,
    cache_size: int = 100_000,
    timeout: float = 2.0,
    site_allow: str | Sequence[str] = (),
    limits: SiteLimits | None = None,
) -> Hierarchy:
    """Root, top-level ``88``, secondary ``88.100`` and a recursive node, all in this process.

    Their sites are real URLs under ``base_url/nodes/<name>``; in this process the resolver
    reaches them directly. The front node (``/api/handles``) is the secondary node with
    recursion, so it answers its own prefix and resolves everything else. The sites under
    ``base_url`` are trusted by the destination policy; others must pass it (``site_allow``
    adds CIDRs the operator allows).
    """
    limits = limits or SiteLimits()
    policy = SitePolicy.build(allow=site_allow, trusted=[base_url], limits=limits)
    templates = TemplateRegistry(engine)
    transport = LocalTransport(HttpTransport(timeout, policy))
    resolver = Resolver(
        [Site(_site_of(base_url, "root"), True)],
        transport,
        max_ttl=max_ttl,
        negative_ttl=negative_ttl,
        cache_size=cache_size,
        deadline=limits.deadline,
    )

    def node(name: str, role: NodeRole, prefix: str | None, r: Resolver | None) -> Node:
        return Node(
            name,
            role,
            prefix,
            engine,
            templates,
            resolver=r,
            caches=resolver,
            policy=policy,
            answers=AnswerCache(cache_size, max_ttl),
        )

    # Every node's writes drop what the shared resolver cached (the root's and the top-level
    # node's records are resolved, and cached, by the front node); only the secondary and the
    # recursive node answer recursively with it.
    root = node("root", NodeRole.ROOT, "", None)
    top = node(TOP_PREFIX, NodeRole.TOP_LEVEL, TOP_PREFIX, None)
    sec = node(SECONDARY_PREFIX, NodeRole.SECONDARY, SECONDARY_PREFIX, resolver)
    rec = node("recursive", NodeRole.RECURSIVE, None, resolver)
    nodes = {n.name: n for n in (root, top, sec, rec)}
    for n in nodes.values():
        transport.register(_site_of(base_url, n.name), n.resolve)
    _delegate(root, TOP_PREFIX, [_site_of(base_url, TOP_PREFIX)])
    _delegate(top, SECONDARY_PREFIX, [_site_of(base_url, SECONDARY_PREFIX)])
    return Hierarchy(nodes, sec, transport, resolver, policy)


def stored_base_url(engine: sa.Engine) -> str | None:
    """The base URL an embedded hierarchy on this database last published, if any.

    Commands that open the data directory of a server (``indunet id resolve``) use it, so
    they build the same sites instead of re-pointing the server's delegations.
    """
    rec = HandleStore(engine, "root").get(hdl.parse(f"0.NA/{TOP_PREFIX}").key)
    suffix = f"/nodes/{TOP_PREFIX}"
    for v in rec.values if rec else ():
        url = v.value.get("url", "") if isinstance(v.value, dict) else ""
        if v.type == SITE_TYPE and url.endswith(suffix):
            return str(url[: -len(suffix)])
    return None


def single(
    engine: sa.Engine,
    role: NodeRole,
    prefix: str | None,
    *,
    name: str | None = None,
    root_urls: list[str] | None = None,
    max_ttl: int = 300,
    negative_ttl: int = 30,
    cache_size: int = 100_000,
    timeout: float = 2.0,
    site_allow: str | Sequence[str] = (),
    limits: SiteLimits | None = None,
    copy_of: str | None = None,
) -> Hierarchy:
    """One node as its own process; a recursive node needs ``root_urls`` (trusted sites), a
    disaster-recovery node (``NodeRole.DR``) the URL of the primary it copies (``copy_of``)."""
    if (role is NodeRole.DR) != (copy_of is not None):
        raise ValueError("a disaster-recovery node, and only it, names the primary it copies")
    limits = limits or SiteLimits()
    policy = SitePolicy.build(allow=site_allow, trusted=root_urls or (), limits=limits)
    templates = TemplateRegistry(engine)
    transport = HttpTransport(timeout, policy)
    resolver = None
    if role is NodeRole.RECURSIVE:
        if not root_urls:
            raise ValueError("a recursive node needs at least one root URL (--root)")
        resolver = Resolver(
            [Site(u.rstrip("/"), i == 0) for i, u in enumerate(root_urls)],
            transport,
            max_ttl=max_ttl,
            negative_ttl=negative_ttl,
            cache_size=cache_size,
            deadline=limits.deadline,
        )
        prefix = None
    elif role is NodeRole.ROOT:
        prefix = ""
    node = Node(
        name or (prefix or role.value),
        role,
        prefix,
        engine,
        templates,
        resolver=resolver,
        policy=policy,
        answers=AnswerCache(cache_size, max_ttl),
        copy_of=copy_of,
    )
    return Hierarchy({node.name: node}, node, transport, resolver, policy)


def delegate(parent: Node, child_prefix: str, urls: list[str]) -> None:
    """Public form of the delegation step: ``parent`` refers ``child_prefix`` to ``urls``."""
    _delegate(parent, child_prefix, urls)
