"""Who may write: HS_ADMIN permissions, HS_SECKEY credentials, and the principals behind a write.

An HS_ADMIN permission string has 12 bits (``Perm``): 0 add handle, 1 delete handle, 2 add
derived prefix, 3 delete derived prefix, 4 modify value, 5 remove value, 6 add value, 7 modify
admin, 8 remove admin, 9 add admin, 10 read value, 11 list handles (Handle.Net's
``AdminRecord``). It is written as Handle.Net's REST API writes it, highest bit first: the
*last* character is bit 0 (add handle), the first is bit 11 (list handles). So the default of
pyhandle and hdl-admintool, ``011111110011``, grants every right but add derived prefix,
delete derived prefix and list handles. ``rights_of`` and ``permission_string`` are the only
places that know the order.

An identity ``index:handle`` (e.g. ``300:0.NA/88.100.1``) holds a right on a record if one of
the record's HS_ADMIN values names that handle with that index (or index 0, any index) and
sets the bit, or names an admin group (an HS_VLIST value) that lists the identity, directly
or through nested lists held on this node (``ids.groups``). The admins of a prefix handle ``0.NA/P`` also hold every right on the handles
under ``P``: that is how an enterprise's credential manages all of its identifiers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import IntEnum
from urllib.parse import unquote

from indunet.core import hash_secret, new_secret, verify_secret
from indunet.ids import groups as group_limits
from indunet.ids.errors import AuthenticationFailed, InvalidHandle, NotAuthorized
from indunet.ids.groups import Groups, Membership
from indunet.ids.syntax import handle as hdl
from indunet.ids.values import ADMIN_TYPE, SECKEY_TYPE, HandleValue

#: Suffixes (upper-cased, as in lookup keys) of records the platform manages itself: the
#: device identifiers ``<prefix>/dev-<id>`` (indunet.devices.identifiers).
PLATFORM_SUFFIXES = ("DEV-",)


class Perm(IntEnum):
    """Bit positions in an HS_ADMIN permission string."""

    ADD_HANDLE = 0
    DELETE_HANDLE = 1
    ADD_DERIVED_PREFIX = 2
    DELETE_DERIVED_PREFIX = 3
    MODIFY_VALUE = 4
    REMOVE_VALUE = 5
    ADD_VALUE = 6
    MODIFY_ADMIN = 7
    REMOVE_ADMIN = 8
    ADD_ADMIN = 9
    READ_VALUE = 10
    LIST_HANDLES = 11


def rights_of(bits: str) -> frozenset[Perm]:
    """The rights a permission string grants: its last character is bit 0 (``ADD_HANDLE``).

    Anything but 12 characters of 0 and 1 grants nothing.
    """
    if len(bits) != len(Perm) or not set(bits) <= {"0", "1"}:
        return frozenset()
    return frozenset(p for p in Perm if bits[len(Perm) - 1 - p] == "1")


def permission_string(rights: Iterable[Perm]) -> str:
    """The 12-character string granting ``rights``, highest bit first (as Handle.Net writes it)."""
    held = set(rights)
    return "".join("1" if p in held else "0" for p in reversed(Perm))


def right_names(bits: str) -> list[str]:
    """The lower-case names of the rights a permission string grants, in bit order."""
    held = rights_of(bits)
    return [p.name.lower() for p in Perm if p in held]


#: Every right: what a prefix's own key holds on its prefix handle.
ALL_RIGHTS = permission_string(Perm)
#: What a record created without HS_ADMIN gives its creator: Handle.Net's default
#: (``011111110011``, as pyhandle and hdl-admintool write it), every right but the derived-prefix
#: ones and listing.
DEFAULT_RIGHTS = permission_string(
    set(Perm) - {Perm.ADD_DERIVED_PREFIX, Perm.DELETE_DERIVED_PREFIX, Perm.LIST_HANDLES}
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who asks for a write.

    ``identity`` is a Handle identity ``(index, handle key)``; ``prefixes`` lists the prefixes
    a platform user may manage (their enterprise's), ``None`` meaning all (platform admin).
    ``platform_records`` says whether it may change the records the platform manages
    (``PLATFORM_SUFFIXES``): platform and enterprise admins may, enterprise users may not.
    """

    actor: str
    identity: tuple[int, str] | None = None
    prefixes: frozenset[str] | None = frozenset()
    platform_records: bool = True

    @property
    def is_superuser(self) -> bool:
        """Platform administrators and node operators may manage every handle."""
        return self.identity is None and self.prefixes is None


