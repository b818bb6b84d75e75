"""Waiting out a reconnect delay, cut short when a refusing peer starts accepting.

Backoff caps at 30 s, so a PLC that restarts in 23 s used to wait up to 25 s more for the
next attempt. While the peer *refuses* connections (no listener: the answer is an
immediate RST that costs the peer nothing), a TCP probe every ``PROBE_EVERY`` seconds
watches for the listener to come back, and the wait ends as soon as it does. A peer that
is silent (the probe times out) or already accepting is not probed again: the full delay
applies, so a server that accepts but then fails its handshake is not hammered.
"""

from __future__ import annotations

import asyncio
import contextlib

PROBE_EVERY = 1.0
"""Seconds between probes of a refusing peer."""


async def wait_or_accepting(
    host: str, port: int, delay: float, *, every: float = PROBE_EVERY
) -> bool:
    """Sleep ``delay`` seconds; return True early when ``host:port`` goes refusing → accepting."""
    loop = asyncio.get_running_loop()
    end = loop.time() + delay
    refused = False
    while (left := end - loop.time()) > 0:
        try:
            async with asyncio.timeout(min(every, left)):
                _, writer = await asyncio.open_connection(host, port)
        except ConnectionRefusedError:
            refused = True
            await asyncio.sleep(min(every, max(end - loop.time(), 0.0)))
            continue
        except (OSError, TimeoutError):
            break  # silent or unreachable: asking again costs time and proves nothing
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        if refused:
            return True
        break  # accepting all along: the failure was not the listener's absence
    await asyncio.sleep(max(end - loop.time(), 0.0))
    return False
