"""Fixtures of the virtual factory tests: the library models, by id."""

from __future__ import annotations

import pytest

from indunet import devices
from indunet.devices import ThingModel


@pytest.fixture(scope="session")
def models() -> dict[str, ThingModel]:
    return {m.id: m for m in devices.library_models()}
