"""The root ``indunet`` command and its sub-commands."""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from indunet.cli import serve, sim
from indunet.core import IndunetError
from indunet.core.plugins import load
from indunet.web import subsystems


def _fail(exc: IndunetError) -> None:
    typer.secho(f"error: {exc.message}", fg="red", err=True)


class _Commands(TyperGroup):
    """The root group: an ``IndunetError`` becomes ``error: <message>`` and exit code 2."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]  # typer passes its Context
        """Run the command, turning service errors into a message and exit code."""
        try:
            return super().invoke(ctx)
        except IndunetError as exc:
            _fail(exc)
            raise typer.Exit(2) from None


app = typer.Typer(
    rich_markup_mode=None,
    cls=_Commands,
    help="Indunet: software for the industrial internet (工业互联网).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(serve.up)
app.command()(serve.demo)
app.command()(serve.node)
for _sub in subsystems.SUBSYSTEMS:  # each subsystem's command groups, from its descriptor
    for _name, _ref in _sub.cli:
        app.add_typer(load(_ref), name=_name)
app.command(name="sim")(sim.run)


def main() -> None:
    """Entry point of the ``indunet`` script."""
    try:
        app()
    except IndunetError as exc:
        _fail(exc)
        sys.exit(2)
