"""Fixtures shared by the integration tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.integration.browser import SHOTS_DIR


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    """Where a browser test saves its screenshots: one folder per test under
    ``$INDUNET_SCREENSHOTS``, by default ``build/screenshots/`` in the repository."""
    root = Path(os.environ.get("INDUNET_SCREENSHOTS") or SHOTS_DIR)
    out = root / request.node.name.replace("/", "_")[:120]
    out.mkdir(parents=True, exist_ok=True)
    return out
