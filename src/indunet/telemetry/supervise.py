"""Long-running tasks that do not die quietly: a task that raises is logged and restarted."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def supervised(
    name: str,
    run: Callable[[], Awaitable[None]],
    *,
    pause: float = 0.5,
    on_restart: Callable[[], None] | None = None,
) -> None:
    """Run ``run()`` until it returns; each time it raises, log the error and run it again
    after ``pause`` seconds. Cancelling the supervising task cancels ``run`` and ends it."""
    restarts = 0
    while True:
        try:
            await run()
            return
        except Exception:
            restarts += 1
            log.exception("task %s died (restart %d); restarting in %s s", name, restarts, pause)
            if on_restart is not None:
                on_restart()
            await asyncio.sleep(pause)
