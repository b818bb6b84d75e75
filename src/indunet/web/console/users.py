"""Users of an enterprise: the list (search, filters, paging), inviting a user with a one-time
temporary password, changing a role, disabling and enabling, resetting a password.

Who may do what is ``core.accounts`` (through ``core.access``): another enterprise's user is
not found (404), a role that only reads gets 403, and the page offers only what the reader
may do.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from indunet import core
from indunet.core import IndunetError, NotFound, Role, User, access
from indunet.core.accounts import SORTS, STATUSES, UserQuery
from indunet.web.console.forms import FormError
from indunet.web.console.i18n import N_
from indunet.web.console.pages import error_text, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import MAX_DB_INT, PathId, StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
#: Enterprises offered in the filter and the invitation form (by name).
ENTERPRISES_SHOWN = 500


def _enterprise_id(text: str | None) -> int | None:
    """An enterprise id typed in a form or query: ``None`` if empty, else a database id."""
    text = (text or "").strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_DB_INT:
        raise FormError(N_("admin.users.enterprise_invalid"), text=text[:40])
    return int(text)


def enterprise_choices(
    state: AppState, user: User, selected: int | None = None
) -> list[core.Enterprise]:
    """The enterprises offered in a filter or form to overseers (the first
    ``ENTERPRISES_SHOWN`` by name, and the one ``selected``); none to anyone else."""
    if not access.sees_all(user):
        return []
    with state.engine.connect() as conn:
        found, _total = core.enterprises.page_enterprises(conn, limit=ENTERPRISES_SHOWN)
        if selected is not None and all(e.id != selected for e in found):
            found += core.enterprises.page_enterprises(conn, enterprise_id=selected)[0]
    return found


def _query(request: Request) -> UserQuery:
    params = request.query_params
    role = params.get("role", "")
    status = params.get("status", "")
    try:
        eid = _enterprise_id(params.get("enterprise_id"))
    except FormError:
        eid = None
    return UserQuery(
        q=(params.get("q") or "").strip()[:100],
        role=role if role in {r.value for r in Role} else "",
        status=status if status in STATUSES else "",
        enterprise_id=eid,
    )


def _list_context(request: Request, state: AppState, user: User, **extra: Any) -> dict[str, Any]:
    paging = paging_of(request, sorts=SORTS, default_sort="username")
    query = _query(request)
    with state.engine.connect() as conn:
        found, total = core.accounts.find_accounts(
            conn,
            user,
            query,
            offset=paging.offset,
            limit=paging.limit,
            sort=paging.sort,
            desc=paging.desc,
        )
    ctx: dict[str, Any] = {
        "accounts": PageOf(found, total, paging),
        "query": query,
        "roles": list(Role),
        "statuses": STATUSES,
        "assignable": core.accounts.assignable_roles(user),
        "enterprises": enterprise_choices(state, user, query.enterprise_id),
        "sees_all": access.sees_all(user),
        "typed": {"username": "", "role": Role.ENTERPRISE_USER.value, "enterprise_id": ""},
    }
    ctx.update(extra)
    return ctx


@router.get("/admin/users")
def users_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The users the reader may see, with search, filters and paging; the invitation form for
    those who may invite."""
    return render(request, "admin_users.html", _list_context(request, state, user))


