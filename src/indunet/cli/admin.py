"""``indunet enterprise …``, ``indunet user …`` and ``indunet token …``: tenants and accounts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from indunet import core
from indunet.cli.options import DataOpt, engine, operator, read_secret

enterprise_app = typer.Typer(
    rich_markup_mode=None, help="Enterprises (tenants) and their real-name data."
)
user_app = typer.Typer(rich_markup_mode=None, help="Users of the console and the API.")
token_app = typer.Typer(rich_markup_mode=None, help="API tokens.")

PasswordFile = Annotated[
    Path, typer.Option("--password-file", help="File whose first line is the password")
]


@enterprise_app.command("add")
def enterprise_add(
    uscc: Annotated[str, typer.Option(help="Unified social credit code (18 characters)")],
    name: Annotated[str, typer.Option(help="Registered name")],
    legal_representative: str = "",
    contact: str = "",
    industry_code: Annotated[str, typer.Option(help="GB/T 4754 code, e.g. C3421")] = "",
    region: Annotated[str, typer.Option(help="Administrative division code, e.g. 350200")] = "",
    data_dir: DataOpt = None,
) -> None:
    """Register an enterprise; the operator vouches for its real-name data (verified)."""
    with engine(data_dir).begin() as conn:
        ent = core.create_enterprise(
            conn,
            uscc=uscc,
            name=name,
            actor=operator().actor,
            legal_representative=legal_representative,
            contact=contact,
            industry_code=industry_code,
            region=region,
            verified=True,
        )
    typer.echo(f"{ent.uscc} {ent.name} (verified)")


@enterprise_app.command("list")
def enterprise_list(data_dir: DataOpt = None) -> None:
    """Every enterprise."""
    with engine(data_dir).connect() as conn:
        ents = core.list_enterprises(conn)
    table = Table("uscc", "name", "region", "industry", "verified")
    for e in ents:
        table.add_row(e.uscc, e.name, e.region, e.industry_code, "yes" if e.verified else "no")
    Console().print(table)


@enterprise_app.command("verify")
def enterprise_verify(uscc: str, data_dir: DataOpt = None) -> None:
    """Mark an enterprise's real-name data as checked."""
    with engine(data_dir).begin() as conn:
        ent = core.set_verified(conn, uscc, verified=True, actor=operator().actor)
    typer.echo(f"{ent.uscc} {ent.name} verified")


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[core.Role, typer.Option(help="What the user may do")],
    password_file: PasswordFile,
    enterprise: Annotated[
        str | None, typer.Option(help="USCC of the user's enterprise (enterprise roles)")
    ] = None,
    data_dir: DataOpt = None,
) -> None:
    """Create a user."""
    password = read_secret(password_file, "password")
    with engine(data_dir).begin() as conn:
        eid = core.get_enterprise(conn, enterprise).id if enterprise else None
        user = core.create_user(
            conn,
            username=username,
            password=password,
            role=role,
            actor=operator().actor,
            enterprise_id=eid,
        )
    typer.echo(f"{user.username} ({user.role.value})")


@user_app.command("list")
def user_list(data_dir: DataOpt = None) -> None:
    """Every user."""
    with engine(data_dir).connect() as conn:
        users = core.list_users(conn)
        usccs = {e.id: e.uscc for e in core.list_enterprises(conn)}
    table = Table("username", "role", "enterprise")
    for u in users:
        ent = usccs.get(u.enterprise_id, "-") if u.enterprise_id is not None else "-"
        table.add_row(u.username, u.role.value, ent)
    Console().print(table)


@user_app.command("reset-password")
def user_reset_password(
    username: str,
    enable: Annotated[
        bool, typer.Option("--enable", help="Also enable the account if it is disabled")
    ] = False,
    data_dir: DataOpt = None,
) -> None:
    """Give a user a new one-time password, printed once (the recovery path of a lost admin
    password): run on the server with access to the data directory. It must be replaced at
    the next console login; the user's sessions and API tokens end."""
    with engine(data_dir).begin() as conn:
        user = core.get_user(conn, username)
        password, expires = core.accounts.set_temporary_password(
            conn, user, actor=operator().actor, enterprise_id=user.enterprise_id
        )
        disabled = core.accounts.is_disabled(conn, user)
        if disabled and enable:
            core.accounts.enable(conn, user, actor=operator().actor)
    typer.echo(password)
    until = expires.isoformat(timespec="seconds")
    typer.echo(
        f"one-time password of {user.username}, shown once; log in with it at the console "
        f"before {until} and choose a new password",
        err=True,
    )
    if disabled and not enable:
        typer.echo(
            f"the account {user.username} is disabled: run again with --enable to enable it",
            err=True,
        )


@token_app.command("create")
def token_create(
    username: str,
    password_file: PasswordFile,
    name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    days: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=core.users.MAX_TOKEN_TTL.days,
            help=f"Lifetime in days (default {core.users.DEFAULT_TOKEN_TTL.days})",
        ),
    ] = None,
    data_dir: DataOpt = None,
) -> None:
    """Create an API token for a user (checks the password); the token is printed once."""
    password = read_secret(password_file, "password", min_length=1)
    with engine(data_dir).begin() as conn:
        user = core.authenticate(conn, username, password)
        token = core.issue_token(conn, user, name=name, ttl=timedelta(days=days) if days else None)
    typer.echo(token)


def _operator_as_admin() -> core.User:
    """The operator at this terminal, acting as a platform admin (id 0 owns no tokens)."""
    return core.User(
        id=0, username=operator().actor, role=core.Role.PLATFORM_ADMIN, enterprise_id=None
    )


@token_app.command("list")
def token_list(
    username: Annotated[str | None, typer.Option(help="Only this user's tokens")] = None,
    data_dir: DataOpt = None,
) -> None:
    """Tokens that have not expired (never their secrets)."""
    with engine(data_dir).connect() as conn:
        found = core.list_tokens(conn, _operator_as_admin(), username=username)
    table = Table("id", "user", "name", "kind", "created", "expires")
    for t in found:
        expires = t.expires_at.isoformat(timespec="seconds") if t.expires_at else "never"
        table.add_row(
            str(t.id),
            t.username,
            t.name,
            t.kind,
            t.created_at.isoformat(timespec="seconds"),
            expires,
        )
    Console().print(table)


@token_app.command("revoke")
def token_revoke(token_id: int, data_dir: DataOpt = None) -> None:
    """Revoke a token by its id (see ``indunet token list``)."""
    with engine(data_dir).begin() as conn:
        info = core.revoke_token_by_id(conn, token_id, _operator_as_admin())
    typer.echo(f"revoked token {info.id} ({info.name}) of {info.username}")
