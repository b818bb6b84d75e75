"""Sample data for ``indunet demo``: enterprises, a prefix, a template and identifiers."""

from __future__ import annotations

from pathlib import Path

from indunet.web import AppState


def seed(state: AppState, data_dir: Path) -> None:
    """Add the samples once (a second run leaves existing data alone)."""
