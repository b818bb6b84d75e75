"""What every command needs: settings from options and environment, and the opened database."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
import typer
from pydantic import ValidationError

from indunet import ids
from indunet.core import Settings
from indunet.web import open_database

EMBEDDED_NODES = {"root": "", "88": "88", "88.100": "88.100"}


def settings(
    data_dir: Path | None = None,
    host: str | None = None,
    port: int | None = None,
    *,
    role: str | None = None,
    shard: str | None = None,
    handle_port: int | None = None,
) -> Settings:
    """Settings from ``INDUNET_*`` with command-line options on top; a bad value (either
    way) ends the command with the setting's name and what is wrong, not a traceback."""
    overrides: dict[str, object] = {}
    if role is not None:
        overrides["role"] = role
    if shard is not None:
        overrides["shard"] = shard
    if handle_port is not None:
        overrides["handle_port"] = handle_port
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise typer.BadParameter(f"settings: {problems}") from None


def database(s: Settings) -> sa.Engine:
    """Open (and migrate) the database of ``s``."""
    return open_database(s)


def node(engine: sa.Engine, name: str) -> ids.Node:
    """A node held in this data directory, by name (``root``, ``88``, ``88.100`` or a prefix)."""
    prefix = EMBEDDED_NODES.get(name, name)
    role = {"": ids.NodeRole.ROOT, "88": ids.NodeRole.TOP_LEVEL}.get(prefix)
    if role is None:
        role = ids.NodeRole.SECONDARY if prefix.count(".") == 1 else ids.NodeRole.ENTERPRISE
    primary = ids.primary_of(engine, name)  # a disaster-recovery copy: read-only here too
    if primary is not None:
        role = ids.NodeRole.DR
    return ids.Node(name, role, prefix, engine, ids.TemplateRegistry(engine), copy_of=primary)
