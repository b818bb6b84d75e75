"""The one access rule: who may see and change an enterprise's things.

Overseers (platform admins and regulators) see everything; every other user sees their own
enterprise's things only. Another tenant's thing is reported exactly like a thing that does
not exist (``NotFound``, HTTP 404), so its id, name or existence leaks nothing. A user who may
see a thing but whose role may not change it gets ``PermissionDenied`` (HTTP 403).

Who may change: platform admins everything; enterprise admins their own enterprise's things;
enterprise users only where a caller passes ``users_too`` (acknowledging an alarm, say);
regulators read and never change. Every subsystem and every route asks these functions; no
module writes the rule out again (``tests/core/test_access.py`` pins it).
"""

from __future__ import annotations

from indunet.core.errors import NotFound, PermissionDenied
from indunet.core.users import Role, User

OVERSEERS = frozenset({Role.PLATFORM_ADMIN, Role.REGULATOR})
CHANGERS = frozenset({Role.PLATFORM_ADMIN, Role.ENTERPRISE_ADMIN})


def sees_all(user: User) -> bool:
    """Whether ``user`` oversees every enterprise (platform admin, regulator)."""
    return user.role in OVERSEERS


def can_see(user: User, enterprise_id: int | None) -> bool:
    """Whether ``user`` may see things of ``enterprise_id`` (None: things of no enterprise)."""
    return user.role in OVERSEERS or (
        user.enterprise_id is not None and user.enterprise_id == enterprise_id
    )


def check_see(user: User, enterprise_id: int | None, what: str) -> None:
    """Raise ``NotFound`` naming ``what`` ("device pump-1") unless ``user`` may see it."""
    if not can_see(user, enterprise_id):
        raise NotFound(f"no {what}")


def can_change(user: User, enterprise_id: int | None, *, users_too: bool = False) -> bool:
    """Whether ``user`` may change things of ``enterprise_id``."""
    if not can_see(user, enterprise_id):
        return False
    return user.role in CHANGERS or (users_too and user.role is Role.ENTERPRISE_USER)


def check_change(
    user: User, enterprise_id: int | None, what: str, *, users_too: bool = False
) -> None:
    """Raise unless ``user`` may change ``what``: ``NotFound`` for another tenant's thing,
    ``PermissionDenied`` when the role may only read it."""
    check_see(user, enterprise_id, what)
    if not can_change(user, enterprise_id, users_too=users_too):
        who = "a user" if users_too else "an admin"
        raise PermissionDenied(
            f"{user.username} ({user.role}) may not change {what}; "
            f"that needs a platform admin or {who} of the enterprise"
        )


def scope(user: User, enterprise_id: int | None = None) -> int | None:
    """The enterprise a listing is limited to (None: every enterprise).

    Overseers get what they asked for. Others get their own enterprise; asking for another
    enterprise is ``NotFound`` (as if it did not exist), and a user of no enterprise is
    ``PermissionDenied``.
    """
    if user.role in OVERSEERS:
        return enterprise_id
    if user.enterprise_id is None:
        raise PermissionDenied(f"{user.username} belongs to no enterprise")
    if enterprise_id is not None and enterprise_id != user.enterprise_id:
        raise NotFound(f"no enterprise {enterprise_id}")
    return user.enterprise_id


def change_scope(user: User, enterprise_id: int | None, action: str) -> int | None:
    """The enterprise a new thing is made in (None: an overseer named none), for a user who
    may change things there; ``action`` ("add devices") names the refusal.

    Naming another enterprise is ``NotFound`` first, as in ``scope`` (whatever the role);
    then a role that never changes anything (regulator, enterprise user) is
    ``PermissionDenied``.
    """
    eid = scope(user, enterprise_id)
    if user.role not in CHANGERS:
        raise PermissionDenied(
            f"{user.username} ({user.role}) may not {action}; that needs a platform admin "
            "or an admin of the enterprise"
        )
    if eid is not None:
        check_change(user, eid, action)
    return eid


def check_regulate(user: User, action: str) -> None:
    """Raise ``PermissionDenied`` unless ``user`` may perform a regulatory act (review a
    grading, issue or verify a notice, publish a rule table): regulators, and platform
    admins operating the authority's instance. ``action`` ("issue notices") names it."""
    if user.role not in OVERSEERS:
        raise PermissionDenied(
            f"{user.username} ({user.role}) may not {action}; that needs a regulator",
            reason="regulation_regulator_only",
        )
