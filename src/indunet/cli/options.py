"""What the operator commands share: their options, the operator principal, files with secrets."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import orjson
import sqlalchemy as sa
import typer

from indunet import ids
from indunet.cli import context
from indunet.core import InvalidInput

DataOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Where data lives [default: ./indunet-data]")
]
NodeOpt = Annotated[
    str, typer.Option("--node", help="The node that holds the records (root, 88, 88.100, …)")
]
DEFAULT_NODE = "88.100"


def engine(data_dir: Path | None) -> sa.Engine:
    """The migrated database of a data directory."""
    return context.database(context.settings(data_dir))


def operator() -> ids.Principal:
    """The node operator at this terminal: may manage everything, audited as ``cli:<user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return ids.Principal(actor=f"cli:{user}", identity=None, prefixes=None)


def read_secret(path: Path, what: str, *, min_length: int = 8) -> str:
    """The first line of a file holding a password or key; a missing or short one is refused."""
    if not path.is_file():
        raise InvalidInput(f"{what} file {str(path)!r} does not exist")
    lines = path.read_text(encoding="utf-8").splitlines()
    secret = lines[0].strip() if lines else ""
    if len(secret) < min_length:
        raise InvalidInput(
            f"the {what} in {str(path)!r} has {len(secret)} characters; "
            f"at least {min_length} are needed"
        )
    return secret


def read_json(path: Path) -> object:
    """A JSON document from a file, or a clear error."""
    if not path.is_file():
        raise InvalidInput(f"file {str(path)!r} does not exist")
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{path.name} is not valid JSON: {exc}") from None


def dump_json(data: object) -> str:
    """Indented JSON for people (non-ASCII kept readable)."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
