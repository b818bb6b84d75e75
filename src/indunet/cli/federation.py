"""``indunet federation``: this instance's identity, enrolment tokens, joining a parent,
the children and the backlog (on the local database; the running server picks the identity
up at its next start)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import typer

from indunet.cli import context
from indunet.cli.options import DataOpt, engine, operator
from indunet.core.errors import IndunetError
from indunet.federation import Federation, Identity, Refused, destinations, enrolment, identity

app = typer.Typer(
    rich_markup_mode=None,
    help="Federation: this instance's identity, enrolment, its parent and children.",
    no_args_is_help=True,
)


def _fail(exc: Refused) -> None:
    typer.echo(f"error ({exc.reason}): {exc}", err=True)
    raise typer.Exit(2)


@app.command()
def init(
    name: Annotated[str, typer.Option(help="This instance's name (a-z, 0-9, -)")],
    level: Annotated[str, typer.Option(help="enterprise, city, province, subcentre, national")],
    url: Annotated[str, typer.Option(help="The address peers reach this instance at")],
    title: Annotated[str, typer.Option(help="A readable name (广东省工业互联网安全平台…)")] = "",
    algorithm: Annotated[str, typer.Option(help="ed25519, or sm2 (国密)")] = "ed25519",
    data_dir: DataOpt = None,
) -> None:
    """Give this instance its name, level and key pair (once)."""
    try:
        me = identity.init(engine(data_dir), name, level, url, title=title, algorithm=algorithm)
    except Refused as exc:
        _fail(exc)
        return
    typer.echo(f"{me.name} ({me.level}) at {me.url}, key {me.key.algorithm}")
    typer.echo(f"identifier: {identity.handle_of(me.name)}  HS_PUBKEY {me.public.text()}")
    _register(data_dir, me)


def _register(data_dir: Path | None, me: Identity) -> None:
    """The instance's identifier in this installation's own identifier node (88.100), with
    its public key (HS_PUBKEY, index 300), address (URL) and level; in a national deployment
    the same record is registered at the identifier system's node for 88.100."""
    handle = identity.handle_of(me.name)
    values = [
        {"index": 1, "type": "URL", "data": {"format": "string", "value": me.url}},
        {
            "index": 2,
            "type": "DESC",
            "data": {"format": "string", "value": f"{me.title} ({me.level})"},
        },
        {"index": 300, "type": "HS_PUBKEY", "data": {"format": "key", "value": me.public.text()}},
    ]
    try:
        node = context.node(engine(data_dir), "88.100")
        node.put(handle, values, operator(), overwrite=True)
    except IndunetError as exc:
        typer.echo(
            f"note: {handle} was not registered here ({exc}); register it where 88.100 is served"
        )
        return
    typer.echo(f"registered {handle} in this installation's identifier node")


@app.command()
def token(
    level: Annotated[str, typer.Option(help="The level of the child that will use it")],
    note: Annotated[str, typer.Option(help="Whom it is for")] = "",
    hours: Annotated[float, typer.Option(help="Valid for")] = 24.0,
    data_dir: DataOpt = None,
) -> None:
    """Issue a one-time enrolment token (shown once)."""
    try:
        typer.echo(enrolment.issue_token(engine(data_dir), level, note, hours * 3600))
    except Refused as exc:
        _fail(exc)


@app.command()
def join(
    parent: Annotated[str, typer.Option(help="The parent's address (https://…)")],
    token: Annotated[str, typer.Option(help="The token the parent's administrator issued")],
    data_dir: DataOpt = None,
) -> None:
    """Enrol at a parent with its token."""
    eng = engine(data_dir)
    me = identity.load(eng)
    if me is None:
        typer.echo("error: run 'indunet federation init' first", err=True)
        raise typer.Exit(2)
    try:
        name = asyncio.run(enrolment.join(eng, me, parent, token, destinations.check))
    except Refused as exc:
        _fail(exc)
        return
    typer.echo(f"joined {name} at {parent}")


@app.command()
def children(data_dir: DataOpt = None) -> None:
    """The parent and children, their state and backlog."""
    view = Federation(engine(data_dir)).overview()
    me = view["identity"]
    if me is None:
        typer.echo("this instance has no federation identity (indunet federation init)")
        return
    typer.echo(f"{me['name']} ({me['level']}) {me['url']}")
    now = time.time()
    for p in view["peers"]:
        seen = "never" if p["last_contact"] is None else f"{now - p['last_contact']:.0f} s ago"
        typer.echo(
            f"  {p['role']:6} {p['name']:20} {p['level']:10} {p['status']:7} "
            f"backlog {p['backlog']:6}  last contact {seen}  {p['version'] or ''}"
        )


@app.command()
def remove(
    name: Annotated[str, typer.Argument(help="The child instance to remove")],
    data_dir: DataOpt = None,
) -> None:
    """Remove a child: its messages are refused from now on; its history is kept."""
    try:
        waiting = enrolment.remove(engine(data_dir), name, operator().actor)
    except Refused as exc:
        _fail(exc)
        return
    typer.echo(f"removed {name}; {waiting} message(s) to it kept unsent")


@app.command()
def backlog(data_dir: DataOpt = None) -> None:
    """Messages waiting for each peer's acknowledgement."""
    view = Federation(engine(data_dir)).overview()
    for p in view["peers"]:
        typer.echo(f"{p['name']}\t{p['backlog']}")