OPERATOR = Principal(actor="operator", identity=None, prefixes=None)


def parse_identity(username: str) -> tuple[int, str]:
    """``300:0.NA/88.100.1`` (percent-encoded or not) -> ``(300, "0.NA/88.100.1" key)``."""
    text = unquote(username)
    index, sep, handle = text.partition(":")
    if not sep or not (index.isascii() and index.isdigit()):
        raise AuthenticationFailed(
            f"username {text!r} must have the form index:handle, e.g. 300:0.NA/88.100.1"
        )
    try:
        return int(index), hdl.parse(handle).key
    except InvalidHandle as exc:
        raise AuthenticationFailed(f"username {text!r}: {exc.message}") from None


#: The one answer to failed Handle credentials, whether the identity handle is unknown, has no
#: key at that index, or the secret is wrong: telling them apart would let anyone list the
#: identities a node holds.
BAD_CREDENTIALS = "unknown identity or wrong secret key"


class CredentialChecker:
    """Checks ``index:handle`` + secret against the HS_SECKEY value at that index.

    Keys are stored as scrypt hashes; a successful check is remembered (keyed by the stored
    hash and a digest of the secret), so repeated writes by one client cost one hash, and a
    rotated key invalidates the memory by itself. A missing identity or key is checked
    against a stand-in hash, so it costs what a wrong secret costs and says the same.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._ok: dict[tuple[str, str], None] = {}
        self._max = max_entries
        self._stand_in: str | None = None

    def check(self, values: Iterable[HandleValue] | None, index: int, secret: str) -> None:
        """Raise ``AuthenticationFailed`` unless ``secret`` matches the key at ``index``."""
        stored = None
        for v in values or ():
            if v.index == index and v.type == SECKEY_TYPE and isinstance(v.value, str):
                stored = v.value
        if stored is None:
            if self._stand_in is None:
                self._stand_in = hash_secret(new_secret(24))
            verify_secret(secret, self._stand_in)
            raise AuthenticationFailed(BAD_CREDENTIALS)
        memo = (stored, hashlib.sha256(secret.encode()).hexdigest())
        if memo in self._ok:
            return
        if not verify_secret(secret, stored):
            raise AuthenticationFailed(BAD_CREDENTIALS)
        if len(self._ok) >= self._max:
            self._ok.clear()
        self._ok[memo] = None


def hash_seckeys(values: list[HandleValue]) -> list[HandleValue]:
    """Replace clear-text HS_SECKEY data by its hash before storage."""
    out = []
    for v in values:
        if v.type == SECKEY_TYPE and isinstance(v.value, str) and not v.value.startswith("scrypt$"):
            v = replace(v, format="string", value=hash_secret(v.value))  # keeps TTL, refs
        out.append(v)
    return out


def _holders(values: Iterable[HandleValue] | None, perm: Perm) -> list[tuple[str, int]]:
    """The ``(key, index)`` references the HS_ADMIN values among ``values`` give ``perm``."""
    out = []
    for v in values or ():
        if v.type != ADMIN_TYPE or not isinstance(v.value, dict):
            continue
        if perm not in rights_of(str(v.value.get("permissions", ""))):
            continue
        try:
            admin_key = hdl.parse(str(v.value.get("handle", ""))).key
        except InvalidHandle:
            continue
        out.append((admin_key, int(v.value.get("index", 0))))
    return out


def _membership(
    holders: list[tuple[str, int]], identity: tuple[int, str], groups: Groups | None
) -> Membership:
    """Whether ``identity`` is one of ``holders`` (index 0: any index of that handle), or a
    member of an admin group (HS_VLIST) one of them names, among this node's ``groups``."""
    index, key = identity
    if any(k == key and i in (0, index) for k, i in holders):
        return Membership.MEMBER
    if groups is None:
        return Membership.NOT_MEMBER
    return groups.find(identity, holders)


