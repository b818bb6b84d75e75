"""The root ``indunet`` command and its sub-commands."""

from __future__ import annotations

import sys

import typer

from indunet.cli import serve

app = typer.Typer(
    help="Indunet: software for the industrial internet (工业互联网).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(serve.up)
app.command()(serve.demo)
app.command()(serve.node)


def main() -> None:
    """Entry point of the ``indunet`` script."""
    from indunet.core import IndunetError

    try:
        app()
    except IndunetError as exc:
        typer.secho(f"error: {exc.message}", fg="red", err=True)
        sys.exit(2)
