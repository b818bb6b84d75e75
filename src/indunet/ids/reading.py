"""Reading a record's restricted values: Handle.Net's resolution with ``publicOnly=false``.

A value without the public-read bit is shown only to a caller who authenticates and holds the
READ_VALUE right of an HS_ADMIN of the handle or of its prefix (or is an operator). As in
Handle.Net's ``checkReadAccess``: the values asked for (``type=``, ``index=``) are chosen first;
if all are public no credentials are needed; a value readable neither publicly nor by admins
refuses the read (``insufficient permissions``). One difference, on purpose: HS_SECKEY values
are never answered, to anyone, since Indunet keeps only their hash.

Restricted values come from the node's own store only (as writes do): a node that does not hold
the prefix answers ``server not responsible``; nothing restricted ever enters an answer cache.
"""

from __future__ import annotations

from collections.abc import Collection

from indunet.ids.admin import Perm, Principal, authorize
from indunet.ids.errors import (
    AuthenticationNeeded,
    HandleNotFound,
    InvalidHandle,
    NotAuthorized,
    NotResponsible,
)
from indunet.ids.node import LOCAL, Node
from indunet.ids.syntax import handle as hdl
from indunet.ids.values import SECKEY_TYPE, HandleValue
from indunet.ids.valuetypes import TypeFilter


def admin_read(value: HandleValue) -> bool:
    """Admins of the handle may read this value (the first permission bit)."""
    return value.permissions[0] == "1"


def holds(node: Node, text: str) -> bool:
    """Whether ``node`` holds ``text`` (so restricted values can be read from it)."""
    try:
        return node.route(hdl.parse(text)) is LOCAL
    except InvalidHandle:
        return False


def read_values(
    node: Node,
    text: str,
    principal: Principal | None,
    *,
    types: TypeFilter,
    indices: Collection[int],
) -> tuple[str, list[HandleValue]]:
    """The stored handle and its values ``principal`` may read among those asked for (all if
    neither ``types`` nor ``indices`` ask); ``principal`` is ``None`` for an anonymous caller."""
    h = hdl.parse(text)
    route = node.route(h)
    if route is not LOCAL:
        raise NotResponsible(
            f"node {node.name} does not hold prefix {h.routing_prefix}; restricted values "
            "are read from the node that holds them",
            reason="node_not_responsible",
            params={"node": node.name, "prefix": h.routing_prefix},
        )
    if node.revoked and any(hdl.is_under(h.routing_prefix, p) for p in node.revoked):
        raise HandleNotFound(
            f"prefix {h.routing_prefix} is revoked",
            reason="prefix_revoked",
            params={"prefix": h.routing_prefix},
        )
    rec = node.store.get(h.key)
    if rec is None:
        raise HandleNotFound(
            f"handle {text} is not registered",
            reason="handle_not_registered",
            params={"handle": text},
        )
    chosen = [
        v
        for v in rec.values
        if v.type != SECKEY_TYPE
        and (not (types or indices) or types.selects(v.type) or v.index in indices)
    ]
    restricted = [v for v in chosen if not v.public_read]
    if not restricted:
        return rec.handle, chosen
    if any(not admin_read(v) for v in restricted):
        shut = sorted(v.index for v in restricted if not admin_read(v))
        raise NotAuthorized(
            f"the values at index {shut} of {rec.handle} may be read by nobody",
            reason="values_unreadable",
            params={"handle": rec.handle, "indices": ", ".join(map(str, shut))},
        )
    if principal is None:
        raise AuthenticationNeeded(
            f"{rec.handle} has restricted values; give credentials to read them, or ask "
            "with publicOnly=true",
            reason="read_needs_credentials",
            params={"handle": rec.handle},
        )
    prefix_rec = (
        node.store.get(hdl.prefix_handle_key(h.routing_prefix)) if h.routing_prefix else None
    )
    authorize(
        principal,
        Perm.READ_VALUE,
        target=rec.handle,
        routing_prefix=h.routing_prefix if h.is_prefix_handle else hdl.normalise_prefix(h.prefix),
        record=rec.values,
        prefix_record=prefix_rec.values if prefix_rec else None,
        groups=node.admin_groups(),
    )
    return rec.handle, chosen


__all__ = ["admin_read", "holds", "read_values"]
