"""Admin groups: the identities an HS_VLIST value lists, followed through nested lists.

An HS_ADMIN value may name a value reference ``(handle, index)`` that is not an identity but
an HS_VLIST value (format ``vlist``): every reference it lists is then an admin with that
HS_ADMIN's rights. A listed reference may itself be a value list, so the walk goes on, as
Handle.Net's server does (``HandleServer.isAdminInGroup``): breadth first, each reference
looked up once (a cycle ends by itself), a reference with index 0 matching any index of its
handle and never looked up as a group.

Unlike Handle.Net, the walk is bounded: at most ``MAX_DEPTH`` nested lists below the
HS_ADMIN value, ``MAX_LOOKUPS`` references looked up and ``MAX_MEMBERS`` members read in one
check, so a hostile chain of lists costs a write at most a few hundred record reads (made a
level at a time, one query per level). A walk
cut by a bound answers ``Membership.BOUND`` and the caller refuses.

Groups are read only from the records this node holds (``GroupReader`` answers ``None`` for
any other): a group on another node is not followed. Following it would make every write a
network request the writer can steer (to a slow or hostile site, or to one the node must not
reach), and the answer would be unauthenticated unless the node verified the other site's
signature, which this node does not do for resolution either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum

from indunet.ids.errors import InvalidHandle
from indunet.ids.syntax import handle as hdl
from indunet.ids.values import HandleValue, is_vlist

#: Nested value lists followed below the reference an HS_ADMIN value names (that one is 1).
MAX_DEPTH = 8
#: Value references looked up (group records read) in one check.
MAX_LOOKUPS = 256
#: Members read from value lists in one check.
MAX_MEMBERS = 10_000

#: The values of the records this node holds among the lookup keys asked, by key; keys it
#: does not hold are left out. One call reads one level of the walk.
GroupReader = Callable[[Sequence[str]], Mapping[str, Sequence[HandleValue]]]


class Membership(Enum):
    """The outcome of a walk through admin groups."""

    MEMBER = "member"
    NOT_MEMBER = "not_member"
    BOUND = "bound"  # the walk stopped at a bound before it found the identity


def members(values: Iterable[HandleValue], index: int) -> list[tuple[str, int]]:
    """The references the HS_VLIST value at ``index`` lists (none if that is not one)."""
    for v in values:
        if v.index == index and is_vlist(v.type) and isinstance(v.value, list):
            return [
                (str(m["handle"]), int(m["index"]))
                for m in v.value
                if isinstance(m, dict) and "handle" in m and "index" in m
            ]
    return []


def _key(handle: str) -> str | None:
    try:
        return hdl.parse(handle).key
    except InvalidHandle:
        return None


def find(
    identity: tuple[int, str], groups: Iterable[tuple[str, int]], read: GroupReader
) -> Membership:
    """Whether ``identity`` (index, key) is listed, directly or through nested lists, in one of
    ``groups`` (value references by lookup key and index, as HS_ADMIN values name them).

    Each level of the walk is read with one call of ``read``."""
    index, key = identity
    seen: set[tuple[str, int]] = set()
    level = list(dict.fromkeys(g for g in groups if g[1] != 0))
    depth = lookups = read_members = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return Membership.BOUND
        todo = [ref for ref in level if ref not in seen]
        cut = len(todo) > MAX_LOOKUPS - lookups
        todo = todo[: MAX_LOOKUPS - lookups]
        lookups += len(todo)
        seen.update(todo)
        records = read(list(dict.fromkeys(k for k, _ in todo)))
        following: dict[tuple[str, int], None] = {}
        for ref_key, ref_index in todo:
            values = records.get(ref_key)
            if values is None:  # not held here: not followed (see the module's docstring)
                continue
            listed = members(values, ref_index)
            read_members += len(listed)
            if read_members > MAX_MEMBERS:
                return Membership.BOUND
            for handle, member_index in listed:
                member_key = _key(handle)
                if member_key is None:
                    continue
                if member_key == key and member_index in (0, index):
                    return Membership.MEMBER
                nested = (member_key, member_index)
                if member_index != 0 and nested not in seen:
                    following[nested] = None
        if cut:
            return Membership.BOUND
        level = list(following)
    return Membership.NOT_MEMBER


class Groups:
    """This node's admin groups as one request sees them: each record read once, each walk
    made once (a write checks a right per value; the worst bounded walk costs about 70 ms,
    bench/admin_groups.py)."""

    def __init__(
        self, read: GroupReader, known: Mapping[str, Sequence[HandleValue] | None] | None = None
    ) -> None:
        self._read = read
        self._records: dict[str, Sequence[HandleValue] | None] = dict(known or {})
        self._walks: dict[tuple[tuple[int, str], tuple[tuple[str, int], ...]], Membership] = {}

    def records(self, keys: Sequence[str]) -> dict[str, Sequence[HandleValue]]:
        """The records among ``keys`` this node holds, each read from the store once."""
        missing = [k for k in keys if k not in self._records]
        if missing:
            found = self._read(missing)
            for k in missing:
                self._records[k] = found.get(k)
        return {k: v for k in keys if (v := self._records[k]) is not None}

    def find(self, identity: tuple[int, str], refs: Iterable[tuple[str, int]]) -> Membership:
        """``find`` through this node's records, remembered for the request."""
        memo = (identity, tuple(sorted(set(refs))))
        if memo not in self._walks:
            self._walks[memo] = find(identity, memo[1], self.records)
        return self._walks[memo]