@router.post("/admin/users")
def invite_user(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    username: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=40)] = "",
    enterprise_id: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Invite a user: the temporary password is shown on this page once."""
    typed = {"username": username, "role": role, "enterprise_id": enterprise_id}
    try:
        if role not in {r.value for r in Role}:
            raise FormError(N_("admin.users.role_invalid"))
        eid = _enterprise_id(enterprise_id)
        with state.engine.begin() as conn:
            made, password, expires = core.accounts.invite(
                conn, user, username=username, role=Role(role), enterprise_id=eid
            )
    except (FormError, IndunetError) as exc:
        status = exc.status if isinstance(exc, IndunetError) else 400
        ctx = _list_context(request, state, user, typed=typed, error=error_text(request, exc))
        return render(request, "admin_users.html", ctx, status=status)
    ctx = _list_context(request, state, user, invited=made, password=password, expires=expires)
    return render(request, "admin_users.html", ctx)


def _detail(
    request: Request,
    state: AppState,
    user: User,
    user_id: int,
    *,
    status: int = 200,
    **extra: Any,
) -> Response:
    with state.engine.connect() as conn:
        account = core.accounts.get_account(conn, user, user_id)
        recent, _total = core.audit.find(
            conn,
            core.audit.AuditFilter(
                target=f"user:{account.username}",
                enterprise_id=access.scope(user) if not access.sees_all(user) else None,
            ),
            limit=10,
        )
    may_change = (
        access.can_change(user, account.enterprise_id)
        and account.id != user.id
        and (account.role is not Role.PLATFORM_ADMIN or user.role is Role.PLATFORM_ADMIN)
    )
    same_kind = [
        r
        for r in core.accounts.assignable_roles(user)
        if (r in core.users.ENTERPRISE_ROLES) == (account.role in core.users.ENTERPRISE_ROLES)
    ]
    ctx: dict[str, Any] = {
        "account": account,
        "may_change": may_change,
        "roles": same_kind,
        "recent": recent,
        "may_read_audit": user.role in access.CHANGERS or access.sees_all(user),
    }
    ctx.update(extra)
    return render(request, "admin_user.html", ctx, status=status)


@router.get("/admin/users/{user_id}")
def user_page(request: Request, state: StateDep, user: ConsoleUser, user_id: PathId) -> Response:
    """One user: role, status, last login, recent changes, and the actions the reader may take."""
    return _detail(request, state, user, user_id)


def _act(request: Request, state: AppState, user: User, user_id: int, action: Any) -> Response:
    """Run a change of user ``user_id`` and show the user again, with what happened or why
    not (another tenant's user stays a plain 404)."""
    try:
        with state.engine.begin() as conn:
            extra = action(conn)
    except NotFound:
        raise
    except (FormError, IndunetError) as exc:
        status = exc.status if isinstance(exc, IndunetError) else 400
        return _detail(request, state, user, user_id, status=status, error=error_text(request, exc))
    return _detail(request, state, user, user_id, **extra)


@router.post("/admin/users/{user_id}/role")
def change_role(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    user_id: PathId,
    role: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Give the user another role (of the same kind; never above the reader's own reach)."""

    def run(conn: Any) -> dict[str, Any]:
        if role not in {r.value for r in Role}:
            core.accounts.get_account(conn, user, user_id)  # not found first
            raise FormError(N_("admin.users.role_invalid"))
        core.accounts.change_role(conn, user, user_id, Role(role))
        return {"done": N_("admin.users.role_changed")}

    return _act(request, state, user, user_id, run)


@router.post("/admin/users/{user_id}/disable")
def disable_user(request: Request, state: StateDep, user: ConsoleUser, user_id: PathId) -> Response:
    """Disable the user: they cannot log in, and their sessions and tokens end at once."""

    def run(conn: Any) -> dict[str, Any]:
        core.accounts.set_disabled(conn, user, user_id, disabled=True)
        return {"done": N_("admin.users.disabled_done")}

    return _act(request, state, user, user_id, run)


@router.post("/admin/users/{user_id}/enable")
def enable_user(request: Request, state: StateDep, user: ConsoleUser, user_id: PathId) -> Response:
    """Enable the user again (they log in anew)."""

    def run(conn: Any) -> dict[str, Any]:
        core.accounts.set_disabled(conn, user, user_id, disabled=False)
        return {"done": N_("admin.users.enabled_done")}

    return _act(request, state, user, user_id, run)


@router.post("/admin/users/{user_id}/reset-password")
def reset_password(
    request: Request, state: StateDep, user: ConsoleUser, user_id: PathId
) -> Response:
    """Give the user a one-time temporary password, shown here once; their sessions and
    tokens end."""

    def run(conn: Any) -> dict[str, Any]:
        _account, password, expires = core.accounts.reset_password(conn, user, user_id)
        return {"password": password, "expires": expires}

    return _act(request, state, user, user_id, run)