def grants(
    values: Iterable[HandleValue] | None,
    identity: tuple[int, str],
    perm: Perm,
    groups: Groups | None = None,
) -> bool:
    """True if an HS_ADMIN value among ``values`` gives ``identity`` the right ``perm``, naming
    it or (with ``groups``, this node's records) an admin group listing it."""
    return _membership(_holders(values, perm), identity, groups) is Membership.MEMBER


def authorize(
    principal: Principal,
    perm: Perm,
    *,
    target: str,
    routing_prefix: str,
    record: Iterable[HandleValue] | None,
    prefix_record: Iterable[HandleValue] | None,
    groups: Groups | None = None,
) -> None:
    """Raise ``NotAuthorized`` unless ``principal`` may do ``perm`` on ``target``.

    With ``groups`` (the records of this node), HS_ADMIN values that name an
    admin group (an HS_VLIST value) give its members the rights (``ids.groups``).
    """
    if principal.is_superuser:
        return
    if principal.identity is not None:
        index, key = principal.identity
        holders = [*_holders(record, perm), *_holders(prefix_record, perm)]
        found = _membership(holders, principal.identity, groups)
        if found is Membership.MEMBER:
            return
        if found is Membership.BOUND:
            raise NotAuthorized(
                f"{index}:{key} was not found in the admin groups of {target} within "
                f"{group_limits.MAX_DEPTH} nested lists, {group_limits.MAX_LOOKUPS} lists and "
                f"{group_limits.MAX_MEMBERS} members; name it nearer the HS_ADMIN value",
                reason="handle_group_bound",
                params={
                    "who": f"{index}:{key}",
                    "target": target,
                    "depth": group_limits.MAX_DEPTH,
                    "lookups": group_limits.MAX_LOOKUPS,
                    "members": group_limits.MAX_MEMBERS,
                },
            )
        raise NotAuthorized(
            f"{index}:{key} holds no {perm.name.lower()} right on {target}; "
            f"it must be an HS_ADMIN of the handle or of 0.NA/{routing_prefix}",
            reason="handle_no_right",
            params={
                "who": f"{index}:{key}",
                "right": perm.name.lower(),
                "target": target,
                "prefix": routing_prefix,
            },
        )
    allowed = principal.prefixes or frozenset()
    if any(hdl.is_under(routing_prefix, p) for p in allowed):
        return
    raise NotAuthorized(
        f"{principal.actor} may not write {target}: prefix {routing_prefix} does not belong to "
        "its enterprise",
        reason="handle_not_your_prefix",
        params={"target": target, "prefix": routing_prefix},
    )


def check_platform_record(principal: Principal, suffix: str, target: str) -> None:
    """Refuse a change to a platform-managed record by a principal that may not make it."""
    if not principal.platform_records and hdl.upper_ascii(suffix).startswith(PLATFORM_SUFFIXES):
        raise NotAuthorized(
            f"{target} is managed by the platform (a device identifier); only platform and "
            "enterprise admins may change it",
            reason="handle_platform_record",
            params={"target": target},
        )


def check_delegation(principal: Principal, key: str, *, creating_prefix: bool) -> None:
    """Refuse a delegation change (HS_SITE values, a new derived prefix) by a non-administrator.

    Delegating makes the resolver fetch the sites named, so only prefix administrators may
    do it: platform administrators and node operators, who allocate prefixes, and the key of
    an allocated prefix on its own prefix handle (a node announcing its site to its parent).
    Derived prefixes are created by allocation only.
    """
    if principal.is_superuser:
        return
    if not creating_prefix and principal.identity is not None and principal.identity[1] == key:
        return
    what = "create derived prefixes" if creating_prefix else "change HS_SITE delegations"
    raise NotAuthorized(
        f"{principal.actor} may not {what} on {key}: only prefix administrators (who "
        "allocate prefixes) may delegate",
        reason="handle_delegation",
        params={"key": key},
    )
