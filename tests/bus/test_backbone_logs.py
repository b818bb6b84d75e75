"""The backbone never writes its credentials to the log."""

from __future__ import annotations

import asyncio
import logging

import pytest

from indunet.bus.backbone import Backbone
from indunet.bus.subjects import Names


async def test_a_refused_connection_is_logged_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="indunet.bus.backbone")
    bb = Backbone(["nats://svc:hunter2-secret@127.0.0.1:9"], Names("tlogs", 2), connect_timeout=0.2)
    await bb.start()
    try:
        for _ in range(50):
            if "127.0.0.1:9" in caplog.text:
                break
            await asyncio.sleep(0.05)
    finally:
        await bb.close()
    assert "NATS at nats://svc:***@127.0.0.1:9" in caplog.text  # said once, at WARNING
    assert caplog.text.count("NATS at") == 1
    assert "hunter2" not in caplog.text
