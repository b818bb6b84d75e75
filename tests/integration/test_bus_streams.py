"""An installation whose telemetry stream was made with another retention still starts."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from tests.conftest import need_service

from indunet.bus.backbone import Backbone, StreamLimits
from indunet.bus.subjects import Names

pytestmark = pytest.mark.integration
SMALL = 64 * 1024 * 1024


async def test_a_stream_jetstream_will_not_change_is_kept_and_the_process_gets_ready() -> None:
    need_service("NATS", "127.0.0.1", 4222)
    names = Names("t" + uuid.uuid4().hex[:10], 4)
    old = Backbone(
        ["nats://127.0.0.1:4222"],
        names,
        StreamLimits(max_bytes=SMALL, events_max_bytes=SMALL, keep_stored=True),
    )
    new = Backbone(
        ["nats://127.0.0.1:4222"], names, StreamLimits(max_bytes=SMALL, events_max_bytes=SMALL)
    )
    try:
        await old.start()
        assert await old.wait_ready(10)
        await new.start()
        assert await new.wait_ready(10), "a refused stream update must not block readiness"
        info = await new.jetstream().stream_info(names.telemetry_stream)
        assert str(info.config.retention) in ("limits", "RetentionPolicy.LIMITS")  # kept
    finally:
        js = old.js
        if js is not None:
            for stream in (names.telemetry_stream, names.events_stream):
                with contextlib.suppress(Exception):
                    await js.delete_stream(stream)
        await new.close()
        await old.close()
