"""Supervised tasks: one that dies is logged and restarted; one that returns ends."""

from __future__ import annotations

import asyncio
import logging

import pytest

from indunet.telemetry.supervise import supervised


async def test_a_task_that_dies_is_logged_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []
    restarts: list[int] = []

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise OSError(f"disk I/O error {len(runs)}")

    with caplog.at_level(logging.ERROR):
        await asyncio.wait_for(
            supervised("flaky", flaky, pause=0.01, on_restart=lambda: restarts.append(1)), 5
        )
    assert len(runs) == 3 and len(restarts) == 2
    assert caplog.text.count("task flaky died") == 2 and "disk I/O error 2" in caplog.text


async def test_cancelling_the_supervisor_ends_the_task() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    task = asyncio.create_task(supervised("forever", forever))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
