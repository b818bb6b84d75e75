"""Fixtures shared by the integration tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where browser tests save screenshots (``INDUNET_SCREENSHOTS`` keeps them)."""
    out = Path(os.environ.get("INDUNET_SCREENSHOTS") or tmp_path / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out
